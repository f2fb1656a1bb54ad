"""Per-process state the registry pages share: one open reader per snapshot, and import jobs.

A reader holds a DuckDB connection over the snapshot in force; it is reused until the snapshot
or the overrides change. Queries on it are serialised with a lock (a DuckDB connection is not
safe for concurrent use from several threads).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chanye.config import Settings
from chanye.policy.service import rerun_after_registry_change
from chanye.registry.context import RegistryContext
from chanye.registry.housekeeping import discard_refused_upload, tidy
from chanye.registry.importer import ImportResult, import_file
from chanye.registry.queries import RegistryReader
from chanye.registry.storage import RegistryBusyError, RegistryPaths
from chanye.store.audit import Actor


class ReaderCache:
    def warm_up(self, settings: Settings) -> None:
        """Open the reader in the background at start-up: at city scale loading the search
        columns takes seconds, which the first visitor should not wait for."""

        def run() -> None:
            try:
                with self.reader(RegistryContext.from_settings(settings)):
                    pass
            except Exception:  # a database not migrated yet: the first request will say so
                return

        threading.Thread(target=run, name="registry-warm-up", daemon=True).start()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: object = None
        self._reader: RegistryReader | None = None

    @contextmanager
    def reader(self, context: RegistryContext) -> Iterator[RegistryReader]:
        snapshot, overrides = context.state()
        key = (snapshot, repr(overrides))
        with self._lock:
            if self._reader is None or key != self._key:
                if self._reader is not None:
                    self._reader.close()
                self._reader = RegistryReader(context.paths, snapshot, overrides)
                self._key = key
            yield self._reader


@dataclass
class ImportJob:
    id: str
    file_name: str
    stage: str = "排队 / queued"
    fraction: float = 0.0
    result: ImportResult | None = None
    error: str | None = None
    done: bool = False


@dataclass
class ImportJobs:
    """Imports started from the web page run in a thread; the page polls their progress."""

    jobs: dict[str, ImportJob] = field(default_factory=dict)

    def start(self, settings: Settings, path: Path, display_name: str, actor: Actor,
              strict: bool) -> ImportJob:  # fmt: skip
        job = ImportJob(id=uuid.uuid4().hex, file_name=display_name)
        self.jobs[job.id] = job

        def progress(stage: str, fraction: float) -> None:
            job.stage, job.fraction = stage, fraction

        def run() -> None:
            try:
                context = RegistryContext.from_settings(settings)
                job.result = import_file(context.database_url, context.paths, context.system,
                                         path, actor, strict=strict, progress=progress,
                                         limits=context.limits)  # fmt: skip
                if job.result.inserted or job.result.updated:
                    progress("重新匹配已发布政策 / re-matching published policies", 1.0)
                    rerun_after_registry_change(context, actor)
            except RegistryBusyError as exc:
                job.error = str(exc)
            except Exception as exc:  # shown to the user; the import itself changed nothing
                job.error = f"导入失败 / import failed: {exc}"
            finally:
                discard_refused_upload(path, job.result.status if job.result else None)
                tidy(RegistryPaths.under(settings.data_dir), settings.registry_uploads_dir,
                     settings.upload_retention_days)  # fmt: skip
                job.done, job.fraction = True, 1.0

        threading.Thread(target=run, name=f"import-{job.id}", daemon=True).start()
        return job
