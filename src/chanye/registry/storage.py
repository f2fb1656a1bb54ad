"""Where the registry lives: one Parquet snapshot per change under ``<data dir>/registry``.

The snapshot in force is named by the newest ``registry_changes`` row whose status is ``done``:
a change takes effect when that row commits, never before, so a killed import leaves the
registry exactly as it was. Readers get a DuckDB view ``enterprises`` over the snapshot with the
analysts' classification overrides applied on top.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.registry.fields import CATALOGUE
from chanye.store.models import ClassificationOverride, RegistryChange

# Columns of a snapshot, in order, with their DuckDB types (from the field catalogue): what
# imports write, then what classification writes.
RECORD_COLUMNS: dict[str, str] = {
    f.name: f.storage for f in CATALOGUE if f.storage is not None and not f.classification
}
CLASSIFICATION_COLUMNS: dict[str, str] = {
    f.name: f.storage for f in CATALOGUE if f.storage is not None and f.classification
}
SNAPSHOT_COLUMNS: dict[str, str] = {
    **RECORD_COLUMNS,
    **CLASSIFICATION_COLUMNS,
    "change_id": "BIGINT",  # the change that last wrote the row: where its values came from
}
# Evidence parts beside the records: one row per enterprise, industry and code or keyword.
EVIDENCE_COLUMNS: dict[str, str] = {
    "uscc": "VARCHAR",
    "industry": "VARCHAR",
    "link": "VARCHAR",
    "via": "VARCHAR",  # code / keyword
    "value": "VARCHAR",
    "confidence": "DOUBLE",  # of the enterprise's placement in that industry
}
VIEW = "enterprises"
EVIDENCE_VIEW = "enterprise_evidence"
DUCKDB_MEMORY_LIMIT = "2GB"


class RegistryBusyError(Exception):
    """Another process is changing the registry."""


@dataclass(frozen=True)
class RegistryPaths:
    root: Path

    @classmethod
    def under(cls, data_dir: Path) -> RegistryPaths:
        return cls(data_dir / "registry")

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def scratch(self) -> Path:
        return self.root / "tmp"

    def snapshot(self, relative: str) -> Path:
        return self.root / relative

    def new_snapshot_name(self, change_id: int) -> str:
        return f"snapshots/registry-{change_id:06d}"

    def ensure(self) -> None:
        self.snapshots.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def writer_lock(paths: RegistryPaths) -> Iterator[None]:
    """One writer at a time; a second import fails at once with a clear message."""
    paths.ensure()
    with (paths.root / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RegistryBusyError(
                "另一项企业库变更正在进行，请稍后再试 / another registry change is running"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def change_in_force(session: Session) -> RegistryChange | None:
    return session.scalar(
        select(RegistryChange)
        .where(RegistryChange.status == "done")
        .order_by(RegistryChange.id.desc())
        .limit(1)
    )


SUCCEEDED = ("done", "rolled_back")  # changes that took effect (and may have been undone since)
UNDO_KINDS = ("rollback", "redo")


def in_effect(changes: Sequence[RegistryChange]) -> dict[int, frozenset[int]]:
    """For each change that took effect, the changes whose work the registry held right after it.

    A change builds on the one in force before it (the newest that took effect); an undo (or a
    redo, the undo of an undo) goes back to what was in force before the change it undoes.
    """
    effect: dict[int, frozenset[int]] = {}
    before: dict[int, frozenset[int]] = {}  # what was in effect when each change was made
    newest: frozenset[int] = frozenset()
    for change in sorted(changes, key=lambda c: c.id):
        if change.status not in SUCCEEDED:
            continue
        before[change.id] = newest
        undone = change.undoes if change.kind in UNDO_KINDS else None
        start = before.get(undone, newest) if undone is not None else newest
        newest = effect[change.id] = start | {change.id}
    return effect


def connect(paths: RegistryPaths, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to the registry's scratch directory."""
    paths.ensure()
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = '{paths.scratch}'")
    con.execute("SET preserve_insertion_order = true")
    if threads:
        con.execute(f"SET threads = {threads}")
    return con


def _empty(columns: dict[str, str]) -> str:
    return "(SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items()) + " WHERE false)"


def _parts(paths: RegistryPaths, relative: str, kind: str) -> str:
    folder = str(paths.snapshot(relative)).replace("'", "''")
    return f"read_parquet('{folder}/{kind}-*.parquet')"


def snapshot_source(paths: RegistryPaths, relative: str | None) -> str:
    """SQL for the enterprises of a snapshot (empty, with the right columns, when there is none)."""
    return _empty(SNAPSHOT_COLUMNS) if relative is None else _parts(paths, relative, "records")


def evidence_source(paths: RegistryPaths, relative: str | None) -> str:
    return _empty(EVIDENCE_COLUMNS) if relative is None else _parts(paths, relative, "evidence")


def overrides_rows(
    session: Session, kinds: dict[str, str]
) -> list[tuple[str, list[str], list[str], list[str]]]:
    rows = []
    for override in session.scalars(select(ClassificationOverride)):
        industries: list[str] = json.loads(override.industries)
        clusters = [i for i in industries if kinds.get(i) == "cluster"]
        rows.append((override.uscc, industries, clusters, json.loads(override.chain_links)))
    return rows


def create_view(
    con: duckdb.DuckDBPyConnection,
    paths: RegistryPaths,
    relative: str | None,
    overrides: list[tuple[str, list[str], list[str], list[str]]],
) -> None:
    """View ``enterprises``: the snapshot with overrides applied (column ``overridden`` says so)."""
    con.execute(
        "CREATE OR REPLACE TABLE overrides (uscc VARCHAR PRIMARY KEY, industries VARCHAR[], "
        "clusters VARCHAR[], chain_links VARCHAR[])"
    )
    if overrides:
        con.executemany("INSERT INTO overrides VALUES (?, ?, ?, ?)", [list(r) for r in overrides])
    con.execute(
        f"""
        CREATE OR REPLACE VIEW {VIEW} AS
        SELECT s.* REPLACE (
                   coalesce(o.industries, s.industries) AS industries,
                   coalesce(o.clusters, s.clusters) AS clusters,
                   coalesce(o.chain_links, s.chain_links) AS chain_links),
               o.uscc IS NOT NULL AS overridden
        FROM {snapshot_source(paths, relative)} s LEFT JOIN overrides o USING (uscc)
        """
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {EVIDENCE_VIEW} AS SELECT * FROM {evidence_source(paths, relative)}"
    )
