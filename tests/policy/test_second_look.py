"""双人复核, stopping a policy, and the pushes nobody receives, in the policy workflow (on SQLite
and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.policy import notices, workflow
from chanye.policy.receivers import receivers
from chanye.portal import binding
from chanye.registry.context import RegistryContext
from chanye.store.audit import Actor, verify_chain
from chanye.store.database import session_scope
from chanye.store.models import Account, AuditEntry, PolicyPush
from tests.policy.test_workflow import (
    OFFICE,
    POLICY,
    REVIEWER,
    SYSTEM,
    load,
    registry_rows,
)
from tests.registry.factory import uscc


def _account(db: Session, n: int, status: str = "active", verified: bool = True) -> Account:
    """Enterprise n's account; its binding verified unless told otherwise."""
    account = Account(
        username=f"e{n}",
        email=f"e{n}@example.cn",
        display_name=f"企业{n}",
        password_hash="x",
        kind="enterprise",
        role="enterprise",
        enterprise_uscc=uscc(n),
        status=status,
        email_confirmed=True,
    )
    db.add(account)
    db.flush()
    if verified:
        binding.verify_by_administrator(db, account, Actor("test", "admin"))
    return account


def test_the_drafter_cannot_approve_a_benefit(context: RegistryContext, tmp_path: Path) -> None:
    population = load(context, tmp_path, registry_rows())
    with session_scope(context.database_url) as db:
        draft = workflow.add_draft(db, POLICY, "rd.yaml", OFFICE)
        assert workflow.awaits_approval(draft)
        with pytest.raises(workflow.SamePersonRefusedError, match="起草人不能复核"):
            workflow.publish(db, draft, OFFICE, population)
    with session_scope(context.database_url) as db:  # the refusal was kept, the draft unchanged
        refused = db.scalars(select(AuditEntry).where(AuditEntry.action == "policy.approve")).one()
        assert (refused.actor, refused.result) == (OFFICE.name, "refused")
        draft = db.get_one(type(draft), draft.id)
        assert draft.status == workflow.DRAFT and draft.approved_by is None
        workflow.publish(db, draft, REVIEWER, population)
        assert (draft.approved_by, draft.published_by) == (REVIEWER.name, REVIEWER.name)
        assert not workflow.awaits_approval(draft)
        assert verify_chain(db) == []


def test_demo_policies_are_approved_by_the_system(context: RegistryContext, tmp_path: Path) -> None:
    population = load(context, tmp_path, registry_rows())
    with session_scope(context.database_url) as db:
        runs = workflow.seed_demo(db, population, SYSTEM)
        published = workflow.published_versions(db)
        assert len(published) == len(runs)
        paying = [v for v in published if workflow.has_benefit(v)]
        assert paying and all(v.approved_by == "system" for v in paying)
        approvals = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "policy.approve")
        ).all()
        assert len(approvals) == len(paying) and all(
            "演示政策" in (a.after or "") for a in approvals
        )


def test_expiring_withdraws_undecided_pushes_and_keeps_decisions(
    context: RegistryContext, tmp_path: Path
) -> None:
    population = load(context, tmp_path, registry_rows())
    with session_scope(context.database_url) as db:
        version = workflow.add_draft(db, POLICY, "rd.yaml", OFFICE)
        workflow.publish(db, version, REVIEWER, population)
        first = db.scalars(select(PolicyPush).where(PolicyPush.uscc == uscc(1))).one()
        workflow.confirm(db, first, _account(db, 1), OFFICE)
        assert workflow.undecided_count(db, version) == (2, 1)
        assert workflow.expire(db, version, OFFICE) == 2
        assert version.status == workflow.EXPIRED and first.status == workflow.CONFIRMED
        with pytest.raises(workflow.WorkflowRefusedError, match="只能停止执行已发布的版本"):
            workflow.expire(db, version, OFFICE)


def test_who_can_receive_is_one_definition(context: RegistryContext, tmp_path: Path) -> None:
    population = load(context, tmp_path, registry_rows())
    with session_scope(context.database_url) as db:
        _account(db, 1)
        _account(db, 2, status="disabled")
        _account(db, 3, verified=False)  # a USCC typed in, never proven: it reaches nothing
        assert [u for u, _ in db.execute(receivers()).all()] == [uscc(1)]
        version = workflow.add_draft(db, POLICY, "rd.yaml", OFFICE)
        run = workflow.publish(db, version, REVIEWER, population)
        unreachable = notices.unreachable_pushes(db, run.id)
        assert [p.uscc for p, _ in unreachable] == sorted(
            [uscc(2), uscc(3)]
        )  # 2: disabled, 3: not verified
        notices.mark_offline_notice(db, unreachable[0][0], OFFICE)
        assert [p.uscc for p, _ in notices.unreachable_pushes(db)] == [uscc(3)]
        with pytest.raises(workflow.WorkflowRefusedError):
            notices.mark_offline_notice(db, unreachable[0][0], OFFICE)
