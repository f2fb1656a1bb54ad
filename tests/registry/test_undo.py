"""Undo with its consequence counted first, and redo (the undo of an undo), in the domain and
as ``chanye registry rollback`` (a process: it asks, or refuses without a terminal)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from chanye.registry.changes import ChangeRefusedError, plan_rollback, rollback
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry, RegistryChange
from tests.conftest import run_cli
from tests.registry.conftest import ANALYST
from tests.registry.factory import row, uscc, write_csv


def _import(context: RegistryContext, path: Path) -> None:
    result = import_file(context.database_url, context.paths, context.system, path, ANALYST)
    assert result.status == "done", result.message


def _statuses(context: RegistryContext) -> list[tuple[int, str, str]]:
    with session_scope(context.database_url) as session:
        changes = session.scalars(select(RegistryChange).order_by(RegistryChange.id)).all()
        return [(c.id, c.kind, c.status) for c in changes]


def _total(context: RegistryContext) -> int:
    reader = context.reader()
    try:
        return reader.count()
    finally:
        reader.close()


def test_the_consequence_is_counted_before_anything_is_done(
    context: RegistryContext, tmp_path: Path
) -> None:
    _import(context, write_csv(tmp_path / "a.csv", [row(1), row(2), row(3)]))
    _import(context, write_csv(tmp_path / "b.csv", [row(3, **{"营业收入（万元）": "1"}), row(4)]))
    # Two undecided pushes to enterprise 4 (two policies), one to enterprise 1.
    plan = plan_rollback(context.database_url, context.paths, 1, [uscc(4), uscc(4), uscc(1)])
    assert (plan.undone, plan.later, plan.deleted, plan.restored) == ([1, 2], [2], 4, 0)
    assert plan.withdrawn == 3 and plan.total_after == 0
    assert plan.sentence().startswith(
        "将撤销第 1 次变更及其后 1 次变更：删除 4 家企业，恢复 0 家，撤回 3 条待确认推送"
    )
    later = plan_rollback(context.database_url, context.paths, 2, [uscc(4), uscc(1)])
    assert (later.deleted, later.restored, later.reverted, later.withdrawn) == (1, 0, 1, 1)
    assert "1 家企业的数据改回变更前" in later.sentence()
    assert _total(context) == 4  # planning changed nothing
    assert [s for _, _, s in _statuses(context)] == ["done", "done"]


def test_an_undo_can_be_undone_and_that_redo_too(context: RegistryContext, tmp_path: Path) -> None:
    _import(context, write_csv(tmp_path / "a.csv", [row(1), row(2)]))
    _import(context, write_csv(tmp_path / "b.csv", [row(3)]))
    undo = rollback(context.database_url, context.paths, 1, ANALYST)
    assert (undo.change_id, undo.undone, undo.total_after) == (3, [1, 2], 0)
    assert _statuses(context) == [
        (1, "import", "rolled_back"),
        (2, "import", "rolled_back"),
        (3, "rollback", "done"),
    ]

    plan = plan_rollback(context.database_url, context.paths, 3)
    assert (plan.restored, plan.deleted, plan.revived) == (3, 0, [1, 2])
    assert "第 1、2 次变更重新生效" in plan.sentence()
    redo = rollback(context.database_url, context.paths, 3, ANALYST)
    assert (redo.change_id, redo.revived, redo.total_after) == (4, [1, 2], 3)
    assert _total(context) == 3
    assert _statuses(context) == [
        (1, "import", "done"),
        (2, "import", "done"),
        (3, "rollback", "rolled_back"),
        (4, "redo", "done"),
    ]

    again = rollback(context.database_url, context.paths, 4, ANALYST)  # undo the redo
    assert (again.undone, again.total_after) == ([4], 0)
    assert [s for _, _, s in _statuses(context)] == [
        "rolled_back",
        "rolled_back",
        "done",
        "rolled_back",
        "done",
    ]
    with session_scope(context.database_url) as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.in_(["registry.rollback", "registry.redo"]))
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["registry.rollback", "registry.redo", "registry.rollback"]


def test_a_later_import_after_an_undo_builds_on_what_is_in_force(
    context: RegistryContext, tmp_path: Path
) -> None:
    _import(context, write_csv(tmp_path / "a.csv", [row(1)]))
    _import(context, write_csv(tmp_path / "b.csv", [row(2)]))
    rollback(context.database_url, context.paths, 2, ANALYST)  # change 3
    _import(context, write_csv(tmp_path / "c.csv", [row(5)]))  # change 4
    redo = plan_rollback(context.database_url, context.paths, 3)
    assert redo.undone == [3, 4] and redo.revived == [2]
    assert (redo.deleted, redo.restored) == (1, 1)  # enterprise 5 goes, 2 comes back


def test_an_undo_refuses_when_the_registry_changed_after_the_confirmation(
    context: RegistryContext, tmp_path: Path
) -> None:
    _import(context, write_csv(tmp_path / "a.csv", [row(1)]))
    plan = plan_rollback(context.database_url, context.paths, 1)
    _import(context, write_csv(tmp_path / "b.csv", [row(2)]))
    with pytest.raises(ChangeRefusedError, match="请重新查看撤销的后果"):
        rollback(context.database_url, context.paths, 1, ANALYST, plan.in_force)
    assert _total(context) == 2


def test_the_cli_states_the_consequence_and_refuses_without_a_terminal(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli(
        "registry", "import", str(write_csv(tmp_path / "a.csv", [row(1), row(2)])), data_dir=data
    )
    refused = run_cli("registry", "rollback", "1", data_dir=data)
    assert refused.returncode == 1
    assert "将撤销第 1 次变更：删除 2 家企业，恢复 0 家，撤回 0 条待确认推送" in refused.stdout
    assert "请加 --yes" in refused.stderr
    assert run_cli("registry", "show", uscc(1), data_dir=data).returncode == 0

    undone = run_cli("registry", "rollback", "1", "--yes", data_dir=data)
    assert undone.returncode == 0, undone.stderr
    assert run_cli("registry", "show", uscc(1), data_dir=data).returncode == 1
    redone = run_cli("registry", "rollback", "2", "--yes", data_dir=data)
    assert redone.returncode == 0, redone.stderr
    assert "恢复 2 家" in redone.stdout and "第 1 次变更重新生效" in redone.stdout
    assert run_cli("registry", "show", uscc(1), data_dir=data).returncode == 0
