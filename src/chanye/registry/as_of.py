"""The registry as it stood on a date: a view's rows with the facts over time in force.

Policies (and every reader that asks "as of") see each enterprise as it was on the day:

- **financials** (``revenue``, ``rd_expense``, ``employees``): the figure of the latest full year
  the registry holds before the day's year. An enterprise with no yearly figure of an indicator at
  all is read with the enterprise list's figure (the list's "latest full year").
- **qualifications** (``tags``): the kinds one of its qualifications covers on the day. A tag the
  enterprise list gives without dates counts only for a kind of which the registry holds no dated
  qualification for that enterprise: a dated record (an expiry, a later recognition) wins.
- **existence**: only enterprises founded by the day (``founded_by``).

Everything is worked out in DuckDB over the parts of facts in force, aligned with the view's row
numbers, so that millions of enterprises cost one scan per indicator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chanye.registry.facts import Facts
from chanye.registry.fields import YEARLY_FIELDS
from chanye.registry.view import RegistryView

AS_OF_FIELDS = (*YEARLY_FIELDS, "tags")
Which = Literal["any", "first", "renewal"]  # which recognitions of a kind count


def founded_by(view: RegistryView, as_of: dt.date) -> np.ndarray:
    """Which rows existed on ``as_of``: founded by then (or with no founding date)."""
    founded = pc.cast(view.column("founded_on"), pa.date32())
    later = pc.fill_null(pc.greater(founded, pa.scalar(as_of, pa.date32())), False)
    return ~np.asarray(later.to_numpy(zero_copy_only=False), dtype=bool)


class RegistryAsOf:
    """The fields of ``AS_OF_FIELDS`` for every row of ``view``, as of one date."""

    def __init__(self, view: RegistryView, facts: Facts, as_of: dt.date) -> None:
        self.view, self.facts, self.as_of = view, facts, as_of

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own for one computation, closed after it: none outlives the
        work (a DuckDB connection left to the end of the process may abort it as it exits),
        and the row keys are the view's own column, registered without a copy."""
        con = duckdb.connect()
        try:
            keys = pa.table(
                {
                    "uscc": self.view.combined("uscc"),
                    "rid": pa.array(np.arange(self.view.size, dtype=np.int64)),
                }
            )
            con.register("row_keys", keys)
            yield con
        finally:
            con.close()

    def _query(
        self, sql: str, params: Sequence[object] = (), tables: dict[str, pa.Table] | None = None
    ) -> pa.Table:
        """The rows of ``sql`` over the row keys (and ``tables``), as Arrow."""
        with self._connection() as con:
            for name, table in (tables or {}).items():
                con.register(name, table)
            return con.execute(sql, list(params)).fetch_arrow_table()

    def column(self, name: str, listed: pa.ChunkedArray | pa.Array) -> pa.Array:
        """Field ``name`` as of the date; ``listed`` is the enterprise list's column."""
        if name == "tags":
            return self._tags(listed)
        return self._yearly(name, listed)

    def _yearly(self, indicator: str, listed: pa.ChunkedArray | pa.Array) -> pa.Array:
        """The latest full year's figure before the date's year (a later figure is not yet
        known then); the list's figure where the registry holds no yearly figure at all."""
        found = self._query(
            f"""SELECT k.rid, arg_max(f.value, CAST(f.period AS INTEGER))
                           FILTER (WHERE CAST(f.period AS INTEGER) < ?) AS value
                FROM {self.facts.source("facts")} f JOIN row_keys k USING (uscc)
                WHERE f.indicator = ? AND f.measure = 'year'
                GROUP BY k.rid""",
            [self.as_of.year, indicator],
        )
        listed_values = _combined(listed)
        if not found.num_rows:
            return listed_values
        values = np.asarray(
            pc.cast(pc.fill_null(listed_values, 0), pa.float64()).to_numpy(), dtype=np.float64
        ).copy()
        known = np.asarray(pc.is_valid(listed_values).to_numpy(zero_copy_only=False), bool).copy()
        rows = np.asarray(found["rid"].to_numpy(), dtype=np.int64)
        values[rows] = np.asarray(pc.fill_null(found["value"], 0.0).to_numpy(), np.float64)
        known[rows] = np.asarray(pc.is_valid(found["value"]).to_numpy(zero_copy_only=False), bool)
        array = pa.array(values, mask=~known)
        return array if pa.types.is_floating(listed_values.type) else array.cast(listed_values.type)

    def _tags(self, listed: pa.ChunkedArray | pa.Array) -> pa.Array:
        """The kinds held on the date, and the list's undated tags of other kinds."""
        source = self.facts.source("qualifications")
        dated = self._query(f"SELECT count(*) AS n FROM {source} JOIN row_keys k USING (uscc)")
        if not dated["n"][0].as_py():
            return _combined(listed)
        found = self._query(
            f"""WITH dated AS (
                    SELECT k.rid, q.kind,
                           bool_or(q.recognised_on <= ? AND coalesce(q.valid_until >= ?, true))
                               AS held
                    FROM {source} q JOIN row_keys k USING (uscc) GROUP BY k.rid, q.kind),
                undated AS (
                    SELECT l.rid, unnest(l.tags) AS kind FROM listed_tags l
                    WHERE l.rid IN (SELECT rid FROM dated)),
                kinds AS (
                    SELECT rid, kind FROM dated WHERE held
                    UNION SELECT u.rid, u.kind FROM undated u ANTI JOIN dated d USING (rid, kind)),
                held AS (
                    SELECT d.rid, coalesce(list_sort(list(k.kind) FILTER (WHERE k.kind IS NOT NULL)),
                                           []::VARCHAR[]) AS tags
                    FROM (SELECT DISTINCT rid FROM dated) d LEFT JOIN kinds k USING (rid)
                    GROUP BY d.rid)
                SELECT CASE WHEN h.rid IS NULL THEN l.tags ELSE h.tags END AS tags
                FROM listed_tags l LEFT JOIN held h USING (rid) ORDER BY l.rid""",
            [self.as_of, self.as_of],
            {"listed_tags": pa.table({"rid": np.arange(len(listed)), "tags": listed})},
        )
        return _combined(found["tags"])

    def _years(self, indicator: str) -> str:
        """SQL: each enterprise's yearly figures before the date's year, with how many years
        each lies before its latest one (``back``: 0 is the latest)."""
        return f"""(
            WITH y AS (
                SELECT k.rid, CAST(f.period AS INTEGER) AS year, f.value
                FROM {self.facts.source("facts")} f JOIN row_keys k USING (uscc)
                WHERE f.indicator = '{indicator}' AND f.measure = 'year'
                  AND CAST(f.period AS INTEGER) < {self.as_of.year})
            SELECT rid, year, value, max(year) OVER (PARTITION BY rid) - year AS back FROM y)"""

    def _by_row(self, sql: str) -> pa.Array:
        """Values by row number from ``sql`` (``rid``, ``value``); null where it has none."""
        found = self._query(sql)
        values = np.zeros(self.view.size, np.float64)
        known = np.zeros(self.view.size, bool)
        rows = np.asarray(found["rid"].to_numpy(), dtype=np.int64)
        values[rows] = np.asarray(pc.fill_null(found["value"], 0.0).to_numpy(), np.float64)
        known[rows] = np.asarray(pc.is_valid(found["value"]).to_numpy(zero_copy_only=False), bool)
        return pa.array(values, mask=~known)

    def years_back(self, indicator: str, back: int) -> pa.Array:
        """The figure ``back`` years before the latest full year (null where not held)."""
        return self._by_row(f"SELECT rid, value FROM {self._years(indicator)} WHERE back = {back}")

    def peak_before(self, indicator: str) -> pa.Array:
        """The highest figure of the years before the latest (null with no earlier year)."""
        return self._by_row(
            f"SELECT rid, max(value) AS value FROM {self._years(indicator)} WHERE back > 0 "
            "GROUP BY rid"
        )

    def recognised(self, kind: str, start: dt.date, end: dt.date, which: Which) -> pa.Array:
        """Whether the enterprise was recognised as ``kind`` between ``start`` and ``end`` (and
        by the date): any recognition, its first ever, or a renewal. Unknown for one holding the
        kind only by an undated tag of the enterprise list (when it was recognised is not held)."""
        end = min(end, self.as_of)
        counted = {
            "any": "true",
            "first": "q.recognised_on = f.first",
            "renewal": "q.recognised_on > f.first",
        }[which]
        found = self._query(
            f"""WITH q AS (SELECT k.rid, s.recognised_on FROM {self.facts.source("qualifications")} s
                           JOIN row_keys k USING (uscc) WHERE s.kind = ?),
                     f AS (SELECT rid, min(recognised_on) AS first FROM q GROUP BY rid)
                SELECT DISTINCT q.rid FROM q JOIN f USING (rid)
                WHERE q.recognised_on BETWEEN ? AND ? AND {counted}""",
            [kind, start, end],
        )
        values = np.zeros(self.view.size, bool)
        values[np.asarray(found["rid"].to_numpy(), dtype=np.int64)] = True
        dated = self._query(
            f"SELECT DISTINCT k.rid FROM {self.facts.source('qualifications')} s "
            "JOIN row_keys k USING (uscc) WHERE s.kind = ?",
            [kind],
        )
        undated = _holds(self.view.column("tags"), kind)
        undated[np.asarray(dated["rid"].to_numpy(), dtype=np.int64)] = False
        return pa.array(values, mask=undated)


def _holds(tags: pa.ChunkedArray, kind: str) -> np.ndarray:
    """Which rows' tag lists hold ``kind``."""
    flat = pc.list_flatten(tags)
    owners = pc.list_parent_indices(tags)
    rows = np.asarray(owners.to_numpy(), dtype=np.int64)[
        np.asarray(pc.fill_null(pc.equal(flat, kind), False).to_numpy(zero_copy_only=False), bool)
    ]
    found = np.zeros(len(tags), bool)
    found[rows] = True
    return found


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


__all__: Sequence[str] = ("AS_OF_FIELDS", "RegistryAsOf", "founded_by")
