"""The single-enterprise interpreter: evaluates the same checked CEL nodes the batch compiler
compiles, on one record, and keeps what it read (for explanations).

A value that cannot be computed (a missing field) is ``MISSING``. Like CEL's errors it is absorbed
by ``false && …`` and ``true || …`` and otherwise spreads; a condition holds only when it is true.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chanye.policy.cel import Node

if TYPE_CHECKING:
    from chanye.policy.model import Condition, Policy


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
HOLDS, FAILS, UNKNOWN = "holds", "fails", "unknown"  # a condition's outcome on one record


def outcomes_of(
    conditions: Sequence[Condition], record: dict[str, Any], params: dict[str, Any]
) -> list[str]:
    """Each condition's outcome on one record."""
    values = [evaluate(c.node, record, params) for c in conditions]
    return [UNKNOWN if v is MISSING else (HOLDS if v is True else FAILS) for v in values]


def amount_of(policy: Policy, record: dict[str, Any]) -> float | None:
    """The policy's amount for one record (None: it reads a missing value, or there is none)."""
    value = evaluate(policy.amount, record, policy.parameters) if policy.amount else MISSING
    return None if value is MISSING else float(value)


def evaluate(node: Node, record: dict[str, Any], params: dict[str, Any]) -> Any:
    """The value of ``node`` for one enterprise (``record``: field → value, None when missing)."""
    kind = node.kind
    if kind == "literal":
        return node.value
    if kind == "field":
        value = record.get(node.op)
        return MISSING if value is None else _as_cel(value)
    if kind == "param":
        return _as_cel(params[node.op])
    if kind == "list":
        return [a.value for a in node.args]
    if kind in ("and", "or"):
        return _logical(kind, [evaluate(a, record, params) for a in node.args])
    if kind == "ternary":
        test = evaluate(node.args[0], record, params)
        if test is MISSING:
            return MISSING
        return evaluate(node.args[1] if test else node.args[2], record, params)
    values = [evaluate(a, record, params) for a in node.args]
    if any(v is MISSING for v in values):
        return MISSING
    if kind == "call" and node.op == "tier":
        return params[node.value].value_at(values[0])
    return _apply(node, values)


def _logical(kind: str, values: list[Any]) -> Any:
    absorbing = kind == "or"  # true absorbs ||, false absorbs &&
    if any(v is not MISSING and v == absorbing for v in values):
        return absorbing
    if any(v is MISSING for v in values):
        return MISSING
    return not absorbing


def _apply(node: Node, values: list[Any]) -> Any:
    kind, op = node.kind, node.op
    if kind == "not":
        return not values[0]
    if kind == "neg":
        return -values[0]
    if kind == "compare":
        return _compare(op, values[0], values[1])
    if kind == "arith":
        left, right = values
        return {
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "/": lambda: left / right,
        }[op]()
    if kind == "in":
        return values[0] in values[1]
    return _call(op, values)


def _compare(op: str, left: Any, right: Any) -> bool:
    return bool(
        {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
            "==": left == right,
            "!=": left != right,
        }[op]
    )


def _call(name: str, values: list[Any]) -> Any:
    if name == "min":
        return _numeric(min(values), values)
    if name == "max":
        return _numeric(max(values), values)
    if name == "size":
        return len(values[0])
    if name == "startsWith":
        return str(values[0]).startswith(values[1])
    if name == "endsWith":
        return str(values[0]).endswith(values[1])
    if name == "contains":
        return values[1] in str(values[0])
    if name == "int":
        return math.trunc(values[0])
    if name == "double":
        return float(values[0])
    raise ValueError(f"unknown function {name}")


def _numeric(chosen: Any, values: list[Any]) -> Any:
    """min/max of an int and a double is a double (as the batch engine computes it)."""
    return float(chosen) if any(isinstance(v, float) for v in values) else chosen


def _as_cel(value: Any) -> Any:
    """Registry values as CEL sees them: dates are timestamps at 00:00 UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, tuple):
        return list(value)
    return value
