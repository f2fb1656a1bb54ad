"""Reading the registry: one enterprise, statistics, search and export (DuckDB).

Every read that can show more than one enterprise takes a ``Scope`` (``chanye.registry.scope``):
its rows, and every figure computed from them, are limited to what the reader may see.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from chanye.registry.facts import Facts
from chanye.registry.fields import FIELD_BY_NAME as RECORD_FIELDS
from chanye.registry.importer import formula_safe_sql
from chanye.registry.schema import FIELDS, TAG_LABELS
from chanye.registry.scope import Scope
from chanye.registry.storage import (
    EVIDENCE_VIEW,
    RECORD_COLUMNS,
    VIEW,
    connect,
    create_view,
)
from chanye.registry.view import RegistryView

SORT_KEYS: tuple[str, ...] = ("revenue", "name", "founded_on", "employees", "uscc", "rd_expense")
MAX_PAGE_SIZE = 200
SEARCH_TABLE = "search_rows"
# Pages whose rows lie within the first ONE_PASS_ROWS come from one aggregate scan (DuckDB's
# min_by/max_by keep at most a million); deeper pages sort (or continue after a cursor).
ONE_PASS_ROWS = 10_000
XLSX_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header
PAGE_COLUMNS = (
    "uscc",
    "name",
    "district_code",
    "industry_code",
    "revenue",
    "employees",
    "founded_on",
    "tags",
    "clusters",
    "chain_links",
    "status",
)
SEARCH_COLUMNS = (*PAGE_COLUMNS, "industries", "rd_expense")


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None  # name fragment, or a USCC prefix
    cluster: str | None = None  # any industry id (cluster, future or service industry)
    chain_link: str | None = None
    district: str | None = None
    tag: str | None = None
    min_revenue: float | None = None  # yuan
    max_revenue: float | None = None
    status: str | None = None
    sort: str = "revenue"
    descending: bool = True
    page: int = 1
    page_size: int = 20
    # The row id of the previous page's last row (keyset pagination: any depth at the cost of
    # the first page); None: the page is found by its number.
    after: int | None = None
    # Which enterprises the asker may see (a chain leader's industries; an enterprise none).
    scope: Scope = field(default_factory=Scope.all)


@dataclass
class SearchPage:
    query: SearchQuery
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))

    last_rid: int | None = None  # the row id of the page's last row

    @property
    def next_after(self) -> int | None:
        """The cursor of the next page (``SearchQuery.after``), None on the last page."""
        return self.last_rid if self.query.page < self.pages else None


class RegistryReader:
    """A read-only view of one registry snapshot (plus overrides), for many queries."""

    def __init__(self, view: RegistryView) -> None:
        self.snapshot = view.snapshot
        self.con: duckdb.DuckDBPyConnection = connect(view.paths)
        create_view(self.con, view.paths, view.snapshot, view.overrides)
        # What search reads, numbered by ``rid`` in the default order (largest revenue first),
        # are the view's columns: mapped from the snapshot's Arrow file, the same pages the
        # policy engine and every other worker process read. DuckDB scans them without a copy.
        columns = view.columns(SEARCH_COLUMNS)
        self._columns = columns.add_column(0, "rid", pa.array(view.search_ids()))
        self.con.register(SEARCH_TABLE, self._columns)

    def count(self, scope: Scope | None = None) -> int:
        """How many enterprises the registry holds (within ``scope``, when given)."""
        condition, params = (scope or Scope.all()).where()
        row = self.con.execute(
            f"SELECT count(*) FROM {SEARCH_TABLE} WHERE {condition}", params
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()

    # --- one enterprise ---------------------------------------------------------------------

    def show(self, uscc: str, facts: Facts | None = None) -> dict[str, Any] | None:
        """One enterprise's record, classification and evidence; with ``facts`` (those in force),
        its history, 快报 and qualifications too."""
        rows = self.con.execute(
            f"SELECT * FROM {VIEW} WHERE uscc = ?", [uscc.strip().upper()]
        ).fetchall()
        if not rows:
            return None
        names = [d[0] for d in self.con.description or []]
        record = dict(zip(names, rows[0], strict=True))
        evidence = self.con.execute(
            f"SELECT industry, link, via, value, confidence FROM {EVIDENCE_VIEW} WHERE uscc = ? "
            "ORDER BY industry, via, value",
            [record["uscc"]],
        ).fetchall()
        return {
            **{c: _plain(record[c]) for c in RECORD_COLUMNS},
            "industries": record["industries"] or [],
            "clusters": record["clusters"] or [],
            "chain_links": record["chain_links"] or [],
            "confidence": {industry: confidence for industry, _, _, _, confidence in evidence},
            "evidence": [
                {"industry": industry, "link": link, "via": via, "value": value}
                for industry, link, via, value, _ in evidence
            ],
            "overridden": bool(record["overridden"]),
            "change_id": record["change_id"],
            **(facts.of(self.con, record["uscc"]) if facts else {}),
        }

    # --- statistics -------------------------------------------------------------------------

    def stats(self, scope: Scope | None = None) -> dict[str, Any]:
        """Counts and revenue by industry, district, tag and status, over the enterprises in
        ``scope`` only; a chain leader's industry figures name only their own industries."""
        scope = scope or Scope.all()
        condition, params = scope.where()
        rows = f"(SELECT * FROM {SEARCH_TABLE} WHERE {condition})"

        def grouped(key: str, source: str = rows) -> list[tuple[Any, ...]]:
            return self.con.execute(
                f"SELECT k, count(*), sum(revenue) FROM (SELECT {key} AS k, revenue FROM {source}) "
                "GROUP BY k ORDER BY k",
                params,
            ).fetchall()

        def shown(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return [r for r in found if scope.shows_industry(str(r[0]))]

        found = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE len(industries) = 0) FROM {rows}", params
        ).fetchone()
        by_industry = shown(grouped("unnest(industries)"))
        return {
            "total": int(found[0]) if found else 0,
            "by_cluster": {
                str(k): {"enterprises": int(n), "revenue": float(revenue or 0)}
                for k, n, revenue in shown(grouped("unnest(clusters)"))
            },
            "by_industry": {str(k): int(n) for k, n, _ in by_industry},
            "industry_revenue": {str(k): float(revenue or 0) for k, _, revenue in by_industry},
            "by_district": {str(k): int(n) for k, n, _ in grouped("district_code")},
            "by_tag": {str(k): int(n) for k, n, _ in grouped("unnest(tags)")},
            "by_status": {str(k): int(n) for k, n, _ in grouped("status")},
            "unclassified": int(found[1]) if found else 0,
        }

    # --- search -----------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of a search, with the number of enterprises found. Shallow pages (the usual
        case) come from one scan; deeper ones by keyset (``after``) or by a sorted offset."""
        where, params = where_clause(query)
        key = query.sort if query.sort in SORT_KEYS else "revenue"
        order = _Order(key, query.descending)
        size = max(1, min(query.page_size, MAX_PAGE_SIZE))
        offset = (max(query.page, 1) - 1) * size
        if query.after is None and offset + size <= ONE_PASS_ROWS:
            total, page_ids = self._first_rows(where, params, order, offset + size)
            page_ids = page_ids[offset:]
        elif query.after is not None:
            total = self._count(where, params)
            following, cursor = order.after(query.after)
            page_ids = self._sorted_ids([*where, following], [*params, *cursor], order, size)
        else:
            total = self._count(where, params)
            # Past the end: an empty page, and no huge offset ever reaches DuckDB.
            page_ids = (
                self._sorted_ids(where, params, order, size, offset) if offset < total else []
            )
        last = page_ids[-1] if page_ids else None
        return SearchPage(query=query, total=total, rows=self._rows(page_ids), last_rid=last)

    def _first_rows(
        self, where: list[str], params: list[object], order: _Order, count: int
    ) -> tuple[int, list[int]]:
        """The count and the row ids of the first ``count`` rows in one aggregate pass (a count
        and a sorted page as two queries would read a 3.6-million-row name column twice):
        max_by/min_by with a limit keep only that many, so nothing but the page leaves the scan."""
        found = self.con.execute(
            f"SELECT count(*), {order.top_rows(count)} FROM {SEARCH_TABLE} {_where(where)}",
            params,
        ).fetchone()
        if not found:
            return 0, []
        return int(found[0]), [int(r) for r in (found[1] or [])]

    def _count(self, where: list[str], params: list[object]) -> int:
        row = self.con.execute(
            f"SELECT count(*) FROM {SEARCH_TABLE} {_where(where)}", params
        ).fetchone()
        return int(row[0]) if row else 0

    def _sorted_ids(
        self, where: list[str], params: list[object], order: _Order, size: int, offset: int = 0
    ) -> list[int]:
        found = self.con.execute(
            f"SELECT rid FROM {SEARCH_TABLE} {_where(where)} ORDER BY {order.sql} "
            f"LIMIT {int(size)} OFFSET {int(offset)}",
            params,
        ).fetchall()
        return [int(r[0]) for r in found]

    def _rows(self, page_ids: list[int]) -> list[dict[str, Any]]:
        if not page_ids:
            return []
        # Only the page's rows leave the scan of the mapped columns (an IN list over one column).
        result = self.con.execute(
            f"SELECT rid, {', '.join(PAGE_COLUMNS)} FROM {SEARCH_TABLE} "
            f"WHERE rid IN ({', '.join(map(str, page_ids))})"
        )
        names = [d[0] for d in result.description or []]
        by_id = {r[0]: dict(zip(names[1:], r[1:], strict=True)) for r in result.fetchall()}
        return [{k: _plain(v) for k, v in by_id[i].items()} for i in page_ids]

    # --- export -----------------------------------------------------------------------------

    def export(self, path: Path) -> int:
        """Write the registry with the Chinese headers import accepts (money in yuan, tags as
        Chinese labels), so an export can be imported again unchanged."""
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".xlsx", ".parquet"):
            raise ValueError(f"不支持的导出格式“{suffix}” / unsupported export format {suffix!r}")
        if suffix == ".xlsx" and self.count() > XLSX_MAX_ROWS:
            raise ValueError(
                f"企业数超过 Excel 单表上限（{XLSX_MAX_ROWS:,} 行），请导出为 CSV 或 Parquet / "
                f"more enterprises than an Excel sheet holds: export CSV or Parquet"
            )
        select = _export_select(safe=suffix != ".parquet")
        tmp = path.with_name(path.name + ".tmp")
        if suffix == ".xlsx":
            _export_xlsx(self.con, select, tmp)
        else:
            options = (
                "FORMAT PARQUET, COMPRESSION ZSTD"
                if suffix == ".parquet"
                else "HEADER, DELIMITER ','"
            )
            self.con.execute(f"COPY ({select}) TO '{tmp}' ({options})")
        tmp.replace(path)
        row = self.con.execute(f"SELECT count(*) FROM {VIEW}").fetchone()
        return int(row[0]) if row else 0


@dataclass(frozen=True)
class _Order:
    """A search's order: by one value, then (ties, missing values) by the stored row order, so
    that pages never overlap. Missing numbers sort last either way."""

    key: str
    descending: bool

    @property
    def value(self) -> str:
        if self.key in ("name", "uscc", "founded_on"):
            return f"coalesce(CAST({self.key} AS VARCHAR), '')"
        return f"coalesce({self.key}, {'-1e308' if self.descending else '1e308'})"

    @property
    def sql(self) -> str:
        return f"{self.value} {'DESC' if self.descending else 'ASC'}, rid"

    def top_rows(self, count: int) -> str:
        """SQL aggregate for the row ids of the first ``count`` rows in this order."""
        if self.key == "revenue" and self.descending:  # the stored order: smallest ids first
            return f"min_by(rid, rid, {count})"
        pick, tie = ("max_by", "-rid") if self.descending else ("min_by", "rid")
        return f"{pick}(rid, struct_pack(v := {self.value}, t := {tie}), {count})"

    def after(self, rid: int) -> tuple[str, list[object]]:
        """The condition for the rows after row ``rid`` in this order (none if it is unknown)."""
        cursor = f"(SELECT {self.value} FROM {SEARCH_TABLE} WHERE rid = ?)"
        beyond = "<" if self.descending else ">"
        return (
            f"({self.value} {beyond} {cursor} OR ({self.value} = {cursor} AND rid > ?))",
            [rid, rid, rid],
        )


_SHARED: weakref.WeakKeyDictionary[RegistryView, RegistryReader] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared_reader(view: RegistryView) -> RegistryReader:
    """The one search reader of ``view``, for every caller that shares the view (the web pages);
    it goes with the view. Its DuckDB connection serves one query at a time: callers take turns."""
    with _SHARED_LOCK:
        reader = _SHARED.get(view)
        if reader is None:
            reader = _SHARED[view] = RegistryReader(view)
        return reader


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _plain(value: Any) -> Any:
    """JSON-friendly values (dates as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def where_clause(q: SearchQuery) -> tuple[list[str], list[object]]:
    """SQL conditions and their parameters for a search. Built directly rather than through
    Ibis: compiling an expression costs more than the query itself on this hot path."""
    where: list[str] = []
    params: list[object] = []
    text = (q.text or "").strip()
    if text:
        upper = text.upper()
        if len(upper) >= 2 and upper.isascii() and upper.isalnum():
            where.append("(starts_with(uscc, ?) OR contains(name, ?))")
            params += [upper, text]
        else:
            where.append("contains(name, ?)")
            params.append(text)
    for column, value in (
        ("industries", q.cluster),
        ("chain_links", q.chain_link),
        ("tags", q.tag),
    ):
        if value:
            where.append(f"list_contains({column}, ?)")
            params.append(value)
    in_scope, scope_params = q.scope.where()
    where.append(in_scope)
    params += scope_params
    for column, value in (("district_code", q.district), ("status", q.status)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if q.min_revenue is not None:
        where.append("revenue >= ?")
        params.append(q.min_revenue)
    if q.max_revenue is not None:
        where.append("revenue <= ?")
        params.append(q.max_revenue)
    return where, params


def _export_select(safe: bool) -> str:
    """Columns for export under the Chinese headers; text made formula-safe for spreadsheets."""
    tag_case = (
        "CASE t "
        + " ".join(f"WHEN '{tag}' THEN '{labels[0]}'" for tag, labels in TAG_LABELS.items())
        + " END"
    )
    parts = []
    for spec in FIELDS:
        column = f'"{spec.name}"'
        header = RECORD_FIELDS[spec.name].labelled  # money with its unit: 营业收入（元）
        if spec.kind == "tags":
            column = f"array_to_string(list_transform(tags, t -> {tag_case}), '、')"
        elif spec.kind == "status":
            column = "CASE status WHEN 'active' THEN '存续' WHEN 'closed' THEN '注销' END"
        elif spec.kind == "date":
            column = "strftime(founded_on, '%Y-%m-%d')"
        if safe and spec.kind == "text":
            column = formula_safe_sql(column)
        parts.append(f'{column} AS "{header}"')
    parts.append("array_to_string(clusters, '、') AS \"产业集群\"")
    parts.append("array_to_string(chain_links, '、') AS \"产业链环节\"")
    return f"SELECT {', '.join(parts)} FROM {VIEW} ORDER BY uscc"


def _export_xlsx(con: duckdb.DuckDBPyConnection, select: str, target: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("企业名录")
    result = con.execute(select)
    sheet.append([d[0] for d in result.description or []])
    while batch := result.fetchmany(10_000):
        for row in batch:
            sheet.append(list(row))
    workbook.save(target)
