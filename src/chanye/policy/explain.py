"""Explanations in the words of the policy: each condition's clause, the expression, the values it
read and whether it held; the amount with its arithmetic; and the near misses of a policy."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chanye.policy.cel import Node
from chanye.policy.columnar import Candidates
from chanye.policy.fields import FIELD_BY_NAME
from chanye.policy.interpret import MISSING, evaluate
from chanye.policy.model import Policy
from chanye.policy.population import ConditionStates, Population, condition_states, in_scope
from chanye.registry.scope import Scope

HOLDS, FAILS, UNKNOWN = "holds", "fails", "unknown"
OUTCOME_LABELS = {HOLDS: "满足", FAILS: "不满足", UNKNOWN: "待补充（缺少数据）"}


@dataclass
class ConditionResult:
    id: str
    text: str
    expression: str
    values: dict[str, Any]  # field → value read (None: missing)
    outcome: str  # holds / fails / unknown
    missing: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    policy_id: str
    policy_title: str
    uscc: str
    name: str
    as_of: str
    valid: bool  # the policy is in force on the date
    eligible: bool
    needs_data: bool  # fails only for missing values (待补充)
    mode: str  # 免申即享 / 快申
    conditions: list[ConditionResult]
    amount: float | None
    arithmetic: str | None
    source_change: int | None  # the registry change the values come from

    def to_dict(self) -> dict[str, Any]:
        # By hand, not ``asdict``: its deep copy costs seconds over thousands of pushes.
        conditions = [
            {**vars(c), "values": dict(c.values), "missing": list(c.missing)}
            for c in self.conditions
        ]
        return {**vars(self), "conditions": conditions}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def condition_result(
    policy: Policy, index: int, record: dict[str, Any], outcome: str | None = None
) -> ConditionResult:
    """The condition on the record; ``outcome``: already known (the engine's condition states
    over every enterprise), not evaluated again."""
    condition = policy.conditions[index]
    if outcome is None:
        value = evaluate(condition.node, record, policy.parameters)
        outcome = UNKNOWN if value is MISSING else (HOLDS if value is True else FAILS)
    names = condition.node.fields()
    missing = [n for n in names if record.get(n) is None]
    return ConditionResult(
        condition.id,
        condition.text,
        condition.when,
        {n: _plain(record.get(n)) for n in names},
        outcome,
        missing,
    )


def explain(population: Population, policy: Policy, uscc: str) -> Explanation | None:
    key = uscc.strip().upper()
    # Only the fields the policy reads (held in memory), not the whole record from the files.
    record = population.records([key], policy).get(key)
    if record is None:
        return None
    return explain_record(policy, record, uscc, population.as_of)


def explain_record(
    policy: Policy,
    record: dict[str, Any],
    uscc: str,
    as_of: dt.date,
    known: Sequence[str] | None = None,
) -> Explanation:
    """The explanation of one enterprise's record (as ``Population.record`` gives it);
    ``known``: each condition's outcome, when the engine has them already (``outcomes_at``)."""
    results = [
        condition_result(policy, i, record, None if known is None else known[i])
        for i in range(len(policy.conditions))
    ]
    valid = policy.valid_on(as_of)
    outcomes = {r.outcome for r in results}
    eligible = valid and outcomes == {HOLDS}
    amount, arithmetic = (None, None)
    if eligible and policy.amount is not None:
        value = evaluate(policy.amount, record, policy.parameters)
        amount = None if value is MISSING else float(value)
        arithmetic = f"{substitute(policy.amount_text or '', record, policy.parameters)} = " + (
            "（缺少数据）" if amount is None else f"{amount:,.2f} 元"
        )
    return Explanation(
        policy.id,
        policy.title,
        uscc,
        str(record.get("name") or ""),
        as_of.isoformat(),
        valid,
        eligible,
        valid and FAILS not in outcomes and UNKNOWN in outcomes,
        policy.mode_label,
        results,
        amount,
        arithmetic,
        record.get("change_id"),
    )


def outcomes_at(states: ConditionStates | Candidates, rows: Sequence[int]) -> list[list[str]]:
    """Each condition's outcome at these places of the engine's states (rows of every enterprise,
    or places among the candidates), with the same three-valued logic as ``evaluate``: one list
    per row, in the policy's order."""
    picked = np.asarray(rows, dtype=np.int64)
    columns = [
        np.where(h[picked], HOLDS, np.where(u[picked], UNKNOWN, FAILS)).tolist()
        for h, u in zip(states.holds, states.unknown, strict=True)
    ]
    return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in rows]


def substitute(text: str, record: dict[str, Any], params: dict[str, Any]) -> str:
    """The expression with each value it reads written in: the arithmetic a person can check."""

    def field_value(match: re.Match[str]) -> str:
        name = match.group(1)
        value = record.get(name)
        label = FIELD_BY_NAME[name].label if name in FIELD_BY_NAME else name
        return f"{label}[{'缺失' if value is None else _number(value)}]"

    text = re.sub(r"enterprise\.([a-z_]+)", field_value, text)
    return re.sub(r"params\.([a-z_]+)", lambda m: _number(params.get(m.group(1))), text)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:g}"
    return str(_plain(value))


@dataclass
class NearMiss:
    uscc: str
    name: str
    condition_id: str
    condition_text: str
    values: dict[str, Any]
    shortfall: float | None  # how far the value is from the threshold, when that is a number


def shortfall(node: Node, record: dict[str, Any], params: dict[str, Any]) -> float | None:
    """For a comparison of a field with a constant or parameter: how far off the enterprise is."""
    if node.kind != "compare" or node.op in ("==", "!="):
        return None
    left, right = node.args
    if left.kind != "field" or right.kind not in ("literal", "param"):
        return None
    value = record.get(left.op)
    threshold = right.value if right.kind == "literal" else params.get(right.op)
    if not isinstance(value, int | float) or not isinstance(threshold, int | float):
        return None
    return float(abs(threshold - value))


def near_misses(
    population: Population, policy: Policy, limit: int = 100, scope: Scope | None = None
) -> list[NearMiss]:
    """Enterprises failing exactly one condition (for a known reason), nearest first; only
    those in ``scope`` (a chain leader's industries, decided by ``chanye.registry.scope``)."""
    states = condition_states(population, policy)
    near = (states.failed_counts() == 1) & ~states.any_unknown()
    admitted = in_scope(population, scope or Scope.all())
    if admitted is not None:
        near &= admitted
    rows = np.flatnonzero(near)[: limit * 20]
    failing = states.known_false()
    which = [next(i for i, f in enumerate(failing) if f[row]) for row in rows.tolist()]
    misses: list[NearMiss] = []
    for record, index in zip(population.records_at(rows, policy), which, strict=True):
        condition = policy.conditions[index]
        misses.append(
            NearMiss(
                str(record["uscc"]),
                str(record["name"] or ""),
                condition.id,
                condition.text,
                {n: _plain(record.get(n)) for n in condition.node.fields()},
                shortfall(condition.node, record, policy.parameters),
            )
        )
    misses.sort(key=lambda m: (m.shortfall is None, m.shortfall or 0.0))
    return misses[:limit]
