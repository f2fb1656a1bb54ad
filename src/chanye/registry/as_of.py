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
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Years:
    """One indicator's yearly figures: row ``year - first`` of ``values`` holds that year's
    figure of every enterprise (by view row), ``known`` where there is one."""

    first: int
    values: np.ndarray
    known: np.ndarray


class RegistryAsOf:
    """The fields of ``AS_OF_FIELDS`` for every row of ``view``, as of one date."""

    def __init__(self, view: RegistryView, facts: Facts, as_of: dt.date) -> None:
        self.view, self.facts, self.as_of = view, facts, as_of
        self._kept_years: dict[str, _Years] = {}
        self._held: dict[str, list[int]] | None = None
        self._lock = threading.Lock()

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
        years = self._years(indicator)
        listed_values = _combined(listed)
        if not years.known.any():
            return listed_values
        latest, held = self._latest_before(years)
        columns = np.arange(self.view.size)
        values = np.asarray(
            pc.cast(pc.fill_null(listed_values, 0), pa.float64()).to_numpy(), dtype=np.float64
        ).copy()
        known = np.asarray(pc.is_valid(listed_values).to_numpy(zero_copy_only=False), bool).copy()
        registered = years.known.any(axis=0)  # held yearly: the list's figure is not read
        values[registered] = np.where(held, years.values[latest, columns], 0.0)[registered]
        known[registered] = held[registered]
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

    def _years(self, indicator: str) -> _Years:
        """Every enterprise's yearly figures of ``indicator``, a row per year: one scan per
        indicator, kept. The field as of the date and ``prior``, ``growth`` (two of them) and
        ``peak_before`` of the same indicator all read it."""
        with self._lock:
            if indicator not in self._kept_years:
                self._kept_years[indicator] = self._read_years(indicator)
            return self._kept_years[indicator]

    def _read_years(self, indicator: str) -> _Years:
        """A column per year (one grouped scan, as fast as the latest year's alone), laid out
        as a row per year over the view's rows."""
        source = self.facts.source("facts")
        years = self._years_held().get(indicator, [])
        first = min(years, default=self.as_of.year)
        count = max(years, default=first) - first + 1
        values = np.zeros((count, self.view.size), np.float64)
        known = np.zeros((count, self.view.size), bool)
        if not years:
            return _Years(first, values, known)
        columns = ", ".join(
            f"first(f.value) FILTER (WHERE f.period = '{y}') AS y{y}" for y in years
        )
        found = self._query(
            f"""SELECT k.rid, {columns} FROM {source} f JOIN row_keys k USING (uscc)
                WHERE f.indicator = ? AND f.measure = 'year' GROUP BY k.rid""",
            [indicator],
        )
        rows = np.asarray(found["rid"].to_numpy(), dtype=np.int64)
        for year in years:
            column = found[f"y{year}"]
            values[year - first, rows] = np.asarray(
                pc.fill_null(column, 0.0).to_numpy(), np.float64
            )
            known[year - first, rows] = np.asarray(
                pc.is_valid(column).to_numpy(zero_copy_only=False)
            )
        return _Years(first, values, known)

    def _years_held(self) -> dict[str, list[int]]:
        """The years each indicator has figures of (one scan for all: an indicator with none
        is not scanned for again)."""
        if self._held is None:
            found = self._query(
                f"SELECT DISTINCT indicator, period FROM {self.facts.source('facts')} "
                "WHERE measure = 'year'"
            )
            held: dict[str, list[int]] = {}
            for indicator, period in zip(
                found["indicator"].to_pylist(), found["period"].to_pylist(), strict=True
            ):
                held.setdefault(str(indicator), []).append(int(period))
            self._held = {k: sorted(v) for k, v in held.items()}
        return self._held

    def _latest_before(self, years: _Years) -> tuple[np.ndarray, np.ndarray]:
        """Each enterprise's latest year before the date's year (its row in ``years``) and
        whether it has one."""
        before = max(0, min(self.as_of.year - years.first, len(years.known)))
        if before == 0:
            return np.zeros(self.view.size, np.int64), np.zeros(self.view.size, bool)
        known = years.known[:before]
        latest = before - 1 - np.argmax(known[::-1], axis=0)
        return latest, np.asarray(known.any(axis=0), dtype=bool)

    def years_back(self, indicator: str, back: int) -> pa.Array:
        """The figure ``back`` years before the latest full year (null where not held)."""
        years = self._years(indicator)
        latest, held = self._latest_before(years)
        wanted = latest - back
        columns = np.arange(self.view.size)
        inside = held & (wanted >= 0)
        at = np.where(inside, wanted, 0)
        found = inside & years.known[at, columns]
        return pa.array(np.where(found, years.values[at, columns], 0.0), mask=~found)

    def peak_before(self, indicator: str) -> pa.Array:
        """The highest figure of the years before the latest (null with no earlier year)."""
        years = self._years(indicator)
        latest, held = self._latest_before(years)
        earlier = years.known & (np.arange(len(years.known))[:, None] < latest[None, :]) & held
        if not earlier.any():
            return pa.nulls(self.view.size, pa.float64())
        highest = np.where(earlier, years.values, -np.inf).max(axis=0)
        found = earlier.any(axis=0)
        return pa.array(np.where(found, highest, 0.0), mask=~found)

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
