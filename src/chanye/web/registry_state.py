"""State the registry pages share: one open reader per snapshot and process, and import jobs
(in the database, shared by every process).

The reader belongs to the process's registry view (one per snapshot and overrides, replaced when
they change). Queries on it are serialised with a lock (a DuckDB connection is not safe for
concurrent use from several threads).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.jobs import create_job, mark_failed
from chanye.registry.queries import RegistryReader, shared_reader
from chanye.registry.view import registry_view
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

    @contextmanager
    def reader(self, context: RegistryContext) -> Iterator[RegistryReader]:
        """The reader of the process's registry view (``chanye.registry.view``): the policy
        pages read the same view, so the registry is held once per process."""
        view = registry_view(context)
        with self._lock:
            yield shared_reader(view)


class ImportJobs:
    """Imports started from the web page: recorded in the database and run by a process of their
    own (``chanye.web.import_runner``), whose progress any web worker can read."""

    def start(
        self,
        session: Session,
        settings: Settings,
        path: Path,
        display_name: str,
        actor: Actor,
        strict: bool,
    ) -> str:
        job_id = create_job(session, display_name, path, actor, strict=strict)
        session.commit()  # the process reads the job's row
        environment = {**os.environ, **settings.environment()}
        logs = settings.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        log = (logs / f"import-{job_id}.log").open("wb")  # what the import process says
        process = subprocess.Popen(
            [sys.executable, "-m", "chanye.web.import_runner", job_id],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        database_url = settings.resolved_database_url

        def reap() -> None:
            # A process killed (by the kernel, or a person) cannot say so itself.
            code = process.wait()
            log.close()
            if code != 0:
                mark_failed(
                    database_url, job_id, f"导入进程异常退出（代码 {code}），未导入任何数据"
                )

        threading.Thread(target=reap, name=f"import-{job_id}", daemon=True).start()
        return job_id
