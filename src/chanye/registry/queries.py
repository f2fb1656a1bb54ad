"""Reading the registry: one enterprise, statistics, search and export (Ibis over DuckDB)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import ibis
import ibis.expr.types as ir

from chanye.registry.importer import formula_safe
from chanye.registry.schema import FIELDS, TAG_LABELS
from chanye.registry.storage import (
    EVIDENCE_VIEW,
    RECORD_COLUMNS,
    VIEW,
    RegistryPaths,
    connect,
    create_view,
)

SortKey = Literal["revenue", "name", "founded_on", "employees", "uscc", "rd_expense"]
SORT_KEYS: tuple[str, ...] = ("revenue", "name", "founded_on", "employees", "uscc", "rd_expense")
MAX_PAGE_SIZE = 200


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
    ) -> None:
        self.snapshot = snapshot
        self.con: duckdb.DuckDBPyConnection = connect(paths)
        create_view(self.con, paths, snapshot, overrides)
        self.ibis = ibis.duckdb.from_connection(self.con)
        self.table: ir.Table = self.ibis.table(VIEW)

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
        t = self.table
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
        t = self.table
        filters = _filters(t, query)
        matched = t.filter(*filters) if filters else t
        total = int(matched.count().execute())
        key = query.sort if query.sort in SORT_KEYS else "revenue"
        order = ibis.desc(key) if query.descending else ibis.asc(key)
        size = max(1, min(query.page_size, MAX_PAGE_SIZE))
        page = (
            matched.select(
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
            .order_by([order, ibis.asc("uscc")])
            .limit(size, offset=(max(query.page, 1) - 1) * size)
        )
        rows = [{k: _plain(v) for k, v in r.items()} for r in page.to_pyarrow().to_pylist()]
        return SearchPage(query=query, total=total, rows=rows)

    # --- export -----------------------------------------------------------------------------

    def export(self, path: Path) -> int:
        """Write the registry with the Chinese headers import accepts (money in yuan, tags as
        Chinese labels), so an export can be imported again unchanged."""
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".xlsx", ".parquet"):
            raise ValueError(f"不支持的导出格式“{suffix}” / unsupported export format {suffix!r}")
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


def _plain(value: Any) -> Any:
    """JSON-friendly values (dates as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _counts(table: ir.Table, column: str) -> dict[str, int]:
    grouped = table.group_by(column).aggregate(n=table.count()).order_by(column)
    return {str(r[column]): int(r["n"]) for r in grouped.to_pyarrow().to_pylist()}


def _filters(t: ir.Table, q: SearchQuery) -> list[ir.BooleanValue]:
    filters: list[ir.BooleanValue] = []
    text = (q.text or "").strip()
    if text:
        upper = text.upper()
        if len(upper) >= 2 and upper.isascii() and upper.isalnum():
            filters.append(t.uscc.startswith(upper) | t.name.contains(text))
        else:
            filters.append(t.name.contains(text))
    if q.cluster:
        filters.append(t.industries.contains(q.cluster))
    if q.chain_link:
        filters.append(t.chain_links.contains(q.chain_link))
    if q.district:
        filters.append(t.district_code == q.district)
    if q.tag:
        filters.append(t.tags.contains(q.tag))
    if q.min_revenue is not None:
        filters.append(t.revenue >= q.min_revenue)
    if q.max_revenue is not None:
        filters.append(t.revenue <= q.max_revenue)
    if q.status:
        filters.append(t.status == q.status)
    return filters


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
