"""The portable engine: all policies over the registry in DuckDB, compiled from CEL via Ibis.

The enterprises are loaded once into an in-memory table (``policy_base``: the fields policies
read, with ``age_years`` and ``rd_ratio`` derived as of the matching date). Built from a
``Population`` it holds the registry as the columnar engine sees it on the date (the same
columns: founded by then, qualifications held, the latest full year's figures), and each history
call a policy makes becomes a column of its own, added when a policy first needs it. Every policy
then becomes one filtered SELECT, and all of them run as one ``UNION ALL`` statement: DuckDB scans
the columns in parallel and evaluates each policy's conditions on the rows that survive the
previous ones. The SQL is compiled once per set of policies and reused.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import duckdb
import ibis
import numpy as np
import pyarrow as pa

from chanye.policy.compile import BASE_TABLE, base_table, compile_node, history_calls
from chanye.policy.fields import FIELDS, REGISTRY_COLUMNS, field_spec
from chanye.policy.model import Policy

HELD_SOURCE = {
    "founded_on": "CAST(founded_on AS TIMESTAMP)",
    "age_years": "CASE WHEN founded_on IS NULL THEN NULL ELSE year(DATE '{as_of}') - year(founded_on)"
    " - CASE WHEN month(DATE '{as_of}') * 100 + day(DATE '{as_of}') < month(founded_on) * 100"
    " + day(founded_on) THEN 1 ELSE 0 END END",
    "rd_ratio": "CASE WHEN revenue IS NULL OR rd_expense IS NULL THEN NULL WHEN revenue = 0 THEN 0.0"
    " ELSE rd_expense / revenue END",
}
TYPE_SQL = {
    "int": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "list": "VARCHAR[]",
}


def base_select(source: str, as_of: dt.date, placed: bool = True) -> str:
    """SQL turning a table of enterprises' values (``source``) into the table policies read,
    as the values stand (no facts over time: ``Population.sql`` loads the registry as of a date).
    ``placed``: the source has the enterprises' ``industries``, which row-level scope is decided
    on (``chanye.registry.scope``); without them (a bare table of values) no scoped reader sees
    any enterprise."""
    columns = ["row_number() OVER (ORDER BY uscc) - 1 AS rid"]  # rows in USCC order: stable
    for spec in FIELDS:
        if not spec.held or (spec.name not in REGISTRY_COLUMNS and spec.name not in HELD_SOURCE):
            # Not held, or read from the facts over time (a table of values has none of them).
            columns.append(f"CAST(NULL AS {TYPE_SQL[spec.type]}) AS {spec.name}")
        else:
            expression = HELD_SOURCE.get(spec.name, spec.name).replace("{as_of}", as_of.isoformat())
            columns.append(f"{expression} AS {spec.name}")
    columns.append("change_id")
    columns.append("industries" if placed else "CAST([] AS VARCHAR[]) AS industries")
    return f"SELECT {', '.join(columns)} FROM {source}"


History = Callable[[str], pa.Array | pa.ChunkedArray]  # a history call's column, every row


@dataclass
class SqlPopulation:
    """The enterprises as policies see them, in an in-memory DuckDB table, as of one date: the
    portable path (the Ibis-compiled SQL), used where the columnar engine cannot run a policy
    and by the agreement tests. ``size``: the rows of the registry (``rid`` below it; a row not
    in the table did not exist on the date). ``history``: each history call's column, for every
    row, as the columnar engine has it (``Population``); a bare table of values has none."""

    con: duckdb.DuckDBPyConnection
    as_of: dt.date
    size: int
    history: History | None = None
    loaded: set[str] = field(default_factory=set)  # the history calls held as columns
    # Policies may run side by side (``population.match_all``): one adds a column at a time.
    _adding: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, source: str, as_of: dt.date) -> SqlPopulation:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        placed = any(column[0] == "industries" for column in described)
        con.execute(f"CREATE OR REPLACE TABLE {BASE_TABLE} AS {base_select(source, as_of, placed)}")
        con.execute(f"CREATE INDEX IF NOT EXISTS {BASE_TABLE}_uscc ON {BASE_TABLE} (uscc)")
        size = int(con.execute(f"SELECT count(*) FROM {BASE_TABLE}").fetchone()[0])  # type: ignore[index]
        return cls(con, as_of, size)

    def prepare(self, policies: Iterable[Policy]) -> None:
        """Add a column for each history call of ``policies`` not held yet, from ``history``."""
        with self._adding:
            wanted = [n for n in history_calls(policies) if n not in self.loaded]
            if wanted and self.history is None:
                raise ValueError(
                    "读取历年数据或资质认定的政策须在企业库上按日期计算（Population.sql()） / "
                    f"history functions need the registry's facts over time: {', '.join(wanted)}"
                )
            for name in wanted:
                self._add(name)

    def _add(self, name: str) -> None:
        """The history call ``name`` as a column of its own, by row number."""
        assert self.history is not None
        values = pa.table(
            {"rid": np.arange(self.size, dtype=np.int64), "value": self.history(name)}
        )
        kind = TYPE_SQL[field_spec(name).type]
        self.con.register("policy_history", values)
        self.con.execute(f'ALTER TABLE {BASE_TABLE} ADD COLUMN "{name}" {kind}')
        self.con.execute(
            f'UPDATE {BASE_TABLE} SET "{name}" = h.value FROM policy_history h '
            f"WHERE {BASE_TABLE}.rid = h.rid"
        )
        self.con.unregister("policy_history")
        self.loaded.add(name)

    @cached_property
    def usccs(self) -> pa.Array:
        """USCC by row number (rid); null for a row not in the table (not founded yet)."""
        return self.con.execute(
            f"SELECT b.uscc FROM range({self.size}) r(rid) LEFT JOIN {BASE_TABLE} b USING (rid)"
            " ORDER BY r.rid"
        ).to_arrow_table()["uscc"]

    def record(self, uscc: str) -> dict[str, Any] | None:
        """One enterprise's values as policies read them (None: not in the registry)."""
        return self._one(f"SELECT * FROM {BASE_TABLE} WHERE uscc = ?", [uscc.strip().upper()])

    def record_by_rid(self, rid: int) -> dict[str, Any]:
        found = self._one(f"SELECT * FROM {BASE_TABLE} WHERE rid = ?", [rid])
        if found is None:
            raise KeyError(rid)
        return found

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        cursor = self.con.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        return dict(zip(names, row, strict=True))


@dataclass
class CompiledSet:
    """The SQL for a set of policies as of a date, kept to be run again (warm runs)."""

    policies: list[Policy]
    pairs_sql: str
    active: list[Policy] = field(default_factory=list)


def eligibility(policy: Policy, table: Any) -> Any:
    """The conjunction of a policy's conditions as one Ibis boolean."""
    expressions = [compile_node(c.node, table, policy.parameters) for c in policy.conditions]
    combined = expressions[0]
    for expression in expressions[1:]:
        combined = combined & expression
    return combined


def amount_of(policy: Policy, table: Any) -> Any:
    if policy.amount is None:
        return ibis.null("float64")
    return compile_node(policy.amount, table, policy.parameters).cast("float64")


def compile_set(
    policies: list[Policy], as_of: dt.date, table_name: str = BASE_TABLE
) -> CompiledSet:
    """One ``UNION ALL`` over the policies valid on ``as_of``: rows (p, rid, amount)."""
    active = [p for p in policies if p.valid_on(as_of)]
    table = base_table(table_name, active)
    parts = []
    for index, policy in enumerate(policies):
        if policy not in active:
            continue
        selected = table.filter(eligibility(policy, table)).select(
            p=ibis.literal(index, type="int16"), rid=table.rid, amount=amount_of(policy, table)
        )
        parts.append(ibis.to_sql(selected, dialect="duckdb"))
    empty = "SELECT CAST(NULL AS SMALLINT) AS p, CAST(NULL AS BIGINT) AS rid, CAST(NULL AS DOUBLE) AS amount WHERE false"
    sql = "\nUNION ALL\n".join(f"({part})" for part in parts) if parts else empty
    return CompiledSet(policies, sql, active)


def run_pairs(population: SqlPopulation, compiled: CompiledSet) -> pa.Table:
    """Every eligible (policy index, row, amount) pair."""
    population.prepare(compiled.active)
    return population.con.execute(compiled.pairs_sql).to_arrow_table()


def condition_columns_sql(policy: Policy) -> str:
    """Per enterprise: which condition failed first (by id), and how many failed or were unknown
    (the population ``prepare``d for the policy)."""
    table = base_table(policies=[policy])
    checks = [compile_node(c.node, table, policy.parameters) for c in policy.conditions]
    failed_first = ibis.cases(
        *[
            (~check.fill_null(True), ibis.literal(c.id))
            for check, c in zip(checks, policy.conditions, strict=True)
        ],
        else_=ibis.null("string"),
    )
    failed = sum((~check.fill_null(True)).cast("int32") for check in checks)
    unknown = sum(check.isnull().cast("int32") for check in checks)
    selected = table.select(
        rid=table.rid, failing=failed_first, failed_count=failed, unknown_count=unknown
    )
    return str(ibis.to_sql(selected, dialect="duckdb"))


def decisions_sql(policy: Policy, all_rows: bool, as_of: dt.date) -> str:
    """policy_id, uscc, eligible, amount, failed (condition ids that did not hold, ``;``-joined;
    ``valid`` when the policy is not in force on the date). The population ``prepare``d for the
    policy."""
    table = base_table(policies=[policy])
    if not policy.valid_on(as_of):
        selected = table.select(
            policy_id=ibis.literal(policy.id),
            uscc=table.uscc,
            eligible=ibis.literal(False),
            amount=ibis.null("float64"),
            failed=ibis.literal("valid"),
        )
        return str(ibis.to_sql(selected if all_rows else selected.limit(0), dialect="duckdb"))
    checks = [compile_node(c.node, table, policy.parameters) for c in policy.conditions]
    eligible = eligibility(policy, table).fill_null(False)
    failed = ibis.literal(";").join(
        [
            ibis.cases((check.fill_null(False), ibis.null("string")), else_=ibis.literal(c.id))
            for check, c in zip(checks, policy.conditions, strict=True)
        ]
    )
    selected = table.select(
        policy_id=ibis.literal(policy.id),
        uscc=table.uscc,
        eligible=eligible,
        amount=ibis.cases((eligible, amount_of(policy, table)), else_=ibis.null("float64")),
        failed=failed,
    )
    if not all_rows:
        selected = selected.filter(selected.eligible)
    return str(ibis.to_sql(selected, dialect="duckdb"))


DELTA_TABLE = "policy_delta"


@dataclass
class Delta:
    """What a re-run over changed enterprises found, against the previous result."""

    pairs: pa.Table  # the changed enterprises' eligible pairs now
    gained: list[tuple[int, int]]  # (policy index, rid) eligible now, not before
    lost: list[tuple[int, int]]
    seconds: float


def rerun_changed(
    population: SqlPopulation, policies: list[Policy], previous: pa.Table, changed: list[int]
) -> Delta:
    """Re-evaluate only the enterprises (rids) that changed, and say who gained and who lost
    eligibility since ``previous`` (the last full or incremental result)."""
    import time

    started = time.perf_counter()
    con = population.con
    population.prepare(policies)  # before the copy: the changed rows' history columns too
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {DELTA_TABLE} AS SELECT * FROM {BASE_TABLE} "
        "WHERE rid IN (SELECT unnest(?))",
        [changed],
    )
    sql = compile_set(policies, population.as_of, DELTA_TABLE).pairs_sql
    now = con.execute(sql).to_arrow_table()
    con.register("policy_previous", previous)
    con.register("policy_now", now)
    before = f"SELECT p, rid FROM policy_previous WHERE rid IN (SELECT rid FROM {DELTA_TABLE})"
    gained = con.execute(
        f"SELECT p, rid FROM policy_now EXCEPT {before} ORDER BY p, rid"
    ).fetchall()
    lost = con.execute(f"{before} EXCEPT SELECT p, rid FROM policy_now ORDER BY p, rid").fetchall()
    con.unregister("policy_previous")
    con.unregister("policy_now")
    return Delta(
        now,
        [(int(a), int(b)) for a, b in gained],
        [(int(a), int(b)) for a, b in lost],
        time.perf_counter() - started,
    )
