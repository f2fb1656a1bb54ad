"""The audit log page for administrators: filters, the chain banner (and tampering showing up in
it), the exports with the same filters, and that looking is itself audited."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from chanye.config import Settings
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry
from tests.web.signin import sign_in_as


def add_rows(settings: Settings) -> list[int]:
    with session_scope(settings.resolved_database_url) as db:
        return [
            record(
                db,
                Actor("editor-zhang", "analyst", "10.1.2.3"),
                "news.create",
                "news_article",
                "5",
                after={"title": "大会召开"},
            ).id,
            record(
                db,
                Actor("editor-zhang", "analyst", "10.1.2.3"),
                "news.update",
                "news_article",
                "5",
                before={"status": "draft"},
                after={"status": "published"},
            ).id,
            record(
                db,
                Actor("visitor", "public", "203.0.113.9"),
                "login.captcha_failed",
                "account",
                "someone",
                result="failure",
            ).id,
        ]


def rows_shown(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-entry="(\d+)"', html)]


def test_only_administrators(client: TestClient) -> None:
    for path in ("/admin/audit", "/admin/audit.csv", "/admin/audit.xlsx"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"
    sign_in_as(client, "analyst")
    for path in ("/admin/audit", "/admin/audit.csv", "/admin/audit.xlsx"):
        assert client.get(path).status_code == 403
    assert "审计日志</a>" not in client.get("/").text
    sign_in_as(client, "admin")
    assert client.get("/admin/audit").status_code == 200
    assert 'href="/admin/audit">审计日志</a>' in client.get("/").text


def test_filters_and_table(client: TestClient, settings: Settings) -> None:
    created, updated, failed = add_rows(settings)
    sign_in_as(client, "admin")
    page = client.get("/admin/audit", params={"actor": "ZHANG", "action": "news."})
    assert page.status_code == 200
    assert rows_shown(page.text) == [updated, created]  # newest first
    assert "审计链完整" in page.text
    row = page.text[page.text.index(f'data-entry="{updated}"') :]
    row = row[: row.index("</tr>")]
    for text in (
        "editor-zhang",
        "产业办分析员",
        "10.1.2.3",
        "news.update",
        "news_article 5",
        "成功",
        "&#34;status&#34;: &#34;draft&#34;",
    ):
        assert text in row, text
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", row)  # Beijing time
    assert 'href="/admin/audit.csv?actor=ZHANG&amp;action=news."' in page.text

    assert rows_shown(client.get("/admin/audit?result=failure").text) == [failed]
    assert rows_shown(client.get("/admin/audit?client_addr=203.").text) == [failed]
    assert rows_shown(client.get("/admin/audit?object_type=news_article&object_id=5").text) == [
        updated,
        created,
    ]
    assert rows_shown(client.get("/admin/audit?since=2000-01-01&until=2000-01-02").text) == []
    bad = client.get("/admin/audit?since=yesterday")
    assert bad.status_code == 400 and "expected a date" in bad.text


def test_viewing_and_exporting_are_audited(client: TestClient, settings: Settings) -> None:
    add_rows(settings)
    admin = sign_in_as(client, "admin")
    client.get("/admin/audit", params={"role": "public"})
    csv_answer = client.get("/admin/audit.csv", params={"action": "news."})
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    assert csv_answer.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert [r[5] for r in table[1:]] == ["news.update", "news.create"]

    xlsx = client.get("/admin/audit.xlsx", params={"result": "failure"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [r[5] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["login.captcha_failed"]
    assert client.get("/admin/audit.csv?until=bad").status_code == 400

    with session_scope(settings.resolved_database_url) as db:
        query = select(AuditEntry).where(AuditEntry.action.in_(("audit.view", "audit.export")))
        rows = db.scalars(query.order_by(AuditEntry.id)).all()
        assert [(r.action, r.actor) for r in rows] == [
            ("audit.view", admin.username),
            ("audit.export", admin.username),
            ("audit.export", admin.username),
        ]
        assert '"role": "public"' in (rows[0].after or "")
        assert '"format": "xlsx"' in (rows[2].after or "")


def test_tampering_shows_in_the_banner(client: TestClient, settings: Settings) -> None:
    _created, updated, _failed = add_rows(settings)
    sign_in_as(client, "admin")
    assert "审计链完整" in client.get("/admin/audit").text
    with session_scope(settings.resolved_database_url) as db:
        db.execute(
            update(AuditEntry).where(AuditEntry.id == updated).values(after='{"status": "deleted"}')
        )
    page = client.get("/admin/audit")
    assert "审计链完整" not in page.text
    assert f"发现 1 条记录被篡改: {updated}" in page.text
    assert f'<tr data-entry="{updated}" class="audit-row-broken">' in page.text
