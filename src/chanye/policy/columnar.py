"""The columnar executor: the same checked CEL nodes, evaluated with numpy over the whole
population held in memory, policy by policy, each condition only on the rows that passed the ones
before (selection vectors, as OpenFisca's formulas are vectorised but without short-circuit).

Values carry a "known" mask beside them, so missing data behaves as in CEL and in the DuckDB
engine: ``false && unknown`` is false, ``true || unknown`` is true, anything else touching an
unknown value is unknown, and a condition holds only when it is known and true. Lists (tags,
clusters) are bit sets; text fields are dictionary codes, so a string predicate is worked out once
per distinct value and then looked up. What this executor does not cover (a text field compared
with another text field) raises ``Unsupported`` and the policy runs in DuckDB instead.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chanye.policy.cel import Node
from chanye.policy.fields import FIELDS, field_spec
from chanye.policy.interpret import _call, _compare
from chanye.policy.model import Policy
from chanye.policy.tiers import Tiers

if TYPE_CHECKING:  # the SQL engine (Ibis, DuckDB) is imported only where a policy needs it
    from chanye.policy.engine import SqlPopulation

LIST_FIELDS = ("tags", "clusters")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
Values = tuple[Any, Any]  # (values, known mask or None for "all known")


class Unsupported(Exception):  # noqa: N818 - a signal, not an error: the policy runs in DuckDB
    pass


@dataclass
class TextColumn:
    codes: np.ndarray  # int32, -1 where missing
    categories: list[str]


@dataclass
class ListColumn:
    bits: np.ndarray  # uint64
    sizes: np.ndarray  # int64
    known: np.ndarray | None
    vocabulary: dict[str, int]


class Columns:
    """The population's columns in memory, as numpy arrays, ready for every policy."""

    def __init__(self, table: pa.Table) -> None:
        """``table``: rows of the policy table (``policy_base``'s columns), e.g. changed ones;
        ``rid`` gives their row numbers (row order when absent)."""
        self.size = table.num_rows
        self.rids = (
            np.asarray(table["rid"].to_numpy(), dtype=np.int64)
            if "rid" in table.column_names
            else np.arange(self.size, dtype=np.int64)
        )
        self.numbers: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self.texts: dict[str, TextColumn] = {}
        self.lists: dict[str, ListColumn] = {}
        self.add(table)

    def add(self, table: pa.Table) -> None:
        """Take in more fields of the same rows (a policy reading fields not loaded yet)."""
        for name in table.column_names:
            if name == "rid":
                continue
            spec, column = field_spec(name), table[name]
            if spec.type == "bool":  # a history function's yes or no
                self.numbers[spec.name] = _flags(column)
            elif spec.type in ("int", "double"):
                self.numbers[spec.name] = _numbers(column, spec.type)
            elif spec.type == "timestamp":
                self.numbers[spec.name] = _timestamps(column)
            elif spec.type == "string":
                self.texts[spec.name] = _text(column)
            elif spec.type == "list":
                self.lists[spec.name] = _list(column)

    @property
    def loaded(self) -> set[str]:
        return {*self.numbers, *self.texts, *self.lists}

    @classmethod
    def of(cls, population: SqlPopulation, policies: list[Policy] | None = None) -> Columns:
        """Every enterprise of a population loaded in DuckDB, in row order: the fields
        ``policies`` read (every field when None)."""
        from chanye.policy.compile import BASE_TABLE

        if policies is not None:
            population.prepare(policies)  # their history calls, as columns
        columns = ", ".join(f'"{name}"' for name in ["rid", *fields_for(policies)])
        return cls(
            population.con.execute(
                f"SELECT {columns} FROM {BASE_TABLE} ORDER BY rid"
            ).to_arrow_table()
        )

    def all_rows(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64)


def fields_for(policies: list[Policy] | None) -> list[str]:
    """The fields ``policies`` read, in catalogue order (every field when None)."""
    names = [f.name for f in FIELDS]
    if policies is None:
        return names
    read = {name for policy in policies for name in policy.fields_read()}
    # The catalogue's fields in its order, then the history functions the policies call.
    return [name for name in names if name in read] + sorted(read - set(names))


def take(values: Any, rows: np.ndarray | None) -> Any:
    """``values`` at ``rows`` (None: every row, without copying)."""
    return values if rows is None or values is None else values[rows]


def _mask(column: pa.ChunkedArray) -> np.ndarray | None:
    if column.null_count == 0:
        return None
    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(column: pa.ChunkedArray, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    filled = pc.fill_null(column, 0)
    dtype = np.int64 if kind == "int" else np.float64
    return np.asarray(filled.to_numpy(), dtype=dtype), _mask(column)


def _flags(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    filled = pc.fill_null(column, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool), _mask(column)


def _timestamps(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    seconds = pc.cast(pc.cast(column, pa.timestamp("s")), pa.int64())
    return np.asarray(pc.fill_null(seconds, 0).to_numpy(), dtype=np.int64), _mask(column)


def _text(column: pa.ChunkedArray) -> TextColumn:
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return TextColumn(codes, encoded.dictionary.to_pylist())


def _list(column: pa.ChunkedArray) -> ListColumn:
    flat = pc.list_flatten(column)
    vocabulary = {v: i for i, v in enumerate(sorted(set(pc.unique(flat).to_pylist()) - {None}))}
    if len(vocabulary) > 64:
        raise Unsupported("more than 64 distinct list values")
    parents = np.asarray(pc.list_parent_indices(column).to_numpy(), dtype=np.int64)
    found = pc.index_in(flat, value_set=pa.array(sorted(vocabulary), pa.string()))
    held = np.asarray(pc.is_valid(found).to_numpy(zero_copy_only=False), dtype=bool)
    parents = parents[held]  # a null inside a list holds no value
    positions = np.asarray(pc.drop_null(found).to_numpy(), dtype=np.uint64)
    bits = np.zeros(len(column), dtype=np.uint64)
    np.bitwise_or.at(bits, parents, np.left_shift(np.uint64(1), positions))
    sizes = np.asarray(pc.fill_null(pc.list_value_length(column), 0).to_numpy(), dtype=np.int64)
    return ListColumn(bits, sizes, _mask(column), vocabulary)


def _and(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else a & b


class _Evaluator:
    def __init__(self, columns: Columns, params: dict[str, Any]) -> None:
        self.columns = columns
        self.params = params

    def constant(self, node: Node) -> Any:
        if node.kind == "literal":
            return node.value
        if node.kind == "param":
            return self.params[node.op]
        return None

    def run(self, node: Node, rows: np.ndarray | None) -> Values:
        kind = node.kind
        if kind in ("literal", "param"):
            value = self.constant(node)
            if isinstance(value, dt.datetime | dt.date):
                value = _seconds(value)
            return value, None
        if kind == "field":
            if node.op in self.columns.numbers:
                values, known = self.columns.numbers[node.op]
                return take(values, rows), take(known, rows)
            raise Unsupported(f"{node.op} used as a value")
        if kind in ("and", "or"):
            return self.logical(kind, [self.run(a, rows) for a in node.args])
        if kind == "not":
            value, known = self.run(node.args[0], rows)
            return ~value, known
        if kind == "neg":
            value, known = self.run(node.args[0], rows)
            return -value, known
        if kind == "in":
            return self.membership(node, rows)
        if (kind == "compare" and node.args[0].type in ("string", "bool")) or (
            kind == "call" and node.op in ("startsWith", "endsWith", "contains")
        ):
            return self.text_predicate(node, rows)
        if kind == "call" and node.op == "size":
            return self.size(node.args[0], rows)
        if kind == "ternary":
            (test, tk), (a, ak), (b, bk) = (self.run(x, rows) for x in node.args)
            n = self.columns.size if rows is None else len(rows)
            test = np.broadcast_to(test, (n,))
            value = np.where(test, a, b)
            branch_known = (
                None if ak is None and bk is None else np.where(test, _full(ak, n), _full(bk, n))
            )
            return value, _and(tk, branch_known)
        parts = [self.run(x, rows) for x in node.args]
        a, ak = parts[0]
        second: Any = parts[1][0] if len(parts) > 1 else None
        known = _and(ak, parts[1][1] if len(parts) > 1 else None)
        if kind == "compare":
            return _compare_arrays(node.op, a, second), known
        if kind == "arith":
            operation = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[node.op]
            return operation(a, second), known
        if node.op == "tier":
            return tier_values(self.params[node.value], a), known
        if node.op in ("min", "max"):
            chosen = (np.minimum if node.op == "min" else np.maximum)(a, second)
            return (chosen.astype(np.float64) if node.type == "double" else chosen), known
        if node.op == "int":
            return np.trunc(a).astype(np.int64), ak
        if node.op == "double":
            return np.asarray(a, dtype=np.float64), ak
        raise Unsupported(node.op)

    def logical(self, kind: str, parts: list[Values]) -> Values:
        (a, ak), (b, bk) = parts
        a_true, b_true = _true(a, ak), _true(b, bk)
        a_false, b_false = _false(a, ak), _false(b, bk)
        if kind == "and":
            true, false = a_true & b_true, a_false | b_false
        else:
            true, false = a_true | b_true, a_false & b_false
        return true, true | false

    def membership(self, node: Node, rows: np.ndarray | None) -> Values:
        item, container = node.args
        if container.kind == "field" and container.op in self.columns.lists:
            column = self.columns.lists[container.op]
            value = self.constant(item)
            if not isinstance(value, str):
                raise Unsupported("membership of a computed value")
            position = column.vocabulary.get(value)
            bits = take(column.bits, rows)
            hits = (
                np.zeros(len(bits), dtype=np.bool_)
                if position is None
                else (bits & np.uint64(1 << position)) != 0
            )
            return hits, take(column.known, rows)
        values = (
            [a.value for a in container.args]
            if container.kind == "list"
            else self.constant(container)
        )
        if item.kind == "field" and item.op in self.columns.texts:
            text = self.columns.texts[item.op]
            table = np.array([c in values for c in text.categories] + [False])
            codes = take(text.codes, rows)
            return table[codes], codes >= 0
        value, known = self.run(item, rows)
        return np.isin(value, values), known

    def text_predicate(self, node: Node, rows: np.ndarray | None) -> Values:
        """A predicate on one text field and constants, worked out once per distinct value."""
        fields = [a for a in node.args if a.kind == "field"]
        if (
            len(fields) != 1
            or fields[0].op not in self.columns.texts
            or any(a.kind not in ("field", "literal", "param") for a in node.args)
        ):
            raise Unsupported("text predicate")
        text = self.columns.texts[fields[0].op]
        outcomes = []
        for category in text.categories:
            args = [category if a.kind == "field" else self.constant(a) for a in node.args]
            outcomes.append(
                _compare(node.op, *args) if node.kind == "compare" else _call(node.op, args)
            )
        table = np.array([*outcomes, False], dtype=bool)
        codes = take(text.codes, rows)
        return table[codes], codes >= 0

    def size(self, node: Node, rows: np.ndarray | None) -> Values:
        if node.kind == "field" and node.op in self.columns.lists:
            column = self.columns.lists[node.op]
            return take(column.sizes, rows), take(column.known, rows)
        raise Unsupported("size of this value")


def tier_values(table: Tiers, x: Any) -> Any:
    """Each value's band in one ``searchsorted`` (bounds inclusive: ``side="right"``); index 0
    of the looked-up values is "below the first band", 0.0."""
    values = np.array([0.0, *table.values], dtype=np.float64)
    return values[np.searchsorted(np.asarray(table.starts), x, side="right")]


def _full(mask: Any, n: int) -> np.ndarray:
    return np.ones(n, bool) if mask is None else mask


def _true(value: Any, known: Any) -> Any:
    value = np.asarray(value, dtype=bool)
    return value if known is None else value & known


def _false(value: Any, known: Any) -> Any:
    value = ~np.asarray(value, dtype=bool)
    return value if known is None else value & known


def _compare_arrays(op: str, a: Any, b: Any) -> Any:
    return {
        "<": np.less,
        "<=": np.less_equal,
        ">": np.greater,
        ">=": np.greater_equal,
        "==": np.equal,
        "!=": np.not_equal,
    }[op](a, b)


def _seconds(value: dt.date) -> int:
    moment = (
        value
        if isinstance(value, dt.datetime)
        else dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    )
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return int((moment - EPOCH).total_seconds())


SAMPLE = 4096


Keep = Callable[[Any, Any], Any]  # (value, known) → the rows a narrowing pass keeps


def _order(evaluator: _Evaluator, policy: Policy, columns: Columns, keep: Keep) -> list[Node]:
    """The conditions, those keeping fewest rows first (rates on a fixed sample of rows): later
    ones then run on few rows. A small batch (changed enterprises) keeps the file's order."""
    if columns.size < SAMPLE * 16:
        return [c.node for c in policy.conditions]
    step = max(1, columns.size // SAMPLE)
    sample = np.arange(0, columns.size, step, dtype=np.int64)[:SAMPLE]
    rates = []
    for condition in policy.conditions:
        value, known = evaluator.run(condition.node, sample)
        rates.append(
            float(np.mean(keep(np.broadcast_to(value, (len(sample),)), known)))
            if len(sample)
            else 0.0
        )
    order = sorted(range(len(rates)), key=lambda i: rates[i])
    return [policy.conditions[i].node for i in order]


def _narrowed(columns: Columns, policy: Policy, keep: Keep) -> tuple[_Evaluator, np.ndarray]:
    """The rows every condition keeps, each condition run only on the rows the ones before kept."""
    evaluator = _Evaluator(columns, policy.parameters)
    rows: np.ndarray | None = None  # every row, until the first condition narrows them
    for node in _order(evaluator, policy, columns, keep):
        value, known = evaluator.run(node, rows)
        n = columns.size if rows is None else len(rows)
        kept = keep(np.broadcast_to(value, (n,)), known)
        rows = np.flatnonzero(kept) if rows is None else rows[kept]
        if not len(rows):
            break
    return evaluator, columns.all_rows() if rows is None else rows


def _amounts(evaluator: _Evaluator, policy: Policy, rows: np.ndarray) -> np.ndarray:
    """The amount at ``rows`` (NaN where it reads a missing value, or the policy pays none)."""
    if policy.amount is None or not len(rows):
        return np.full(len(rows), np.nan)
    value, known = evaluator.run(policy.amount, rows)
    amounts = np.broadcast_to(np.asarray(value, dtype=np.float64), (len(rows),)).copy()
    if known is not None:
        amounts[~known] = np.nan
    return amounts


def eligible_rows(columns: Columns, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """The rows where every condition holds, and their amounts (NaN where unknown)."""
    evaluator, rows = _narrowed(columns, policy, _true)
    return rows, _amounts(evaluator, policy, rows)


def _not_false(value: Any, known: Any) -> Any:
    return ~_false(value, known)


@dataclass(frozen=True)
class Candidates:
    """The rows (ascending) where no condition is known to fail: eligible, or waiting for a
    missing value. Each condition's state at those rows, and the amount where all hold."""

    rows: np.ndarray
    holds: list[np.ndarray]
    unknown: list[np.ndarray]
    amounts: np.ndarray  # NaN where not eligible, or the amount reads a missing value

    @property
    def eligible(self) -> np.ndarray:
        """Where every condition holds, at ``rows``."""
        found = np.ones(len(self.rows), bool)
        for holds in self.holds:
            found &= holds
        return found


def candidate_rows(columns: Columns, policy: Policy) -> Candidates:
    """The policy's candidates: found by narrowing (most conditions fail on most rows), then
    every condition worked out on the few rows left, for their evidence."""
    evaluator, rows = _narrowed(columns, policy, _not_false)
    holds, unknown = [], []
    for condition in policy.conditions:
        value, known = evaluator.run(condition.node, rows)
        known_mask = np.ones(len(rows), bool) if known is None else np.asarray(known, bool)
        holds.append(np.broadcast_to(np.asarray(value, dtype=bool), (len(rows),)) & known_mask)
        unknown.append(~known_mask)
    found = Candidates(rows, holds, unknown, np.full(len(rows), np.nan))
    eligible = found.eligible
    found.amounts[eligible] = _amounts(evaluator, policy, rows[eligible])
    return found


def run_columnar(columns: Columns, policies: list[Policy], as_of: dt.date) -> pa.Table:
    """Every eligible (policy index, row, amount) pair, like ``engine.run_pairs``."""
    active = [(i, p) for i, p in enumerate(policies) if p.valid_on(as_of)]
    # numpy releases the GIL inside its loops: policies run side by side on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda item: eligible_rows(columns, item[1]), active))
    indexes = [
        np.full(len(rows), i, dtype=np.int16)
        for (i, _p), (rows, _v) in zip(active, results, strict=True)
    ]
    rids = [rows for rows, _values in results]
    amounts = [values for _rows, values in results]
    if not rids:
        return pa.table(
            {
                "p": pa.array([], pa.int16()),
                "rid": pa.array([], pa.int64()),
                "amount": pa.array([], pa.float64()),
            }
        )
    amount = np.concatenate(amounts)
    return pa.table(
        {
            "p": np.concatenate(indexes),
            "rid": np.concatenate(rids),
            "amount": pa.array(amount, mask=np.isnan(amount)),
        }
    )


def rerun_changed_columnar(
    changed: pa.Table, policies: list[Policy], previous: pa.Table, as_of: dt.date
) -> tuple[pa.Table, list[tuple[int, int]], list[tuple[int, int]], float]:
    """Re-evaluate only the changed enterprises (their new rows, as an import hands them over,
    with their ``rid``), and say who gained and who lost eligibility against ``previous``."""
    import time

    started = time.perf_counter()
    delta = Columns(changed.select(["rid", *fields_for(policies)]))
    now = run_columnar(delta, policies, as_of)
    rids = delta.rids[now["rid"].to_numpy()]
    now = now.set_column(1, "rid", pa.array(rids))
    old_rid = previous["rid"].to_numpy()
    changed_mask = np.zeros(int(max(old_rid.max(initial=0), delta.rids.max(initial=0))) + 1, bool)
    changed_mask[delta.rids] = True
    wanted = changed_mask[old_rid]
    # A pair as one integer (policy index above the row number) to diff them as arrays.
    before = previous["p"].to_numpy()[wanted].astype(np.int64) << 32 | old_rid[wanted]
    after = now["p"].to_numpy().astype(np.int64) << 32 | rids
    gained, lost = np.setdiff1d(after, before), np.setdiff1d(before, after)
    return now, _pairs(gained), _pairs(lost), time.perf_counter() - started


def _pairs(encoded: np.ndarray) -> list[tuple[int, int]]:
    return list(zip((encoded >> 32).tolist(), (encoded & 0xFFFFFFFF).tolist(), strict=True))
