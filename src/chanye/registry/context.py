"""Everything a registry operation needs, built once from the settings: the CLI and the web app
both start here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.registry.facts import Facts
from chanye.registry.housekeeping import tidy
from chanye.registry.queries import RegistryReader
from chanye.registry.reading import ReadLimits
from chanye.registry.storage import RegistryPaths, change_in_force, overrides_rows
from chanye.registry.view import RegistryView
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
    # A web request's own session: reading the state through it, the request never needs a second
    # database connection. Without one (commands, background work) each read opens its own.
    session: Session | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, session: Session | None = None) -> RegistryContext:
        url = settings.resolved_database_url
        paths = RegistryPaths.under(settings.data_dir)
        limits = ReadLimits(
            xlsx_rows=settings.max_xlsx_rows,
            xlsx_expanded_bytes=settings.max_xlsx_expanded_mb << 20,
        )
        if session is not None:
            system = system_in_force(session)
        else:
            with session_scope(url) as own:
                system = system_in_force(own)
        return cls(
            url,
            paths,
            system,
            limits=limits,
            uploads=settings.registry_uploads_dir,
            upload_retention_days=settings.upload_retention_days,
            session=session,
        )

    @classmethod
    def at(cls, database_url: str, paths: RegistryPaths) -> RegistryContext:
        """The registry in ``database_url`` and ``paths``, under the system in force there."""
        with session_scope(database_url) as session:
            return cls(database_url, paths, system_in_force(session))

    def tidy(self) -> None:
        """Clear what killed changes left and uploads past their retention (see housekeeping)."""
        tidy(self.paths, self.uploads, self.upload_retention_days)

    def kinds(self) -> dict[str, str]:
        return {ind.id: kind for kind, ind in self.system.industries()}

    def state(self) -> tuple[str | None, list[tuple[str, list[str], list[str], list[str]]]]:
        """What a reader shows: the snapshot in force and the overrides on top of it."""
        if self.session is not None:
            return self._state_in(self.session)
        with session_scope(self.database_url) as session:
            return self._state_in(session)

    def _state_in(
        self, session: Session
    ) -> tuple[str | None, list[tuple[str, list[str], list[str], list[str]]]]:
        change = change_in_force(session)
        overrides = overrides_rows(session, self.kinds())
        return (change.snapshot_after if change else None), overrides

    def facts(self) -> Facts:
        """The facts over time in force (annual figures, 快报, qualifications)."""
        if self.session is not None:
            return Facts.in_force(self.session, self.paths)
        with session_scope(self.database_url) as session:
            return Facts.in_force(session, self.paths)

    def reader(self) -> RegistryReader:
        """A reader of its own (the caller closes it), over a view of the registry in force."""
        return RegistryReader(RegistryView(self.paths, *self.state()))
