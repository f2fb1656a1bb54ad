"""Searching and exporting the audit log (审计日志), and how long it reaches back.

Retention (等保: audit records kept at least 6 months): chanye never deletes audit rows. Each row's
hash covers the previous row's, so deleting the oldest rows would make the first remaining row
look tampered with; telling a sanctioned purge from an attack would need an anchor kept outside
the log (a schema change, and one more secret to guard). So instead of ``purge_older_than`` there
is ``retention``: it reports the oldest row and whether the log reaches back
``RETENTION_DAYS`` days, or complete since installation (its first row links to the genesis
hash). Archiving elsewhere is what ``export_csv`` / ``export_xlsx`` (and ``chanye audit export``)
are for; the rows stay in the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from chanye.beijing import BEIJING
from chanye.portal.roles import label
from chanye.spreadsheets import formula_safe, workbook_bytes
from chanye.store.audit import GENESIS_HASH
from chanye.store.models import AuditEntry, utcnow

RETENTION_DAYS = 180
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000  # rows per web export; the command line has no limit
RESULT_LABELS = {"success": "成功", "failure": "失败", "refused": "拒绝", "unknown": "未知"}
TEXT_LIMIT = 120  # longest filter text accepted


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; empty fields match everything. Dates are Beijing calendar days, both
    ends included."""

    actor: str = ""  # part of the account name
    role: str = ""
    action: str = ""  # beginning of the action, e.g. "news." or "login"
    object_type: str = ""
    object_id: str = ""
    result: str = ""
    client_addr: str = ""  # beginning of the address, e.g. "10.0."
    since: dt.date | None = None
    until: dt.date | None = None

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (the same names the web form uses)."""
        values = asdict(self)
        return {
            k: (v.isoformat() if isinstance(v, dt.date) else str(v)) for k, v in values.items() if v
        }

    @property
    def is_empty(self) -> bool:
        return not self.as_params()


class FilterError(ValueError):
    """A filter value that cannot be used (says which, in Chinese and English)."""


def parse_date(text: str, name: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FilterError(
            f"{name}日期格式应为 2025-02-06 / {name}: expected a date like 2025-02-06, got {text!r}"
        ) from None


def make_filter(*, since: str = "", until: str = "", **texts: str) -> AuditFilter:
    """A filter from form or command-line text; ``FilterError`` for a bad date or range."""
    names = {f.name for f in fields(AuditFilter)} - {"since", "until"}
    unknown = set(texts) - names
    if unknown:
        raise FilterError(f"未知筛选条件 / unknown filter: {', '.join(sorted(unknown))}")
    cleaned = {k: v.strip()[:TEXT_LIMIT] for k, v in texts.items()}
    start, end = parse_date(since, "起始 since"), parse_date(until, "截止 until")
    if start and end and end < start:
        raise FilterError("截止日期早于起始日期 / until is before since")
    return AuditFilter(since=start, until=end, **cleaned)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), BEIJING).astimezone(dt.UTC)


def _conditions(flt: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if flt.actor:
        found.append(func.lower(AuditEntry.actor).contains(flt.actor.lower(), autoescape=True))
    if flt.action:
        found.append(AuditEntry.action.startswith(flt.action, autoescape=True))
    if flt.client_addr:
        found.append(AuditEntry.client_addr.startswith(flt.client_addr, autoescape=True))
    for name in ("role", "object_type", "object_id", "result"):
        value = getattr(flt, name)
        if value:
            found.append(getattr(AuditEntry, name) == value)
    if flt.since:
        found.append(AuditEntry.at >= _day_start(flt.since))
    if flt.until:
        found.append(AuditEntry.at < _day_start(flt.until + dt.timedelta(days=1)))
    return found


def _query(flt: AuditFilter) -> Select[AuditEntry]:
    return select(AuditEntry).where(*_conditions(flt)).order_by(AuditEntry.id.desc())


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditEntry]
    total: int
    page: int
    pages: int


def search(
    session: Session, flt: AuditFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> AuditPage:
    """One page of matching rows, newest first."""
    count = select(func.count()).select_from(AuditEntry).where(*_conditions(flt))
    total = int(session.scalar(count) or 0)
    pages = max(math.ceil(total / page_size), 1)
    page = min(max(page, 1), pages)
    rows = session.scalars(_query(flt).offset((page - 1) * page_size).limit(page_size))
    return AuditPage(list(rows), total, page, pages)


def matching(session: Session, flt: AuditFilter, limit: int | None = None) -> Iterator[AuditEntry]:
    """Every matching row, newest first, read in batches."""
    query = _query(flt)
    if limit is not None:
        query = query.limit(limit)
    yield from session.scalars(query.execution_options(yield_per=1000))


# --- export --------------------------------------------------------------------------------

HEADERS = (
    "编号",
    "时间(北京时间)",
    "账号",
    "角色",
    "地址",
    "操作",
    "对象类型",
    "对象编号",
    "变更前",
    "变更后",
    "结果",
    "本行哈希",
)


def beijing_text(moment: dt.datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def result_label(result: str) -> str:
    return RESULT_LABELS.get(result, result)


def _cells(entry: AuditEntry) -> list[str]:
    texts = (
        beijing_text(entry.at),
        entry.actor,
        label(entry.role),
        entry.client_addr or "",
        entry.action,
        entry.object_type,
        entry.object_id or "",
        entry.before or "",
        entry.after or "",
        result_label(entry.result),
        entry.row_hash,
    )
    return [str(entry.id), *(formula_safe(text) for text in texts)]


def export_csv(session: Session, flt: AuditFilter, limit: int | None = None) -> bytes:
    """Matching rows as CSV: UTF-8 with BOM (Excel opens it as UTF-8), formula-safe cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    for entry in matching(session, flt, limit):
        writer.writerow(_cells(entry))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(session: Session, flt: AuditFilter, limit: int | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("审计日志")
    sheet.append(list(HEADERS))
    for entry in matching(session, flt, limit):
        cells: list[Any] = _cells(entry)
        cells[0] = entry.id
        sheet.append(cells)
    return workbook_bytes(workbook)


# --- retention -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """How far back the log reaches."""

    rows: int
    oldest_at: dt.datetime | None
    since_install: bool  # the oldest row is the chain's first (nothing before it was removed)
    covered_days: int

    @property
    def ok(self) -> bool:
        """等保: at least ``RETENTION_DAYS`` days kept, or everything since installation."""
        return self.since_install or self.covered_days >= RETENTION_DAYS

    @property
    def zh(self) -> str:
        if self.oldest_at is None:
            return "审计日志暂无记录。"
        oldest = beijing_text(self.oldest_at)
        kept = "自系统安装起完整保留" if self.since_install else f"覆盖最近 {self.covered_days} 天"
        verdict = "符合" if self.ok else "不符合"
        return (
            f"共 {self.rows} 条记录，最早一条为 {oldest}（北京时间），{kept}；"
            f"{verdict}不少于 {RETENTION_DAYS} 天（6 个月）的留存要求。日志不做删除。"
        )


def retention(session: Session, now: dt.datetime | None = None) -> Retention:
    now = now or utcnow()
    rows = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    oldest = session.scalars(select(AuditEntry).order_by(AuditEntry.id).limit(1)).first()
    if oldest is None:
        return Retention(0, None, True, 0)
    at = oldest.at if oldest.at.tzinfo else oldest.at.replace(tzinfo=dt.UTC)
    return Retention(rows, at, oldest.prev_hash == GENESIS_HASH, (now - at).days)
