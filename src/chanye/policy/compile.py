"""CEL → Ibis: each checked expression becomes an Ibis expression over the enterprise table.

SQL's three-valued logic is CEL's error absorption: ``NULL AND FALSE`` is false, ``NULL OR TRUE``
is true, and everything else that touches a missing value is NULL. Where SQL would quietly differ
(``CASE`` treats NULL as false, ``LEAST`` skips NULLs, casting rounds) the compiler says so
explicitly, so that the batch result equals the interpreter's and cel-python's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from chanye.policy.cel import Node
from chanye.policy.fields import FIELDS, field_spec
from chanye.policy.history import HistoryField
from chanye.policy.tiers import Tiers

if TYPE_CHECKING:
    from chanye.policy.model import Policy

IBIS_TYPES = {
    "int": "int64",
    "double": "float64",
    "string": "string",
    "bool": "boolean",
    "timestamp": "timestamp",
    "list": "array<string>",
}
BASE_TABLE = "policy_base"


def base_schema(history: Mapping[str, str] | None = None) -> ibis.Schema:
    """The table policies read: every field (held or not) plus the row number ``rid``, and the
    columns of the history calls ``history`` names (name → Ibis type)."""
    columns = {"rid": "int64", **{f.name: IBIS_TYPES[f.type] for f in FIELDS}, **(history or {})}
    return ibis.schema(columns)


def base_table(name: str = BASE_TABLE, policies: Iterable[Policy] = ()) -> ir.Table:
    """The table, with a column for each history call of ``policies``."""
    return ibis.table(base_schema(history_types(policies)), name=name)


def history_calls(policies: Iterable[Policy]) -> list[str]:
    """The history calls ``policies`` make (``chanye.policy.history``), each one column."""
    return sorted(
        {n for p in policies for n in p.fields_read() if HistoryField.parse(n) is not None}
    )


def history_types(policies: Iterable[Policy]) -> dict[str, str]:
    return {name: IBIS_TYPES[field_spec(name).type] for name in history_calls(policies)}


def compile_node(node: Node, table: ir.Table, params: dict[str, Any]) -> ir.Value:
    kind = node.kind
    if kind == "literal":
        return _literal(node.value, node.type)
    if kind == "field":
        if node.op.startswith(
            ("application:", "item:")
        ):  # what an applicant supplies: unknown here
            return ibis.null().cast(IBIS_TYPES[field_spec(node.op).type])
        if node.op not in table.columns:  # a history call: the table is built for its policies
            raise ValueError(f"{node.op}: compile over base_table(name, policies)")
        return table[node.op]
    if kind == "param":
        return _literal(params[node.op], node.type)
    if kind == "in":
        return _membership(node, compile_node(node.args[0], table, params), table, params)
    args = [compile_node(a, table, params) for a in node.args]
    if kind == "call" and node.op == "tier":
        return _tier(args[0], params[node.value])
    if kind == "not":
        return ~args[0]
    if kind == "neg":
        return -args[0]
    if kind == "and":
        return args[0] & args[1]
    if kind == "or":
        return args[0] | args[1]
    if kind == "compare":
        return _compare(node.op, args[0], args[1])
    if kind == "arith":
        return _arith(node.op, args[0], args[1])
    if kind == "ternary":
        test, then, other = args
        return ibis.cases(
            (test.isnull(), ibis.null(IBIS_TYPES[node.type])), (test, then), else_=other
        )
    return _call(node, args)


def _literal(value: Any, type_: str) -> ir.Value:
    if type_ == "timestamp":
        moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
        return ibis.literal(moment.replace(tzinfo=None), type="timestamp")
    if type_ == "list":
        return ibis.literal(list(value), type="array<string>")
    return ibis.literal(value, type=IBIS_TYPES[type_])


def _compare(op: str, left: Any, right: Any) -> ir.Value:
    return {
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
        "==": lambda: left == right,
        "!=": lambda: left != right,
    }[op]()


def _arith(op: str, left: Any, right: Any) -> ir.Value:
    return {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: left / right,
    }[op]()


def _membership(node: Node, item: Any, table: ir.Table, params: dict[str, Any]) -> ir.Value:
    container = node.args[1]
    if container.kind == "list":
        return item.isin([a.value for a in container.args])
    if container.kind == "param":
        return item.isin(list(params[container.op]))
    array = compile_node(container, table, params)
    return array.contains(item)


def _tier(value: Any, tiers: Tiers) -> ir.Value:
    """The highest band first, so that the first ``WHEN`` that holds is the band; a missing
    value is missing (a ``CASE`` would otherwise fall through to the 0.0 below the bands)."""
    bands = [
        (value >= ibis.literal(float(start)), ibis.literal(float(amount)))
        for start, amount in zip(tiers.starts, tiers.values, strict=True)
    ]
    return ibis.cases(
        (value.isnull(), ibis.null("float64")), *reversed(bands), else_=ibis.literal(0.0)
    )


def _call(node: Node, args: list[Any]) -> ir.Value:
    name = node.op
    if name in ("min", "max"):
        left, right = (a.cast("float64") if node.type == "double" else a for a in args)
        chosen = ibis.least(left, right) if name == "min" else ibis.greatest(left, right)
        # LEAST/GREATEST skip NULLs; CEL's min of a missing value is missing.
        return ibis.cases(
            (left.isnull() | right.isnull(), ibis.null(IBIS_TYPES[node.type])), else_=chosen
        )
    if name == "size":
        return args[0].length()
    if name == "startsWith":
        return args[0].startswith(args[1])
    if name == "endsWith":
        return args[0].endswith(args[1])
    if name == "contains":
        return args[0].contains(args[1])
    if name == "int":
        if node.args[0].type == "int":
            return args[0]
        value = args[0]  # toward zero, as CEL truncates (a plain cast would round)
        return ibis.cases((value >= 0, value.floor()), else_=value.ceil()).cast("int64")
    if name == "double":
        return args[0].cast("float64")
    raise ValueError(f"unknown function {name}")
