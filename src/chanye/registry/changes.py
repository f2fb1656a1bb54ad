"""Registry changes other than imports: undo one (rollback) — and undo an undo (redo) — with its
consequence counted first, and re-classify everything."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.problems import ReasonRefusedError
from chanye.registry.classify import (
    build_rules,
)
from chanye.registry.events import ChangeKind, registry_change
from chanye.registry.facts import count_facts
from chanye.registry.importer import recover_killed_changes
from chanye.registry.snapshot import SnapshotWriter
from chanye.registry.storage import (
    SUCCEEDED,
    UNDO_KINDS,
    RegistryPaths,
    change_in_force,
    connect,
    in_effect,
    snapshot_source,
    writer_lock,
)
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.models import RegistryChange, utcnow
from chanye.system.model import IndustrialSystem


class ChangeRefusedError(ReasonRefusedError):
    """The change asked for cannot be made; ``zh`` and ``en`` say why."""


STATUS_LABELS = {"done": "已生效", "failed": "失败", "rolled_back": "已撤销", "running": "进行中"}


@dataclass(frozen=True)
class RollbackPlan:
    """What undoing a change would do, counted before anything is done."""

    change_id: int
    kind: str  # of the change undone
    in_force: int  # the change in force when planned: the undo refuses if another came since
    undone: list[int]  # the change and the later ones built on it, leaving effect
    revived: list[int]  # changes an undone undo had undone, back in effect (redo)
    snapshot_now: str | None
    snapshot_after: str | None
    deleted: int = 0  # enterprises in the registry now, not after
    restored: int = 0  # enterprises back that are not in the registry now
    reverted: int = 0  # enterprises in both, whose values go back
    total_after: int = 0
    withdrawn: int = 0  # undecided pushes of deleted enterprises (withdrawn by the re-match)
    facts_removed: int = 0  # facts over time (figures, 快报 values, qualifications) undone
    facts_back: int = 0  # those an undone undo had undone, back in force

    @property
    def later(self) -> list[int]:
        return [i for i in self.undone if i != self.change_id]

    def sentence(self) -> str:
        """The consequence, as the confirmation states it."""
        what = f"第 {self.change_id} 次变更" + (
            "（一次撤销，撤销它即重做）" if self.kind in UNDO_KINDS else ""
        )
        later = f"及其后 {len(self.later)} 次变更" if self.later else ""
        facts = self.facts_removed or self.facts_back
        parts = (
            [f"删除 {self.deleted:,} 家企业", f"恢复 {self.restored:,} 家"]
            if self.deleted or self.restored or not facts
            else []
        )
        if self.reverted:
            parts.append(f"{self.reverted:,} 家企业的数据改回变更前")
        if facts:
            parts.append(f"移除 {self.facts_removed:,} 条历年数据、快报或资质")
        if self.facts_back:
            parts.append(f"恢复 {self.facts_back:,} 条")
        parts.append(f"撤回 {self.withdrawn:,} 条待确认推送")
        revived = f"；第 {'、'.join(map(str, self.revived))} 次变更重新生效" if self.revived else ""
        return f"将撤销{what}{later}：{'，'.join(parts)}{revived}。撤销后企业库共 {self.total_after:,} 家企业。"


def _plan(session: Session, change_id: int) -> RollbackPlan:
    target = session.get(RegistryChange, change_id)
    if target is None:
        raise ChangeRefusedError(
            f"没有编号为 {change_id} 的变更", f"no registry change {change_id}"
        )
    changes = session.scalars(select(RegistryChange)).all()
    effect = in_effect(changes)
    current = change_in_force(session)
    now = effect[current.id] if current else frozenset()
    if change_id not in now:
        label = STATUS_LABELS.get(target.status, target.status)
        raise ChangeRefusedError(
            f"第 {change_id} 次变更的状态为“{label}”，不能撤销",
            f"change {change_id} is {target.status} ({target.kind}): nothing to undo",
        )
    undone = sorted(i for i in now if i >= change_id)
    # After the undo the registry holds what it held before the change (and the undo itself).
    earlier = [c.id for c in changes if c.id < change_id and c.status in SUCCEEDED]
    after = effect[max(earlier)] if earlier else frozenset()
    revived = sorted(after - now)
    assert current is not None  # a change in effect means one is in force
    return RollbackPlan(
        change_id,
        target.kind,
        current.id,
        undone,
        revived,
        current.snapshot_after,
        target.snapshot_before,
    )


def plan_rollback(
    database_url: str, paths: RegistryPaths, change_id: int, watched: Sequence[str] = ()
) -> RollbackPlan:
    """What undoing ``change_id`` would do; ``watched`` are the USCCs of undecided pushes (one per
    push), of which those whose enterprise leaves the registry are counted as withdrawn."""
    with session_scope(database_url) as session:
        plan = _plan(session, change_id)
    con = connect(paths, threads=1)
    try:
        now = snapshot_source(paths, plan.snapshot_now)
        then = snapshot_source(paths, plan.snapshot_after)
        con.register("watched_usccs", pa.table({"uscc": pa.array(list(watched), pa.string())}))
        row = con.execute(f"""
            WITH now AS (SELECT uscc, change_id FROM {now}),
                 after AS (SELECT uscc, change_id FROM {then})
            SELECT (SELECT count(*) FROM now WHERE uscc NOT IN (SELECT uscc FROM after)),
                   (SELECT count(*) FROM after WHERE uscc NOT IN (SELECT uscc FROM now)),
                   (SELECT count(*) FROM now JOIN after USING (uscc)
                     WHERE now.change_id IS DISTINCT FROM after.change_id),
                   (SELECT count(*) FROM after),
                   (SELECT count(*) FROM watched_usccs
                     WHERE uscc NOT IN (SELECT uscc FROM after))""").fetchone()
    finally:
        con.close()
    deleted, restored, reverted, total, withdrawn = (int(n) for n in row or (0,) * 5)
    return replace(
        plan,
        deleted=deleted,
        restored=restored,
        reverted=reverted,
        total_after=total,
        withdrawn=withdrawn,
        facts_removed=count_facts(paths, plan.undone),
        facts_back=count_facts(paths, plan.revived),
    )


@dataclass(frozen=True)
class RollbackResult:
    change_id: int
    undone: list[int]
    total_after: int
    revived: list[int]


def rollback(
    database_url: str,
    paths: RegistryPaths,
    change_id: int,
    actor: Actor,
    planned_in_force: int | None = None,
) -> RollbackResult:
    """Restore the registry as it was before change ``change_id``.

    Changes made after it are undone too (their rows were built on top of it); they are listed.
    Undoing an undo is a redo: what it undid is back in effect. With ``planned_in_force`` (the
    change in force when the consequence was shown), refuse if the registry changed since.
    """
    with registry_change(database_url, paths, actor) as change, writer_lock(paths):
        recover_killed_changes(database_url, paths)
        with session_scope(database_url) as session:
            plan = _plan(session, change_id)
            if planned_in_force is not None and planned_in_force != plan.in_force:
                raise ChangeRefusedError(
                    "确认之后企业库又有了新的变更，请重新查看撤销的后果后再确认",
                    "the registry changed since the consequence was shown: confirm again",
                )
            target = session.get_one(RegistryChange, change_id)
            redo = target.kind == "rollback"  # undoing an undo brings back what it undid
            total = _count(paths, plan.snapshot_after)
            undo = RegistryChange(
                kind="redo" if redo else "rollback",
                status="done",
                actor=actor.name,
                undoes=change_id,
                snapshot_before=plan.snapshot_now,
                snapshot_after=plan.snapshot_after,
                total_after=total,
                finished_at=utcnow(),
                message=f"撤销第 {change_id} 次变更" + ("（重做它撤销的变更）" if redo else ""),
            )
            session.add(undo)
            session.flush()
            _settle_statuses(session)
            record(
                session,
                actor,
                "registry.redo" if redo else "registry.rollback",
                "registry_change",
                str(change_id),
                before={"snapshot": plan.snapshot_now, "in_force": plan.in_force},
                after={
                    "snapshot": plan.snapshot_after,
                    "undone": plan.undone,
                    "revived": plan.revived,
                    "change": undo.id,
                },
            )
            result = RollbackResult(undo.id, plan.undone, total, plan.revived)
        change.took_effect(result.change_id, ChangeKind.REDO if redo else ChangeKind.ROLLBACK)
    return result


def _settle_statuses(session: Session) -> None:
    """Every change that took effect is 已生效 if the registry in force holds its work, else
    已撤销 (a redo brings changes back, an undo takes them away)."""
    changes = session.scalars(select(RegistryChange)).all()
    effect = in_effect(changes)
    current = change_in_force(session)
    held = effect[current.id] if current else frozenset()
    for change in changes:
        if change.status in SUCCEEDED:
            change.status = "done" if change.id in held else "rolled_back"


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
    with registry_change(database_url, paths, actor) as published, writer_lock(paths):
        recover_killed_changes(database_url, paths)
        with session_scope(database_url) as session:
            current = change_in_force(session)
            change = RegistryChange(
                kind="classify",
                status="running",
                actor=actor.name,
                snapshot_before=current.snapshot_after if current else None,
            )
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
            differs = (
                "c.industries IS DISTINCT FROM coalesce(k.industries, []::VARCHAR[]) "
                "OR c.chain_links IS DISTINCT FROM coalesce(k.chain_links, []::VARCHAR[])"
            )
            writer = SnapshotWriter(con, paths, after)
            rows = writer.classify(
                build_rules(system),
                "current_rows",
                f"CASE WHEN {differs} THEN {change_id} ELSE c.change_id END",
            )
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
            record(
                session,
                actor,
                "registry.classify",
                "registry_change",
                str(change_id),
                before={"snapshot": before},
                after={"snapshot": after, "changed": changed},
            )
        result = ClassifyResult(change_id, rows, changed, time.perf_counter() - started)
        if changed:
            published.took_effect(change_id, ChangeKind.RECLASSIFY)
    return result
