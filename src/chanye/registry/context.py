"""Everything a registry operation needs, built once from the settings: the CLI and the web app
both start here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chanye.config import Settings
from chanye.registry.housekeeping import tidy
from chanye.registry.queries import RegistryReader
from chanye.registry.reading import ReadLimits
from chanye.registry.storage import RegistryPaths, change_in_force, overrides_rows
from chanye.store.database import session_scope
from chanye.system.model import IndustrialSystem
from chanye.system.versions import system_in_force


@dataclass(frozen=True)
class RegistryContext:
    database_url: str
    paths: RegistryPaths
    system: IndustrialSystem
    limits: ReadLimits = field(default_factory=ReadLimits)
    uploads: Path | None = None  # the web page's uploads, deleted after the retention period
    upload_retention_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryContext:
        url = settings.resolved_database_url
        with session_scope(url) as session:
            system = system_in_force(session)
        limits = ReadLimits(xlsx_rows=settings.max_xlsx_rows,
                            xlsx_expanded_bytes=settings.max_xlsx_expanded_mb << 20)  # fmt: skip
        return cls(url, RegistryPaths.under(settings.data_dir), system, limits,
                   settings.registry_uploads_dir, settings.upload_retention_days)  # fmt: skip

    def tidy(self) -> None:
        """Clear what killed changes left and uploads past their retention (see housekeeping)."""
        tidy(self.paths, self.uploads, self.upload_retention_days)

    def kinds(self) -> dict[str, str]:
        return {ind.id: kind for kind, ind in self.system.industries()}

    def state(self) -> tuple[str | None, list[tuple[str, list[str], list[str], list[str]]]]:
        """What a reader shows: the snapshot in force and the overrides on top of it."""
        with session_scope(self.database_url) as session:
            change = change_in_force(session)
            overrides = overrides_rows(session, self.kinds())
        return (change.snapshot_after if change else None), overrides

    def reader(self) -> RegistryReader:
        return RegistryReader(self.paths, *self.state())
