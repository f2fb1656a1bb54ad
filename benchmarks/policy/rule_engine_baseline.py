"""The ``rule-engine`` package: one Rule per policy (its conditions joined with ``and``) and one per
amount, evaluated record by record on plain dicts, as such engines are used.

rule-engine raises on ``null >= 1``, so every condition first checks that its value is present:
a missing value makes the condition not hold, as for the other competitors. An amount that reads a
missing value raises too, and is recorded as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rule_engine  # type: ignore[import-untyped]

from benchmarks.policy.generate import Amount, Condition, Policy
from benchmarks.policy.outcome import Outcome


def _literal(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _strings(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def condition_text(c: Condition) -> str:
    if c.op in (">=", "<", "<="):
        test = f"{c.field} {c.op} {_literal(c.value)}"
    elif c.op == "in":
        assert isinstance(c.value, tuple)
        test = f"{c.field} in [{_strings(c.value)}]"
    elif c.op == "prefix":
        assert isinstance(c.value, tuple)
        test = "(" + " or ".join(f'{c.field}.starts_with("{p}")' for p in c.value) + ")"
    elif c.op == "has":
        test = f'"{c.value}" in {c.field}'
    elif c.op == "lacks":
        test = f'not ("{c.value}" in {c.field})'
    else:
        raise ValueError(c.op)
    return f"({c.field} != null and {test})"


def amount_text(a: Amount) -> str:
    if a.kind == "fixed":
        return _literal(a.param("amount"))
    if a.kind == "share":
        return f"$min([{a.field} * {_literal(a.param('rate'))}, {_literal(a.param('cap'))}])"
    return (
        f"employees >= {a.param('tier_employees')} ? {_literal(a.param('high_amount'))}"
        f" : {_literal(a.param('low_amount'))}"
    )


@dataclass(frozen=True)
class CompiledPolicy:
    id: str
    rule: rule_engine.Rule
    amount: rule_engine.Rule


def compile_policies(policies: Sequence[Policy]) -> list[CompiledPolicy]:
    context = rule_engine.Context()
    return [
        CompiledPolicy(
            p.id,
            rule_engine.Rule(
                " and ".join(condition_text(c) for c in p.conditions), context=context
            ),
            rule_engine.Rule(amount_text(p.amount), context=context),
        )
        for p in policies
    ]


def _amount(rule: rule_engine.Rule, record: dict[str, Any]) -> float:
    try:
        return float(rule.evaluate(record))
    except rule_engine.EvaluationError:
        return float("nan")


def evaluate(
    compiled: Sequence[CompiledPolicy], records: Sequence[dict[str, Any]]
) -> dict[str, Outcome]:
    """Every policy over every record, one record at a time."""
    results = {}
    for policy in compiled:
        eligible = np.fromiter((policy.rule.matches(r) for r in records), np.bool_, len(records))
        amounts = [_amount(policy.amount, records[int(i)]) for i in np.flatnonzero(eligible)]
        results[policy.id] = Outcome(eligible, np.array(amounts, dtype=np.float64))
    return results
