"""Training pages through the app: the public list and detail, sign-up and cancel with the waiting
list, staff creating and editing trainings, the attendee list and the exports."""

from __future__ import annotations

import email
import io
import re
from email import policy

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from chanye.config import Settings
from chanye.portal import trainings
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import Account, Training
from tests.web.signin import anonymous_csrf, make_account, sign_in, sign_in_as

STAFF = Actor("trainer", "analyst")


def add_training(
    settings: Settings, capacity: int = 1, summary: str = "**要点**", **kw: str
) -> int:
    values = {
        "title": "数据资产入表实务",
        "summary": summary,
        "location": "越秀区 数据交易所",
        "organizer": "产业协会",
        "starts_at": "2031-03-05T09:30",
        "ends_at": "2031-03-05T12:00",
        "capacity": str(capacity),
        **kw,
    }
    with session_scope(settings.resolved_database_url) as db:
        return trainings.create_training(db, trainings.TrainingDraft(**values), STAFF).id


def status_text(html: str) -> str:
    match = re.search(r'<div id="signup-status"[^>]*>(.*?)</div>', html, re.S)
    assert match, "the page has no signup-status element"
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


def test_list_and_detail_are_public(client: TestClient, settings: Settings) -> None:
    full = add_training(settings, capacity=1, title="低空经济应用场景对接会")
    add_training(settings, capacity=30, title="专精特新企业申报政策解读")
    add_training(
        settings,
        title="往期：规上企业统计报表填报培训",
        starts_at="2020-01-06T14:00",
        ends_at="2020-01-06T16:00",
    )
    member = make_account(settings, "member")
    with session_scope(settings.resolved_database_url) as db:
        training, account = db.get(Training, full), db.get(Account, member.id)
        assert training is not None and account is not None
        trainings.sign_up(db, training, account, STAFF)

    page = client.get("/trainings")
    assert page.status_code == 200
    text = page.text
    assert "剩余名额 30" in text and "已满，可候补" in text
    assert "2031-03-05 09:30" in text and "越秀区 数据交易所" in text
    assert (
        text.index("专精特新企业申报政策解读") < text.index("往期培训") < text.index("往期：规上")
    )

    detail = client.get(f"/trainings/{full}")
    assert detail.status_code == 200
    assert f'href="/login?next=/trainings/{full}"' in detail.text and "登录后报名" in detail.text
    assert "加入日历 (.ics)" in detail.text
    assert ">报名</button>" not in detail.text
    assert client.get("/trainings/999").status_code == 404


def test_sign_up_needs_a_login(client: TestClient, settings: Settings) -> None:
    training = add_training(settings)
    csrf = anonymous_csrf(client)
    answer = client.post(
        f"/trainings/{training}/signup", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_waiting_list_and_moving_up(client: TestClient, settings: Settings) -> None:
    training = add_training(settings, capacity=1)
    first, second = make_account(settings, "member"), make_account(settings, "individual")

    sign_in(client, first)
    page = client.get(f"/trainings/{training}")
    assert status_text(page.text) == "我的报名状态： 未报名"
    assert ">报名</button>" in page.text
    done = client.post(f"/trainings/{training}/signup")
    assert done.url.path == f"/trainings/{training}"
    assert "报名成功" in status_text(done.text) and "已报名（已确认）" in status_text(done.text)
    assert ">取消报名</button>" in done.text

    sign_in(client, second)
    waiting = client.post(f"/trainings/{training}/signup")
    assert "候补第 1 位" in status_text(waiting.text)
    assert "名额已满" in status_text(waiting.text)
    again = client.post(f"/trainings/{training}/signup")  # a second click changes nothing
    assert "候补第 1 位" in status_text(again.text)

    sign_in(client, first)
    cancelled = client.post(f"/trainings/{training}/cancel")
    assert "已取消报名" in status_text(cancelled.text)
    assert "未报名" in status_text(cancelled.text)

    sign_in(client, second)
    assert "已报名（已确认）" in status_text(client.get(f"/trainings/{training}").text)
    [mail_file] = list(settings.outbox_dir.glob("*.eml"))
    mail = email.message_from_bytes(mail_file.read_bytes(), policy=policy.default)
    assert mail["To"] == second.email and "候补成功" in str(mail["Subject"])


def test_staff_create_and_edit_through_the_form(client: TestClient, settings: Settings) -> None:
    sign_in_as(client, "analyst")
    form = client.get("/trainings/new")
    assert form.status_code == 200 and 'name="starts_at"' in form.text

    bad = client.post(
        "/trainings",
        data={
            "title": "人工智能大模型赋能制造业培训",
            "starts_at": "2031-06-01T14:00",
            "ends_at": "2031-06-01T09:00",
            "capacity": "0",
        },
    )
    assert bad.status_code == 400
    assert "结束时间必须晚于开始时间" in bad.text and "名额必须在 1 到" in bad.text
    assert 'value="人工智能大模型赋能制造业培训"' in bad.text  # what was typed is kept

    created = client.post(
        "/trainings",
        data={
            "title": "人工智能大模型赋能制造业培训",
            "summary": "## 日程\n\n- 案例分享",
            "location": "海珠区 琶洲",
            "organizer": "市工信局",
            "starts_at": "2031-06-01T09:00",
            "ends_at": "2031-06-01T17:00",
            "capacity": "40",
        },
    )
    assert created.status_code == 200
    training_id = int(created.url.path.rsplit("/", 1)[1])
    assert "培训已发布" in created.text and "<h2>日程</h2>" in created.text
    assert "2031-06-01 09:00" in created.text and "剩余名额 40" in created.text

    edit = client.get(f"/trainings/{training_id}/edit")
    assert 'value="2031-06-01T09:00"' in edit.text
    saved = client.post(
        f"/trainings/{training_id}",
        data={
            "title": "人工智能大模型赋能制造业培训（第二期）",
            "summary": "",
            "location": "海珠区 琶洲",
            "organizer": "市工信局",
            "starts_at": "2031-06-02T09:00",
            "ends_at": "2031-06-02T17:00",
            "capacity": "20",
            "status": "open",
        },
    )
    assert "培训信息已保存" in saved.text and "（第二期）" in saved.text
    assert "2031-06-02 09:00" in saved.text


def test_non_staff_may_not_manage(client: TestClient, settings: Settings) -> None:
    training = add_training(settings)
    assert client.get("/trainings/new", follow_redirects=False).status_code == 303  # to login
    sign_in_as(client, "member")
    for path in (
        "/trainings/new",
        f"/trainings/{training}/edit",
        f"/trainings/{training}/attendees",
        f"/trainings/{training}/attendees.xlsx",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post("/trainings", data={"title": "x"}).status_code == 403
    assert "发布培训" not in client.get("/trainings").text


def test_markdown_summary_is_sanitised(client: TestClient, settings: Settings) -> None:
    training = add_training(
        settings, summary="**重点**\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>"
    )
    page = client.get(f"/trainings/{training}").text
    assert "<strong>重点</strong>" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_calendar_file(client: TestClient, settings: Settings) -> None:
    training = add_training(settings)
    answer = client.get(f"/trainings/{training}.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    text = answer.content.decode()
    assert "\r\nDTSTART:20310305T013000Z\r\n" in text and "\r\nSUMMARY:数据资产入表实务\r\n" in text


def test_attendee_list_and_export(client: TestClient, settings: Settings) -> None:
    training = add_training(settings, capacity=1)
    people = [make_account(settings, "member") for _ in range(3)]
    for account in people:
        sign_in(client, account)
        client.post(f"/trainings/{training}/signup")
    sign_in_as(client, "policy_office")

    page = client.get(f"/trainings/{training}/attendees")
    assert page.status_code == 200
    confirmed, waiting = page.text.split('id="waiting-list"')
    assert people[0].username in confirmed and people[1].username not in confirmed
    assert waiting.index(people[1].username) < waiting.index(people[2].username)

    export = client.get(f"/trainings/{training}/attendees.xlsx")
    assert export.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[1][:6] == ("序号", "姓名/单位", "账号", "邮箱", "手机", "状态")
    assert [r[2] for r in rows[2:]] == [p.username for p in people]
    assert [r[5] for r in rows[2:]] == ["已确认", "候补", "候补"]


HOSTILE = ('=HYPERLINK("http://evil.example")', "+1", "-1", "@SUM(A1)", "\t=1", "\r=1")


def test_attendee_export_keeps_formulas_as_text(client: TestClient, settings: Settings) -> None:
    """A name or title that starts like a formula reaches the spreadsheet as text (with a ')."""
    training = add_training(settings, capacity=len(HOSTILE), title="=1+1 培训")
    for text in HOSTILE:
        account = make_account(settings, "member")
        with session_scope(settings.resolved_database_url) as db:
            stored = db.get(Account, account.id)
            assert stored is not None
            stored.display_name = text
        sign_in(client, account)
        client.post(f"/trainings/{training}/signup")
    sign_in_as(client, "policy_office")
    export = client.get(f"/trainings/{training}/attendees.xlsx")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "'=1+1 培训"
    # XML reads a carriage return back as a line feed; the ' in front is what matters.
    assert [r[1] for r in rows[2:]] == [f"'{text}".replace("\r", "\n") for text in HOSTILE]
