"""Imports started from the web page: each a row of ``import_jobs``, run by a process of its own.

The web worker that accepts the upload records the job and starts the process; the process runs
the same ``import_file`` as ``chanye registry import`` and writes its progress to the row, so any
web worker can show it, and a crash or a bomb of a file costs the import process, not the server.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import ImportJobRecord, utcnow

QUEUED = "排队"
# Progress is written at most this often (in fractions of the whole): a row per percent.
PROGRESS_STEP = 0.01


@dataclass(frozen=True)
class ImportJobView:
    """What a progress page shows of a job (``result``: the import's outcome, as a dict)."""

    id: str
    file_name: str
    stage: str
    fraction: float
    done: bool
    error: str | None
    result: dict[str, Any] | None


def create_job(
    session: Session, file_name: str, stored: Path, actor: Actor, *, strict: bool
) -> str:
    job = ImportJobRecord(
        id=uuid.uuid4().hex,
        file_name=file_name,
        stored_path=str(stored),
        strict=strict,
        started_by=actor.name,
        started_by_role=actor.role,
        client_addr=actor.client_addr,
        stage=QUEUED,
        fraction=0.0,
        done=False,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(job)
    session.flush()
    return job.id


def find_job(session: Session, job_id: str) -> ImportJobView | None:
    row = session.get(ImportJobRecord, job_id)
    if row is None:
        return None
    result = json.loads(row.result) if row.result else None
    return ImportJobView(
        row.id, row.file_name, row.stage, row.fraction, row.done, row.error, result
    )


def job_actor(row: ImportJobRecord) -> Actor:
    return Actor(row.started_by, row.started_by_role, row.client_addr)


class ProgressWriter:
    """The ``progress`` callback of an import, writing to the job's row (not on every call:
    an import reports far more often than a page polls)."""

    def __init__(self, database_url: str, job_id: str) -> None:
        self.database_url, self.job_id = database_url, job_id
        self._last: tuple[str, float] | None = None

    def __call__(self, stage: str, fraction: float) -> None:
        if self._last and self._last[0] == stage and fraction - self._last[1] < PROGRESS_STEP:
            return
        self._last = (stage, fraction)
        self._write(stage=stage, fraction=fraction)

    def finish(self, *, outcome: dict[str, Any] | None = None, error: str | None = None) -> None:
        result = json.dumps(_plain(outcome), ensure_ascii=False) if outcome is not None else None
        self._write(result=result, error=error, done=True, fraction=1.0)

    def _write(self, **values: object) -> None:
        with session_scope(self.database_url) as session:
            session.execute(
                update(ImportJobRecord)
                .where(ImportJobRecord.id == self.job_id)
                .values(updated_at=utcnow(), **values)
            )


def mark_failed(database_url: str, job_id: str, message: str) -> None:
    """A job whose process ended without finishing it (killed, out of memory)."""
    with session_scope(database_url) as session:
        session.execute(
            update(ImportJobRecord)
            .where(ImportJobRecord.id == job_id, ImportJobRecord.done.is_(False))
            .values(error=message, done=True, fraction=1.0, updated_at=utcnow())
        )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
