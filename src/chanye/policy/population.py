"""The enterprises as policies see them, on the columnar engine: what every product path runs.

A ``Population`` is a registry view (``chanye.registry.view``: the snapshot's Parquet, projected
and memory-mapped, overrides applied) as of one date. Only the fields the policies at hand read
are loaded, into numpy (``columnar.Columns``); ``age_years`` and ``rd_ratio`` are derived in
numpy as of the date. A policy the columnar engine cannot run (``Unsupported``) runs through the
portable SQL path instead (``engine``: CEL compiled by Ibis, run in DuckDB), over the same rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chanye.policy import columnar
from chanye.policy.columnar import Candidates, Columns, Unsupported
from chanye.policy.fields import FIELD_BY_NAME, FIELDS, REGISTRY_COLUMNS, field_spec
from chanye.policy.history import HistoryField, history_column
from chanye.policy.model import Policy
from chanye.registry.as_of import AS_OF_FIELDS, RegistryAsOf, founded_by
from chanye.registry.facts import Facts
from chanye.registry.scope import FIELD as SCOPE_FIELD
from chanye.registry.scope import Scope
from chanye.registry.view import RegistryView, registry_view

if TYPE_CHECKING:
    from chanye.policy.engine import SqlPopulation
    from chanye.registry.context import RegistryContext

# What each derived field is computed from.
Found = TypeVar("Found")  # what one policy's work over the population gives
DERIVED_FROM = {"age_years": ("founded_on",), "rd_ratio": ("revenue", "rd_expense")}
STORED = frozenset(REGISTRY_COLUMNS)  # the fields the enterprise list's snapshot holds


def sources_of(names: Sequence[str]) -> list[str]:
    """The fields the derived ones among ``names`` are computed from."""
    return [s for n in names for s in DERIVED_FROM.get(n, ())]


ARROW_OF = {
    "int": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "list": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class Eligible:
    """A policy's eligible rows (ascending) and their amounts (NaN where unknown or none)."""

    rows: np.ndarray
    amounts: np.ndarray


@dataclass(frozen=True)
class ConditionStates:
    """Per condition (in the file's order), full length: where it holds (known and true) and
    where it is unknown (a value it reads is missing)."""

    holds: list[np.ndarray]
    unknown: list[np.ndarray]

    size: int

    def known_false(self) -> list[np.ndarray]:
        return [~h & ~u for h, u in zip(self.holds, self.unknown, strict=True)]

    def any_unknown(self) -> np.ndarray:
        found = np.zeros(self.size, bool)
        for unknown in self.unknown:
            found |= unknown
        return found

    def failed_counts(self) -> np.ndarray:
        """How many conditions are known to fail, per enterprise."""
        counts = np.zeros(self.size, np.int64)
        for failing in self.known_false():
            counts += failing
        return counts


class Population:
    """The registry in force as of one date, for policies (columns loaded as policies need)."""

    def __init__(self, view: RegistryView, as_of: dt.date, facts: Facts | None = None) -> None:
        self.view = view
        self.as_of = as_of
        self.facts = facts
        self.size = view.size
        # As it stood that day: the facts over time in force (``chanye.registry.as_of``), and
        # which enterprises existed (founded by then).
        self._stood = RegistryAsOf(view, facts or Facts(view.paths, frozenset()), as_of)
        self._has_facts = facts is not None and bool(facts.changes)
        self._stood_columns: dict[str, pa.ChunkedArray | pa.Array] = {}
        self._present: np.ndarray | None = None
        self._lock = threading.RLock()
        self._columns = Columns(pa.table({"rid": np.arange(self.size, dtype=np.int64)}))
        self._unsupported: set[str] = set()  # fields the columnar engine cannot hold
        self._sql: SqlPopulation | None = None

    @classmethod
    def of(cls, context: RegistryContext, as_of: dt.date) -> Population:
        return cls(registry_view(context), as_of, context.facts())

    @property
    def present(self) -> np.ndarray | None:
        """Which rows existed on the date (founded by then); None: every row (a hand-made
        population without founding dates)."""
        with self._lock:
            if self._present is None and self.size:
                try:
                    self._present = founded_by(self.view, self.as_of)
                except KeyError:
                    return None
            return self._present

    def founded_after(self, uscc: str) -> dt.date | None:
        """The enterprise's founding date, if that is after the date (it did not exist yet)."""
        present = self.present
        row = self.view.rows_of([uscc]).get(uscc.strip().upper())
        if present is None or row is None or present[row]:
            return None
        founded = self.view.at("founded_on", np.array([row]))[0].as_py()
        return founded if isinstance(founded, dt.date) else None

    def _as_it_stood(
        self, name: str, listed: pa.ChunkedArray | pa.Array
    ) -> pa.ChunkedArray | pa.Array:
        """Field ``name`` as of the date (the list's column where no facts are in force)."""
        if not self._has_facts or name not in AS_OF_FIELDS:
            return listed
        return self._kept(name, lambda: self._stood.column(name, listed))

    def _kept(
        self, name: str, work: Callable[[], pa.ChunkedArray | pa.Array]
    ) -> pa.ChunkedArray | pa.Array:
        with self._lock:
            if name not in self._stood_columns:
                self._stood_columns[name] = work()
            return self._stood_columns[name]

    def _listed(self, name: str) -> pa.ChunkedArray | pa.Array:
        """The enterprise list's column of a field (nulls for one no list holds)."""
        if name in STORED:
            return self.view.column(name)
        return pa.nulls(self.size, ARROW_OF[FIELD_BY_NAME[name].type])

    def _history(self, name: str) -> pa.Array:
        """A history function's column (``chanye.policy.history``) as of the date."""
        call = HistoryField.parse(name)
        assert call is not None
        return self._kept(name, lambda: history_column(self._stood, call, self.as_of))

    def as_of_column(self, name: str) -> pa.ChunkedArray | pa.Array:
        """Any field whose value depends on the date's facts, for every row."""
        if HistoryField.parse(name) is not None:
            return self._history(name)
        return self._as_it_stood(name, self._listed(name))

    # --- columns --------------------------------------------------------------------------

    def columns(self, policies: Sequence[Policy] | None) -> Columns:
        """The columnar engine's columns, holding at least the fields ``policies`` read."""
        wanted = columnar.fields_for(list(policies) if policies is not None else None)
        with self._lock:
            missing = [
                n for n in wanted if n not in self._columns.loaded and n not in self._unsupported
            ]
            if missing:
                table = self.policy_table(missing)  # one read of every column they need
                for name in missing:
                    try:
                        self._columns.add(table.select([name]))
                    except Unsupported:
                        self._unsupported.add(name)
            if any(n in self._unsupported for n in wanted):
                raise Unsupported("a field the columnar engine cannot hold")
            return self._columns

    def policy_table(self, names: Sequence[str]) -> pa.Table:
        """The fields ``names`` as the policy table holds them (derived ones as of the date,
        those the platform does not hold as nulls)."""
        plain = [n for n in names if HistoryField.parse(n) is None]
        sources = sorted(
            {
                s
                for n in plain
                if field_spec(n).held
                for s in DERIVED_FROM.get(n, (n,))
                if s in STORED
            }
        )
        listed = self.view.columns(sources) if sources else pa.table({})
        read = {c: self._as_it_stood(c, listed[c]) for c in listed.column_names}
        built: dict[str, Any] = {}
        for name in names:
            spec = field_spec(name)
            if name not in plain:
                built[name] = self._history(name)
            elif not spec.held:
                built[name] = pa.nulls(self.size, ARROW_OF[spec.type])
            elif name == "age_years":
                built[name] = age_years(read["founded_on"], self.as_of)
            elif name == "rd_ratio":
                built[name] = rd_ratio(read["revenue"], read["rd_expense"])
            elif name not in STORED:  # a yearly indicator no list holds
                built[name] = self.as_of_column(name)
            elif spec.type == "timestamp":
                built[name] = pc.cast(read[name], pa.timestamp("us"))
            else:
                built[name] = read[name]
        return pa.table(built)

    @property
    def usccs(self) -> pa.ChunkedArray:
        """USCC by row number (rid)."""
        return self.view.combined("uscc")

    # --- records --------------------------------------------------------------------------

    def record(self, uscc: str) -> dict[str, Any] | None:
        """One enterprise's values as policies read them (None: not in the registry)."""
        found = self.view.record(uscc)
        return None if found is None else policy_record(found, self.as_of)

    def records(
        self,
        usccs: Sequence[str],
        policy: Policy | None = None,
        rows: dict[str, int] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Records by USCC: every field, or (``policy``) the fields that policy reads, its name
        and where its values came from, from the columns already held (thousands at once).
        ``rows``: the row numbers of some of them, already known (not looked up again)."""
        columns = None
        if policy is not None:
            read = [s for n in policy.fields_read() for s in DERIVED_FROM.get(n, (n,))]
            held = [n for n in read if n in STORED]
            columns = list(dict.fromkeys(["name", "change_id", SCOPE_FIELD, *held]))
        names_read = policy.fields_read() if policy is not None else list(AS_OF_FIELDS)
        found = self._as_they_stood(self.view.records(usccs, columns, rows), rows, names_read)
        names = None if policy is None else ["uscc", "name", *policy.fields_read()]
        return {u: policy_record(r, self.as_of, names) for u, r in found.items()}

    def _as_they_stood(
        self, found: dict[str, dict[str, Any]], rows: dict[str, int] | None, names: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The records with the values of the date: the facts over time in force, and the
        history functions the policy calls."""
        dated = [
            n
            for n in dict.fromkeys([*names, *sources_of(names)])
            if HistoryField.parse(n) is not None or (n in AS_OF_FIELDS and self._has_facts)
        ]
        if not dated or not found:
            return found
        rids = {**self.view.rows_of([u for u in found if u not in (rows or {})]), **(rows or {})}
        for name in dated:
            column = self.as_of_column(name)
            for uscc, record in found.items():
                record[name] = column[rids[uscc]].as_py()
        return found

    def records_at(self, rows: np.ndarray, policy: Policy | None = None) -> list[dict[str, Any]]:
        """The records of these rows, in their order."""
        usccs = [str(u) for u in self.usccs.take(pa.array(rows, pa.int64())).to_pylist()]
        found = self.records(usccs, policy)
        return [found[u] for u in usccs]

    def record_by_rid(self, rid: int) -> dict[str, Any]:
        return self.records_at(np.array([rid]))[0]

    # --- the portable path ----------------------------------------------------------------

    def sql(self) -> SqlPopulation:
        """The same rows in DuckDB (``policy_base``), for a policy the columnar engine cannot
        run: built on first need, every field, from the columns this engine reads as of the
        date (one definition of "as of" for both paths), only the enterprises founded by then;
        each history call is added as a column when a policy first needs it (``prepare``)."""
        import duckdb

        from chanye.policy.compile import BASE_TABLE
        from chanye.policy.engine import SqlPopulation

        with self._lock:
            if self._sql is None:
                table = self.policy_table([f.name for f in FIELDS])
                table = table.append_column("change_id", self.view.column("change_id"))
                table = table.add_column(0, "rid", pa.array(np.arange(self.size, dtype=np.int64)))
                if self.present is not None:
                    table = table.filter(pa.array(self.present))
                con = duckdb.connect()
                con.register("policy_source", table)
                con.execute(f"CREATE TABLE {BASE_TABLE} AS SELECT * FROM policy_source")
                con.unregister("policy_source")
                self._sql = SqlPopulation(con, self.as_of, self.size, self._history)
            return self._sql


def load_population(context: RegistryContext, as_of: dt.date) -> Population:
    return Population.of(context, as_of)


# --- deriving fields -------------------------------------------------------------------------


def age_years(founded: pa.ChunkedArray, as_of: dt.date) -> pa.Array:
    """Whole years from founding to ``as_of`` (null where the date is missing).

    An enterprise is ``k`` years old when it was founded on or before the ``k``-th anniversary
    back from ``as_of``: those days, one per year, are sorted, so one binary search per
    enterprise finds its age (no calendar arithmetic on millions of dates)."""
    column = pc.cast(founded, pa.date32())
    known = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
    days = np.asarray(pc.fill_null(column, 0).cast(pa.int32()).to_numpy(), dtype=np.int64)
    epoch = dt.date(1970, 1, 1)
    first, last = (int(days[known].min()), int(days[known].max())) if known.any() else (0, 0)
    # Ages from that of the oldest enterprise (one more) to that of the youngest (one less).
    low = as_of.year - (epoch + dt.timedelta(days=last)).year - 1
    high = as_of.year - (epoch + dt.timedelta(days=first)).year + 1
    youngest, oldest = max(low, as_of.year - 9999), min(high, as_of.year - 1)
    ages = np.arange(youngest, oldest + 1, dtype=np.int64)
    boundaries = np.array(
        [(_anniversary(as_of, int(k)) - epoch).days for k in ages[::-1]], dtype=np.int64
    )  # ascending: the oldest anniversary first
    held = len(boundaries) - np.searchsorted(boundaries, days, side="left")
    age = youngest + held - 1
    return pa.array(age.astype(np.int64), mask=~known)


def _anniversary(as_of: dt.date, years: int) -> dt.date:
    """``as_of`` moved back ``years`` years (29 February becomes the 28th in other years)."""
    year = as_of.year - years
    try:
        return as_of.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def rd_ratio(revenue: pa.ChunkedArray, rd_expense: pa.ChunkedArray) -> pa.Array:
    """R&D expense over revenue; 0 where revenue is 0; null where either is missing."""
    known = np.asarray(
        pc.and_(pc.is_valid(revenue), pc.is_valid(rd_expense)).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    income = np.asarray(pc.fill_null(revenue, 1.0).to_numpy(), dtype=np.float64)
    spent = np.asarray(pc.fill_null(rd_expense, 0.0).to_numpy(), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(income == 0, 0.0, spent / np.where(income == 0, 1.0, income))
    return pa.array(ratio, mask=~known)


def policy_record(
    row: dict[str, Any], as_of: dt.date, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """A snapshot row as policies read it: every field, or those ``names`` (derived ones as of
    the date, those the platform does not hold as None), dates as timestamps, and where the
    values came from."""
    record: dict[str, Any] = {}
    wanted = FIELDS if names is None else [field_spec(n) for n in dict.fromkeys(names)]
    for spec in wanted:
        if not spec.held:
            record[spec.name] = None
        elif spec.name == "age_years":
            record[spec.name] = _age(row.get("founded_on"), as_of)
        elif spec.name == "rd_ratio":
            record[spec.name] = _ratio(row.get("revenue"), row.get("rd_expense"))
        elif spec.name == "founded_on":
            founded = row.get("founded_on")
            record[spec.name] = (
                None if founded is None else dt.datetime(founded.year, founded.month, founded.day)
            )
        else:
            record[spec.name] = row.get(spec.name)
    record["change_id"] = row.get("change_id")
    record[SCOPE_FIELD] = row.get(SCOPE_FIELD)  # who may read the record (chanye.registry.scope)
    return record


def _age(founded: dt.date | None, as_of: dt.date) -> int | None:
    if founded is None:
        return None
    return as_of.year - founded.year - ((as_of.month, as_of.day) < (founded.month, founded.day))


def _ratio(revenue: float | None, rd_expense: float | None) -> float | None:
    if revenue is None or rd_expense is None:
        return None
    return 0.0 if revenue == 0 else rd_expense / revenue


# --- evaluating ------------------------------------------------------------------------------


def eligible(population: Population, policy: Policy) -> Eligible:
    """The enterprises a policy valid on the population's date pays, with their amounts."""
    if not policy.valid_on(population.as_of):
        return Eligible(np.zeros(0, np.int64), np.zeros(0, np.float64))
    try:
        rows, amounts = columnar.eligible_rows(population.columns([policy]), policy)
        found = Eligible(np.asarray(rows, dtype=np.int64), amounts)
    except Unsupported:
        found = _eligible_sql(population, policy)
    if population.present is None:
        return found
    keep = population.present[found.rows]
    return Eligible(found.rows[keep], found.amounts[keep])


def _eligible_sql(population: Population, policy: Policy) -> Eligible:
    from chanye.policy.engine import compile_set, run_pairs

    pairs = run_pairs(population.sql(), compile_set([policy], population.as_of))
    pairs = pairs.sort_by("rid")
    amounts = pc.fill_null(pc.cast(pairs["amount"], pa.float64()), np.nan)
    return Eligible(
        np.asarray(pairs["rid"].to_numpy(), dtype=np.int64),
        np.asarray(amounts.to_numpy(), dtype=np.float64),
    )


def match_all(population: Population, policies: Sequence[Policy]) -> list[Eligible]:
    """Every policy's eligible rows, policies side by side on every core (numpy releases the
    GIL inside its loops)."""
    return _side_by_side(population, policies, eligible)


def candidates_all(population: Population, policies: Sequence[Policy]) -> list[Candidates]:
    """Every policy's candidates (``candidates``), policies side by side on every core."""
    return _side_by_side(population, policies, candidates)


def _side_by_side(
    population: Population,
    policies: Sequence[Policy],
    work: Callable[[Population, Policy], Found],
) -> list[Found]:
    from concurrent.futures import ThreadPoolExecutor

    # Load the columns once, before the threads start; a field the columnar engine cannot
    # hold sends the policies reading it through SQL, one by one.
    with contextlib.suppress(Unsupported):
        population.columns(policies)
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        return list(pool.map(lambda p: work(population, p), policies))


def _workers() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def condition_states(population: Population, policy: Policy) -> ConditionStates:
    """Each condition's outcome on every enterprise (no short-circuit: explanations and near
    misses need each one)."""
    try:
        columns = population.columns([policy])
        evaluator = columnar._Evaluator(columns, policy.parameters)
        holds, unknown = [], []
        for condition in policy.conditions:
            value, known = evaluator.run(condition.node, None)
            value = np.broadcast_to(np.asarray(value, dtype=bool), (population.size,))
            known_mask = (
                np.ones(population.size, bool) if known is None else np.asarray(known, bool)
            )
            holds.append(value & known_mask)
            unknown.append(~known_mask)
        states = ConditionStates(holds, unknown, population.size)
    except Unsupported:
        states = _condition_states_sql(population, policy)
    return _existing_states(population, states)


def _existing_states(population: Population, states: ConditionStates) -> ConditionStates:
    """An enterprise not yet founded on the date holds no condition and lacks no value."""
    if population.present is None:
        return states
    present = population.present
    return ConditionStates(
        [h & present for h in states.holds], [u & present for u in states.unknown], states.size
    )


def candidates(population: Population, policy: Policy) -> Candidates:
    """The enterprises no condition is known to fail on (those a policy pushes to), with each
    condition's state and the amount there (no rows: the policy is not in force)."""
    if not policy.valid_on(population.as_of):
        empty = np.zeros(0, np.int64)
        nothing = [np.zeros(0, bool) for _ in policy.conditions]
        return Candidates(empty, nothing, list(nothing), np.zeros(0, np.float64))
    try:
        return _existing(population, columnar.candidate_rows(population.columns([policy]), policy))
    except Unsupported:
        return _candidates_sql(population, policy)


def _existing(population: Population, found: Candidates) -> Candidates:
    """The candidates that existed on the date (founded by then)."""
    if population.present is None:
        return found
    keep = population.present[found.rows]
    return Candidates(
        found.rows[keep],
        [h[keep] for h in found.holds],
        [u[keep] for u in found.unknown],
        found.amounts[keep],
    )


def _candidates_sql(population: Population, policy: Policy) -> Candidates:
    states = _condition_states_sql(population, policy)
    rows = np.flatnonzero(states.failed_counts() == 0)
    found = Candidates(
        rows,
        [h[rows] for h in states.holds],
        [u[rows] for u in states.unknown],
        np.full(len(rows), np.nan),
    )
    paid = _eligible_sql(population, policy)  # rows ascending, like the candidates'
    found.amounts[np.searchsorted(rows, paid.rows)] = paid.amounts
    return _existing(population, found)


def _condition_states_sql(population: Population, policy: Policy) -> ConditionStates:
    """Each condition's outcome through SQL, full length: a row the SQL table does not hold
    (not founded by the date) holds no condition and lacks no value."""
    import ibis

    from chanye.policy.compile import base_table, compile_node

    table = base_table(policies=[policy])
    checks = {
        f"c{i}": compile_node(c.node, table, policy.parameters)
        for i, c in enumerate(policy.conditions)
    }
    sql = ibis.to_sql(table.select(rid=table.rid, **checks).order_by("rid"), dialect="duckdb")
    held = population.sql()
    held.prepare([policy])
    found = held.con.execute(str(sql)).to_arrow_table()
    rows = np.asarray(found["rid"].to_numpy(), dtype=np.int64)
    holds, unknown = [], []
    for name in checks:
        holds.append(_at_rows(population.size, rows, pc.fill_null(found[name], False)))
        unknown.append(_at_rows(population.size, rows, pc.is_null(found[name])))
    return ConditionStates(holds, unknown, population.size)


def _at_rows(size: int, rows: np.ndarray, flags: pa.ChunkedArray) -> np.ndarray:
    """``flags`` of ``rows`` spread over every row (False elsewhere)."""
    spread = np.zeros(size, bool)
    spread[rows] = np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool)
    return spread


def in_scope(population: Population, scope: Scope) -> np.ndarray | None:
    """Which rows ``scope`` admits (None: every row), as ``chanye.registry.scope`` decides."""
    return scope.mask(population.usccs, population.view.column(SCOPE_FIELD))


_CACHE_LOCK = threading.Lock()
_CACHED: Population | None = None


def population_of(context: RegistryContext, as_of: dt.date) -> Population:
    """The process's population of the registry in force as of ``as_of``: the same one (and its
    loaded columns) until the registry view or the date changes."""
    global _CACHED
    view = registry_view(context)
    with _CACHE_LOCK:
        facts = context.facts()
        if (
            _CACHED is None
            or _CACHED.view is not view
            or _CACHED.as_of != as_of
            or _CACHED.facts != facts
        ):
            _CACHED = Population(view, as_of, facts)
        return _CACHED
