"""Reading the registry: one enterprise, statistics, search and export (Ibis over DuckDB)."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from chanye.registry.importer import formula_safe

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa
from chanye.registry.schema import FIELDS, TAG_LABELS
from chanye.registry.storage import (
    EVIDENCE_VIEW,
    RECORD_COLUMNS,
    VIEW,
    RegistryPaths,
    connect,
    create_view,
)

SORT_KEYS: tuple[str, ...] = ("revenue", "name", "founded_on", "employees", "uscc", "rd_expense")
MAX_PAGE_SIZE = 200
SEARCH_TABLE = "search_rows"
DEFAULT_ORDER = "revenue DESC NULLS LAST, uscc"
XLSX_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header
PAGE_COLUMNS = ("uscc", "name", "district_code", "industry_code", "revenue", "employees",
                "founded_on", "tags", "clusters", "chain_links", "status")  # fmt: skip
SEARCH_COLUMNS = (*PAGE_COLUMNS, "industries", "rd_expense")
COLUMNS_DIR = "columns"  # under the registry's folder: the shared search columns
COLUMN_BATCH_ROWS = 65_536
STALE_TMP_SECONDS = 60


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
    # Industries the asker may see (a chain leader's clusters); empty: no restriction.
    within: tuple[str, ...] = ()


@dataclass
class SearchPage:
    query: SearchQuery
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


class RegistryReader:
    """A read-only view of one registry snapshot (plus overrides), for many queries."""

    def __init__(
        self,
        paths: RegistryPaths,
        snapshot: str | None,
        overrides: list[tuple[str, list[str], list[str], list[str]]],
        *,
        shared_columns: bool = False,
    ) -> None:
        self.snapshot = snapshot
        self.con: duckdb.DuckDBPyConnection = connect(paths)
        create_view(self.con, paths, snapshot, overrides)
        # What search reads (≈ 250 bytes an enterprise), numbered by ``rid`` in the default order
        # (largest revenue first): repeated searches then scan columns in RAM instead of
        # decompressing Parquet each time. ``shared_columns`` (the web server's readers) keeps
        # them in a memory-mapped Arrow file, one per registry state: every worker process maps
        # the same pages of the page cache instead of holding a copy of its own.
        select = (
            f"SELECT row_number() OVER (ORDER BY {DEFAULT_ORDER}) AS rid, "
            f"{', '.join(SEARCH_COLUMNS)} FROM {VIEW} ORDER BY rid"
        )
        if shared_columns:
            key = hashlib.sha256(repr((snapshot, overrides)).encode()).hexdigest()[:24]
            self._columns = mapped_columns(self.con, select, paths.root / COLUMNS_DIR, key)
            self.con.register(SEARCH_TABLE, self._columns)
        else:
            self.con.execute(f"CREATE TABLE {SEARCH_TABLE} AS {select}")

    @property
    def search_table(self) -> ir.Table:
        """The search columns as an Ibis table (Ibis is imported only when statistics need it:
        it costs a quarter of a second at start-up)."""
        import ibis

        return ibis.duckdb.from_connection(self.con).table(SEARCH_TABLE)

    def count(self) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {SEARCH_TABLE}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()

    # --- one enterprise ---------------------------------------------------------------------

    def show(self, uscc: str) -> dict[str, Any] | None:
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
        }

    # --- statistics -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        t = self.search_table
        total = int(t.count().execute())
        by_cluster = t.select(cluster=t.clusters.unnest(), revenue=t.revenue)
        clusters = by_cluster.group_by("cluster").aggregate(
            enterprises=by_cluster.count(), revenue=by_cluster.revenue.sum()
        )
        industries_t = t.select(industry=t.industries.unnest())
        tags_t = t.select(tag=t.tags.unnest())
        return {
            "total": total,
            "by_cluster": {
                r["cluster"]: {
                    "enterprises": int(r["enterprises"]),
                    "revenue": float(r["revenue"] or 0),
                }
                for r in clusters.order_by("cluster").to_pyarrow().to_pylist()
            },
            "by_industry": _counts(industries_t, "industry"),
            "by_district": _counts(t, "district_code"),
            "by_tag": _counts(tags_t, "tag"),
            "by_status": _counts(t, "status"),
            "unclassified": int(t.filter(t.industries.length() == 0).count().execute()),
        }

    # --- search -----------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """One scan answers both the count and which rows are on the page; then only the page's
        rows are fetched. (A count and a sorted page as two queries would read a 3.6-million-row
        name column twice.)"""
        where, params = where_clause(query)
        key = query.sort if query.sort in SORT_KEYS else "revenue"
        size = max(1, min(query.page_size, MAX_PAGE_SIZE))
        offset = (max(query.page, 1) - 1) * size
        # Count and the top (offset + size) rows in one aggregate pass: max_by/min_by with a
        # limit keep only that many, so nothing but the page leaves the scan.
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        found = self.con.execute(
            f"SELECT count(*), {_top_rows(key, query.descending, offset + size)} "
            f"FROM {SEARCH_TABLE} {condition}",
            params,
        ).fetchone()
        total = int(found[0]) if found else 0
        page_ids = [int(r) for r in (found[1] or [])][offset:] if found else []
        rows: list[dict[str, Any]] = []
        if page_ids:
            # rid is sorted in the table, so an IN list is answered from the zone maps (ms).
            result = self.con.execute(
                f"SELECT rid, {', '.join(PAGE_COLUMNS)} FROM {SEARCH_TABLE} "
                f"WHERE rid IN ({', '.join(map(str, page_ids))})"
            )
            names = [d[0] for d in result.description or []]
            by_id = {r[0]: dict(zip(names[1:], r[1:], strict=True)) for r in result.fetchall()}
            rows = [{k: _plain(v) for k, v in by_id[i].items()} for i in page_ids]
        return SearchPage(query=query, total=total, rows=rows)

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


def mapped_columns(con: duckdb.DuckDBPyConnection, select: str, folder: Path, key: str) -> pa.Table:
    """The result of ``select`` as a memory-mapped Arrow table, written once per ``key``.

    Written to a temporary file, mapped, then renamed into place, so that a worker never maps a
    half-written file; files of other keys are removed (a worker still mapping one keeps its
    pages until it lets go: unlinking does not take them away)."""
    import pyarrow as pa

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"search-{key}.arrow"
    if not target.exists():
        tmp = folder / f".search-{key}-{uuid.uuid4().hex}.tmp"
        batches = con.execute(select).to_arrow_reader(COLUMN_BATCH_ROWS)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, batches.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        table = pa.ipc.open_file(pa.memory_map(str(tmp))).read_all()
        tmp.replace(target)
        for stale in [*folder.glob("search-*.arrow"), *folder.glob(".search-*.tmp")]:
            if stale != target and _unused(stale):
                stale.unlink(missing_ok=True)
        return table
    return pa.ipc.open_file(pa.memory_map(str(target))).read_all()


def _unused(path: Path) -> bool:
    """An older state's file, or a temporary file a killed process left (one being written by
    another worker right now is younger than a minute)."""
    try:
        return path.suffix == ".arrow" or time.time() - path.stat().st_mtime > STALE_TMP_SECONDS
    except FileNotFoundError:
        return False


def _top_rows(key: str, descending: bool, count: int) -> str:
    """SQL aggregate for the row ids of the first ``count`` rows in the asked order; ties are
    broken by the default order, so pages never overlap."""
    if key == "revenue" and descending:  # the stored order: the smallest row ids come first
        return f"min_by(rid, rid, {count})"
    if key in ("name", "uscc", "founded_on"):
        value = f"coalesce(CAST({key} AS VARCHAR), '')"
    else:  # missing numbers sort last either way
        value = f"coalesce({key}, {'-1e308' if descending else '1e308'})"
    pick, tie = ("max_by", "-rid") if descending else ("min_by", "rid")
    return f"{pick}(rid, struct_pack(v := {value}, t := {tie}), {count})"


def _plain(value: Any) -> Any:
    """JSON-friendly values (dates as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _counts(table: ir.Table, column: str) -> dict[str, int]:
    grouped = table.group_by(column).aggregate(n=table.count()).order_by(column)
    return {str(r[column]): int(r["n"]) for r in grouped.to_pyarrow().to_pylist()}


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
    if q.within:
        where.append("list_has_any(industries, ?)")
        params.append(list(q.within))
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
        header = spec.label + ("（元）" if spec.kind == "money" else "")
        if spec.kind == "tags":
            column = f"array_to_string(list_transform(tags, t -> {tag_case}), '、')"
        elif spec.kind == "status":
            column = "CASE status WHEN 'active' THEN '存续' WHEN 'closed' THEN '注销' END"
        elif spec.kind == "date":
            column = "strftime(founded_on, '%Y-%m-%d')"
        if safe and spec.kind == "text":
            column = formula_safe(column)
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
