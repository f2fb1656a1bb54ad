"""Plain numpy: each policy as the conjunction of its conditions' boolean arrays, one policy after
another, the amount computed on the eligible rows. What one would write by hand over the columns."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.policy.generate import Amount, Condition, Policy
from benchmarks.policy.outcome import Outcome
from benchmarks.policy.population import BoolArray, FloatArray, Population

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def condition_holds(pop: Population, c: Condition) -> BoolArray:
    """Where the condition holds; a missing value never does."""
    if c.op in COMPARE:
        held: BoolArray = COMPARE[c.op](getattr(pop, c.field), c.value)
        # NaN compares false; the int columns hold 0 where missing, so mask those.
        return held if c.field in ("revenue", "rd_ratio") else held & pop.known(c.field)
    if c.op == "in":  # a lookup table over the district categories; the last slot is "missing"
        assert isinstance(c.value, tuple)
        wanted = np.zeros(len(pop.district_ids) + 1, dtype=np.bool_)
        wanted[[pop.district_ids.index(v) for v in c.value if v in pop.district_ids]] = True
        held = wanted[pop.district_index]
        return held
    if c.op == "prefix":
        assert isinstance(c.value, tuple)
        held = np.zeros(pop.size, dtype=np.bool_)
        for prefix in c.value:
            held |= np.strings.startswith(pop.industry_code, prefix.encode())
        return held
    assert isinstance(c.value, str)
    if c.op == "has":  # a missing list has no bits
        return pop.has(c.field, c.value)
    if c.op == "lacks":
        return ~pop.has(c.field, c.value) & pop.known(c.field)
    raise ValueError(c.op)


def amount(pop: Population, a: Amount, rows: npt.NDArray[np.int64]) -> FloatArray:
    """The amount for the given rows (NaN where it reads a missing value)."""
    if a.kind == "fixed":
        return np.full(len(rows), float(a.param("amount")))
    if a.kind == "share":
        assert a.field is not None
        values: FloatArray = getattr(pop, a.field)[rows]
        return np.minimum(values * a.param("rate"), a.param("cap"))  # NaN stays NaN
    employees = pop.employees[rows]
    tiered = np.where(
        employees >= a.param("tier_employees"),
        float(a.param("high_amount")),
        float(a.param("low_amount")),
    )
    return np.where(pop.known("employees")[rows], tiered, np.nan)


def evaluate_policy(pop: Population, policy: Policy) -> Outcome:
    eligible = condition_holds(pop, policy.conditions[0])
    for c in policy.conditions[1:]:
        eligible &= condition_holds(pop, c)
    return Outcome(eligible, amount(pop, policy.amount, np.flatnonzero(eligible)))


def evaluate(pop: Population, policies: Sequence[Policy]) -> dict[str, Outcome]:
    return {p.id: evaluate_policy(pop, p) for p in policies}
