"""Registry changes other than imports: undo one (rollback) and re-classify everything."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from chanye.registry.classify import (
    build_rules,
)
from chanye.registry.importer import recover_killed_changes
from chanye.registry.snapshot import SnapshotWriter
from chanye.registry.storage import (
    RegistryPaths,
    change_in_force,
    connect,
    snapshot_source,
    writer_lock,
)
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.models import RegistryChange, utcnow
from chanye.system.model import IndustrialSystem


class ChangeRefusedError(Exception):
    """The change asked for cannot be made; ``zh`` and ``en`` say why."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")


@dataclass(frozen=True)
class RollbackResult:
    change_id: int
    undone: list[int]
    total_after: int


def rollback(
    database_url: str, paths: RegistryPaths, change_id: int, actor: Actor
) -> RollbackResult:
    """Restore the registry as it was before change ``change_id``.

    Changes made after it are undone too (their rows were built on top of it); they are listed.
    """
    with writer_lock(paths):
        recover_killed_changes(database_url, paths)
        with session_scope(database_url) as session:
            target = session.get(RegistryChange, change_id)
            if target is None:
                raise ChangeRefusedError(
                    f"没有编号为 {change_id} 的导入", f"no registry change {change_id}"
                )
            if target.status != "done" or target.kind == "rollback":
                raise ChangeRefusedError(
                    f"第 {change_id} 号变更的状态为“{target.status}”，不能撤销",
                    f"change {change_id} is {target.status} ({target.kind}): nothing to undo",
                )
            current = change_in_force(session)
            later = session.scalars(
                select(RegistryChange).where(
                    RegistryChange.status == "done", RegistryChange.id > change_id
                )
            ).all()
            restored = target.snapshot_before
            total = _count(paths, restored)
            undo = RegistryChange(
                kind="rollback", status="done", actor=actor.name, undoes=change_id,
                snapshot_before=current.snapshot_after if current else None,
                snapshot_after=restored, total_after=total, finished_at=utcnow(),
                message=f"撤销第 {change_id} 号变更 / undo change {change_id}",
            )  # fmt: skip
            session.add(undo)
            undone = [target.id, *(c.id for c in later)]
            for change in [target, *later]:
                change.status = "rolled_back"
            session.flush()
            record(session, actor, "registry.rollback", "registry_change", str(change_id),
                   before={"snapshot": undo.snapshot_before},
                   after={"snapshot": restored, "undone": undone})  # fmt: skip
            return RollbackResult(undo.id, undone, total)


def _count(paths: RegistryPaths, relative: str | None) -> int:
    con = connect(paths, threads=1)
    try:
        row = con.execute(f"SELECT count(*) FROM {snapshot_source(paths, relative)}").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


@dataclass(frozen=True)
class ClassifyResult:
    change_id: int
    enterprises: int
    changed: int
    seconds: float


def reclassify(
    database_url: str, paths: RegistryPaths, system: IndustrialSystem, actor: Actor
) -> ClassifyResult:
    """Re-run classification over the whole registry (after the system file changed)."""
    started = time.perf_counter()
    with writer_lock(paths):
        recover_killed_changes(database_url, paths)
        with session_scope(database_url) as session:
            current = change_in_force(session)
            change = RegistryChange(kind="classify", status="running", actor=actor.name,
                                    snapshot_before=current.snapshot_after if current else None)  # fmt: skip
            session.add(change)
            session.flush()
            change_id, before = change.id, change.snapshot_before
        after = paths.new_snapshot_name(change_id)
        con = connect(paths)
        try:
            old = snapshot_source(paths, before)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE current_keys AS SELECT uscc, row_number() OVER () AS __row FROM {old}"
            )
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW current_rows AS SELECT k.__row, o.* FROM {old} o JOIN current_keys k USING (uscc)"
            )
            # A row whose placement changes is attributed to this change; the others keep theirs.
            differs = ("c.industries IS DISTINCT FROM coalesce(k.industries, []::VARCHAR[]) "
                       "OR c.chain_links IS DISTINCT FROM coalesce(k.chain_links, []::VARCHAR[])")  # fmt: skip
            writer = SnapshotWriter(con, paths, after)
            rows = writer.classify(build_rules(system), "current_rows",
                                   f"CASE WHEN {differs} THEN {change_id} ELSE c.change_id END")  # fmt: skip
            writer.commit()
            changed_row = con.execute(
                f"SELECT count(*) FROM {snapshot_source(paths, after)} WHERE change_id = {change_id}"
            ).fetchone()
            changed = int(changed_row[0]) if changed_row else 0
        finally:
            con.close()
        with session_scope(database_url) as session:
            change = session.get_one(RegistryChange, change_id)
            change.status, change.finished_at, change.snapshot_after = "done", utcnow(), after
            change.rows_read, change.updated, change.total_after = rows, changed, rows
            record(session, actor, "registry.classify", "registry_change", str(change_id),
                   before={"snapshot": before}, after={"snapshot": after, "changed": changed})  # fmt: skip
    return ClassifyResult(change_id, rows, changed, time.perf_counter() - started)
