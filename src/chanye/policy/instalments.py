"""分期拨付: the look-back of the instalments now due.

A policy that pays over several years (``benefit.schedule``) makes a later instalment payable
only if its ``when`` still holds for the enterprise as of the instalment's due date (次年产值不低于
上年, 仍在统计库内). This module reads it through the engine matching uses — the registry as it
stood that day (``Population``), the single-enterprise interpreter — and marks each instalment:
待拨付 (payable), 不予拨付 with the clause as the reason, or 待补充 when a value it reads is not
held (never paid on a guess).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.policy import workflow
from chanye.policy.instalment_plans import (
    INSTALMENT_LABELS,
    NEEDS_DATA,
    PAYABLE,
    PENDING,
    REFUSED,
    instalments_of,
)
from chanye.policy.interpret import MISSING, evaluate
from chanye.policy.model import Condition, Instalment, Policy
from chanye.policy.population import Population
from chanye.store.audit import Actor, record
from chanye.store.models import PolicyInstalment, PolicyPush, PolicyVersion

OPEN = (PENDING, NEEDS_DATA, PAYABLE, REFUSED)
CHECKED = (PENDING, NEEDS_DATA)  # read again: data may have arrived


@dataclass(frozen=True)
class DueInstalment:
    """An instalment due by the date, with what its look-back found."""

    push_id: int
    uscc: str
    name: str
    policy_id: str
    title: str
    number: int
    count: int  # of the push's instalments
    amount: float  # yuan
    due_on: dt.date
    state: str
    reason: str

    @property
    def state_label(self) -> str:
        return INSTALMENT_LABELS[self.state]

    @property
    def result(self) -> str:
        """The look-back's result, in words."""
        return f"{self.state_label}：{self.reason}" if self.reason else self.state_label

    def to_dict(self) -> dict[str, Any]:
        return {
            "push_id": self.push_id,
            "uscc": self.uscc,
            "name": self.name,
            "policy_id": self.policy_id,
            "title": self.title,
            "number": self.number,
            "count": self.count,
            "amount": self.amount,
            "due_on": self.due_on.isoformat(),
            "state": self.state,
            "result": self.result,
        }


def check_due(
    session: Session,
    population_at: Callable[[dt.date], Population],
    as_of: dt.date,
    actor: Actor,
    policy_id: str | None = None,
    write: bool = True,
) -> list[DueInstalment]:
    """The instalments of confirmed pushes due by ``as_of`` and not paid, each pending one read
    as of its due date. ``write``: keep what was found (audited); otherwise a preview."""
    rows = _due(session, as_of, policy_id)
    counts = _counts(session, [i.push_id for i, _p, _v in rows])
    read = _read_look_backs(population_at, [r for r in rows if r[0].state in CHECKED])
    found = []
    for instalment, push, version in rows:
        state, reason = read.get(instalment.id, (instalment.state, instalment.reason))
        if write and instalment.id in read:
            instalment.state, instalment.reason = state, reason
            instalment.checked_on = as_of
        found.append(
            DueInstalment(
                push.id,
                push.uscc,
                str(workflow.evidence_of(push).get("name") or ""),
                push.policy_id,
                version.title,
                instalment.number,
                counts[push.id],
                instalment.amount,
                instalment.due_on,
                state,
                reason,
            )
        )
    if write and found:
        _audit(session, actor, as_of, found)
    return found


def _read_look_backs(
    population_at: Callable[[dt.date], Population],
    rows: list[tuple[PolicyInstalment, PolicyPush, PolicyVersion]],
) -> dict[int, tuple[str, str]]:
    """(state, reason) by instalment id: the records of one due date and one clause read at
    once, from the registry as it stood that day."""
    groups: dict[tuple[dt.date, int, int], list[tuple[PolicyInstalment, PolicyPush]]] = {}
    versions: dict[int, PolicyVersion] = {}
    for instalment, push, version in rows:
        key = (instalment.due_on, version.id, instalment.number)
        groups.setdefault(key, []).append((instalment, push))
        versions[version.id] = version
    populations: dict[dt.date, Population] = {}
    read: dict[int, tuple[str, str]] = {}
    for (due, version_id, number), members in groups.items():
        policy = workflow.policy_of(versions[version_id])
        clause = policy.schedule[number - 1] if number <= len(policy.schedule) else None
        if clause is None or clause.node is None:  # nothing to look back on
            read.update({i.id: (PAYABLE, "") for i, _p in members})
            continue
        if due not in populations:
            populations[due] = population_at(due)
        records = populations[due].records([p.uscc for _i, p in members], _reader(policy, clause))
        for instalment, push in members:
            read[instalment.id] = look_back(policy, clause, records.get(push.uscc), due)
    return read


def look_back(
    policy: Policy, clause: Instalment, record_: dict[str, Any] | None, day: dt.date
) -> tuple[str, str]:
    """(state, reason) of one instalment whose look-back is ``clause``, on the enterprise's
    record as of ``day`` (None: not in the registry then)."""
    assert clause.node is not None
    if record_ is None:
        return NEEDS_DATA, f"{_words(clause)}（企业库中暂无该企业 {day} 的数据）"
    value = evaluate(clause.node, record_, policy.parameters)
    if value is MISSING:
        missing = [policy.label_of(n) for n in clause.node.fields() if record_.get(n) is None]
        return NEEDS_DATA, f"{_words(clause)}（缺少：{'、'.join(dict.fromkeys(missing))}）"
    if value is True:
        return PAYABLE, ""
    return REFUSED, f"截至 {day} 不符合“{_words(clause)}”"


def _reader(policy: Policy, clause: Instalment) -> Policy:
    """The policy as if its one condition were the look-back: the records read its fields."""
    assert clause.node is not None and clause.when is not None
    condition = Condition("look-back", _words(clause), clause.when, clause.node)
    return replace(policy, conditions=[condition], amount=None, amount_text=None)


def _words(clause: Instalment) -> str:
    return clause.text or "以后各期的拨付条件"


def _due(
    session: Session, as_of: dt.date, policy_id: str | None
) -> list[tuple[PolicyInstalment, PolicyPush, PolicyVersion]]:
    query = (
        select(PolicyInstalment, PolicyPush, PolicyVersion)
        .join(PolicyPush, PolicyPush.id == PolicyInstalment.push_id)
        .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
        .where(
            PolicyInstalment.due_on <= as_of,
            PolicyInstalment.state.in_(OPEN),
            PolicyPush.status == workflow.CONFIRMED,
        )
        .order_by(PolicyInstalment.due_on, PolicyPush.policy_id, PolicyPush.uscc)
    )
    if policy_id is not None:
        query = query.where(PolicyPush.policy_id == policy_id)
    return [(i, p, v) for i, p, v in session.execute(query)]


def _counts(session: Session, push_ids: list[int]) -> dict[int, int]:
    return {k: len(v) for k, v in instalments_of(session, push_ids).items()}


def _audit(session: Session, actor: Actor, as_of: dt.date, found: list[DueInstalment]) -> None:
    by_state: dict[str, int] = {}
    for item in found:
        by_state[item.state] = by_state.get(item.state, 0) + 1
    record(
        session,
        actor,
        "policy.instalment.check",
        "policy_instalments",
        "",
        after={"as_of": as_of.isoformat(), "count": len(found), "states": by_state},
    )
    session.flush()
