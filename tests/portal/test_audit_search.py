"""Searching the audit log: every filter, Beijing days, newest first, pages; the exports (CSV with
BOM and formula-safe cells, Excel); and the retention report."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session

from chanye.portal import audit_search
from chanye.portal.audit_search import AuditFilter, FilterError, make_filter
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import AuditEntry

UTC = dt.UTC


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    upgrade(database_url)
    with session_scope(database_url) as session:
        yield session


def add(db: Session, at: dt.datetime, actor: Actor, action: str, **kw: object) -> int:
    entry = record(
        db,
        actor,
        action,
        str(kw.pop("object_type", "account")),
        str(kw.pop("object_id", "7")),
        **kw,
    )  # type: ignore[arg-type]
    # The time is set as if the row had been written then (the hash no longer matters here).
    db.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(at=at))
    return entry.id


@pytest.fixture
def log(db: Session) -> dict[str, int]:
    admin = Actor("Admin-Li", "admin", "10.0.0.5")
    analyst = Actor("analyst_wang", "analyst", "192.168.1.20")
    return {
        # 2025-02-05 23:30 Beijing
        "login": add(db, dt.datetime(2025, 2, 5, 15, 30, tzinfo=UTC), admin, "login"),
        # 2025-02-06 00:10 Beijing: a Beijing day that began on the UTC evening before
        "news": add(
            db,
            dt.datetime(2025, 2, 5, 16, 10, tzinfo=UTC),
            analyst,
            "news.create",
            object_type="news_article",
            object_id="3",
            after={"title": "=HYPERLINK()"},
        ),
        "denied": add(
            db,
            dt.datetime(2025, 2, 6, 15, 59, tzinfo=UTC),
            analyst,
            "access.denied",
            object_type="route",
            object_id="GET /admin/audit",
            result="refused",
        ),
        "update": add(
            db,
            dt.datetime(2025, 2, 7, 2, 0, tzinfo=UTC),
            analyst,
            "news.update",
            object_type="news_article",
            object_id="3",
            before={"a": 1},
            after={"a": 2},
        ),
    }


def ids(db: Session, **kw: str) -> list[int]:
    return [e.id for e in audit_search.search(db, make_filter(**kw)).rows]


def test_each_filter(db: Session, log: dict[str, int]) -> None:
    every = [log["update"], log["denied"], log["news"], log["login"]]
    assert ids(db) == every  # newest first
    assert ids(db, actor="WANG") == every[:3]  # contains, any case
    assert ids(db, actor="%") == [] and ids(db, actor="_") == every[:3]  # wildcards are text
    assert ids(db, role="admin") == [log["login"]]
    assert ids(db, action="news.") == [log["update"], log["news"]]  # prefix
    assert ids(db, action="news.create") == [log["news"]]
    assert ids(db, action="create") == []  # not a prefix
    assert ids(db, object_type="news_article", object_id="3") == [log["update"], log["news"]]
    assert ids(db, result="refused") == [log["denied"]]
    assert ids(db, client_addr="192.168.") == every[:3]
    assert ids(db, client_addr="168") == []


def test_dates_are_beijing_days_both_ends_included(db: Session, log: dict[str, int]) -> None:
    assert ids(db, since="2025-02-06", until="2025-02-06") == [log["denied"], log["news"]]
    assert ids(db, until="2025-02-05") == [log["login"]]
    assert ids(db, since="2025-02-07") == [log["update"]]
    with pytest.raises(FilterError, match="2025-02-06"):
        make_filter(since="6/2/2025")
    with pytest.raises(FilterError, match="until is before since"):
        make_filter(since="2025-02-07", until="2025-02-06")


def test_pages(db: Session) -> None:
    actor = Actor("bulk", "admin")
    for n in range(7):
        record(db, actor, "bulk.step", "thing", str(n))
    first = audit_search.search(db, make_filter(action="bulk."), page=1, page_size=3)
    last = audit_search.search(db, make_filter(action="bulk."), page=3, page_size=3)
    assert (first.total, first.pages) == (7, 3)
    assert [e.object_id for e in first.rows] == ["6", "5", "4"]
    assert [e.object_id for e in last.rows] == ["0"]
    assert audit_search.search(db, AuditFilter(), page=50, page_size=3).page == 3


def test_csv_export_has_bom_beijing_times_and_safe_cells(db: Session, log: dict[str, int]) -> None:
    content = audit_search.export_csv(db, make_filter(action="news."))
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编号", "时间(北京时间)", "账号", "角色"]
    assert [r[0] for r in rows[1:]] == [str(log["update"]), str(log["news"])]
    created = rows[2]
    assert created[1] == "2025-02-06 00:10:00" and created[3] == "产业办分析员"
    assert created[9].startswith("{") and "=HYPERLINK()" in created[9]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_export_matches_the_filter(db: Session, log: dict[str, int]) -> None:
    content = audit_search.export_xlsx(db, make_filter(result="refused"))
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 2
    assert rows[1][0] == log["denied"] and rows[1][5] == "access.denied" and rows[1][10] == "拒绝"


def test_retention_reports_how_far_back_the_log_reaches(db: Session) -> None:
    assert audit_search.retention(db).oldest_at is None
    first = add(db, dt.datetime(2025, 1, 1, tzinfo=UTC), Actor(), "system.load")
    add(db, dt.datetime(2025, 3, 1, tzinfo=UTC), Actor(), "system.load")
    now = dt.datetime(2025, 3, 2, tzinfo=UTC)
    kept = audit_search.retention(db, now)
    assert kept.rows == 2 and kept.covered_days == 60
    assert kept.since_install and kept.ok  # younger than 180 days, but complete since install
    assert "自系统安装起完整保留" in kept.zh and "符合" in kept.zh
    # Were the first rows ever removed, 60 days would not be enough.
    db.execute(update(AuditEntry).where(AuditEntry.id == first).values(prev_hash="f" * 64))
    cut = audit_search.retention(db, now)
    assert not cut.since_install and not cut.ok and "不符合" in cut.zh
    assert audit_search.retention(db, now + dt.timedelta(days=130)).ok
    assert audit_search.RETENTION_DAYS == 180
