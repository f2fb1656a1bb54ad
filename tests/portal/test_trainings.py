"""Trainings: capacity, the waiting list and moving up (with the e-mail), the calendar file and
the attendee export — on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import io
import socket
import threading
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.portal import trainings
from chanye.portal.accounts import create_account
from chanye.portal.mail import MailSettings
from chanye.store.audit import Actor, verify_chain
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account, AuditEntry, Training, TrainingSignup, utcnow

STAFF = Actor("trainer", "analyst", "127.0.0.1")
BEIJING = trainings.BEIJING


@pytest.fixture
def url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
def db(url: str) -> Iterator[Session]:
    with session_scope(url) as session:
        yield session


@pytest.fixture
def mailer(tmp_path: Path) -> trainings.Mailer:
    outbox = tmp_path / "outbox"
    return trainings.Mailer(MailSettings("noreply@chanye.test", None, 25, outbox), "https://x.cn")


def person(db: Session, name: str, mobile: str | None = None) -> Account:
    account, _ = create_account(
        db,
        username=name,
        email=f"{name}@example.cn",
        display_name=f"{name} 公司",
        role="member",
        actor=Actor("test", "admin"),
        password="Zq8!chanye-test",
    )
    account.mobile = mobile
    return account


def local(days: float, hour: int = 9) -> str:
    """A Beijing local time `days` from now, as a form would send it."""
    moment = dt.datetime.now(BEIJING) + dt.timedelta(days=days)
    return moment.replace(hour=hour, minute=30, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")


def draft(capacity: int = 1, **changes: str) -> trainings.TrainingDraft:
    values = {
        "title": "低空经济应用场景对接会",
        "summary": "**场景发布**与对接",
        "location": "黄埔区 低空经济产业园",
        "organizer": "产业协会",
        "starts_at": local(7, 9),
        "ends_at": local(7, 12),
        "capacity": str(capacity),
    }
    values.update(changes)
    return trainings.TrainingDraft(**values)


def who(db: Session, account: Account) -> Actor:
    return Actor(account.username, account.role, "127.0.0.1")


def outbox_mails(mailer: trainings.Mailer) -> list[email.message.EmailMessage]:
    folder = mailer.settings.outbox
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in files
    ]


def test_waiting_list_moves_up_on_cancel_and_mails(db: Session, mailer: trainings.Mailer) -> None:
    training = trainings.create_training(db, draft(capacity=1), STAFF)
    a, b, c = person(db, "alpha"), person(db, "bravo"), person(db, "charlie")

    assert trainings.sign_up(db, training, a, who(db, a)) == trainings.Place("confirmed")
    assert trainings.sign_up(db, training, b, who(db, b)) == trainings.Place("waitlisted", 1)
    assert trainings.sign_up(db, training, c, who(db, c)) == trainings.Place("waitlisted", 2)
    assert trainings.places_left(db, training) == 0

    moved = trainings.cancel(db, training, a, who(db, a), mailer)

    assert [m.username for m in moved] == ["bravo"]
    assert trainings.place_of(db, training, a) == trainings.Place(None)
    assert trainings.place_of(db, training, b).zh == "已报名（已确认）"
    assert trainings.place_of(db, training, c).zh == "候补第 1 位"
    [mail] = outbox_mails(mailer)
    assert mail["To"] == "bravo@example.cn"
    assert "候补成功" in mail["Subject"]
    body = mail.get_content()
    assert "低空经济应用场景对接会" in body and "https://x.cn/trainings/" in body
    actions = list(
        db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("training.%")))
    )
    assert actions == [
        "training.create",
        *["training.signup"] * 3,
        "training.cancel_signup",
        "training.move_up",
    ]
    assert verify_chain(db) == []


def test_signing_up_twice_changes_nothing(db: Session) -> None:
    training = trainings.create_training(db, draft(capacity=1), STAFF)
    a, b = person(db, "alpha"), person(db, "bravo")
    trainings.sign_up(db, training, a, who(db, a))
    trainings.sign_up(db, training, b, who(db, b))
    audited = len(list(db.scalars(select(AuditEntry))))

    assert trainings.sign_up(db, training, a, who(db, a)) == trainings.Place("confirmed")
    assert trainings.sign_up(db, training, b, who(db, b)) == trainings.Place("waitlisted", 1)
    assert len(list(db.scalars(select(TrainingSignup)))) == 2
    assert len(list(db.scalars(select(AuditEntry)))) == audited


def test_cancelled_sign_up_can_sign_up_again_at_the_end(db: Session) -> None:
    training = trainings.create_training(db, draft(capacity=1), STAFF)
    a, b, c = person(db, "alpha"), person(db, "bravo"), person(db, "charlie")
    for account in (a, b, c):
        trainings.sign_up(db, training, account, who(db, account))
    trainings.cancel(db, training, b, who(db, b))  # b leaves the waiting list

    assert trainings.place_of(db, training, c) == trainings.Place("waitlisted", 1)
    assert trainings.sign_up(db, training, b, who(db, b)) == trainings.Place("waitlisted", 2)


def test_no_sign_up_once_started_or_cancelled(db: Session) -> None:
    a = person(db, "alpha")
    started = trainings.create_training(
        db, draft(starts_at=local(-0.1, 0), ends_at=local(1, 23)), STAFF
    )
    with pytest.raises(trainings.TrainingRefusedError, match="已开始"):
        trainings.sign_up(db, started, a, who(db, a))
    later = trainings.create_training(db, draft(), STAFF)
    moment = dt.datetime.fromisoformat(local(7, 9)).replace(tzinfo=BEIJING) + dt.timedelta(hours=1)
    with pytest.raises(trainings.TrainingRefusedError):
        trainings.sign_up(db, later, a, who(db, a), now=moment.astimezone(dt.UTC))
    form = trainings.draft_of(later)
    trainings.update_training(
        db, later, trainings.TrainingDraft(**{**form.__dict__, "status": "cancelled"}), STAFF
    )
    with pytest.raises(trainings.TrainingRefusedError, match="已取消"):
        trainings.sign_up(db, later, a, who(db, a))
    assert db.scalars(select(TrainingSignup)).first() is None


def test_raising_capacity_moves_up_and_lowering_below_confirmed_is_refused(
    db: Session, mailer: trainings.Mailer
) -> None:
    training = trainings.create_training(db, draft(capacity=1), STAFF)
    people = [person(db, name) for name in ("alpha", "bravo", "charlie", "delta")]
    for account in people:
        trainings.sign_up(db, training, account, who(db, account))

    moved = trainings.update_training(db, training, draft(capacity=3), STAFF, mailer)

    assert [m.username for m in moved] == ["bravo", "charlie"]
    assert trainings.place_of(db, training, people[3]) == trainings.Place("waitlisted", 1)
    assert sorted(m["To"] for m in outbox_mails(mailer)) == [
        "bravo@example.cn",
        "charlie@example.cn",
    ]
    with pytest.raises(trainings.TrainingRefusedError) as refused:
        trainings.update_training(db, training, draft(capacity=2), STAFF, mailer)
    assert refused.value.problems[0].field == "capacity"
    assert "已有 3 人确认参加" in refused.value.problems[0].zh
    assert db.get(Training, training.id).capacity == 3  # type: ignore[union-attr]


def test_form_checks_name_the_field(db: Session) -> None:
    bad = draft(title="", capacity=0, starts_at=local(3, 12), ends_at=local(3, 10))
    with pytest.raises(trainings.TrainingRefusedError) as refused:
        trainings.create_training(db, bad, STAFF)
    fields = {p.field: p for p in refused.value.problems}
    assert set(fields) == {"title", "ends_at", "capacity"}
    assert fields["ends_at"].zh == "结束时间必须晚于开始时间"
    assert "ends_at" in fields["ends_at"].en
    too_long = draft(location="地" * 201, starts_at="下周一")
    with pytest.raises(trainings.TrainingRefusedError) as refused:
        trainings.create_training(db, too_long, STAFF)
    assert {p.field for p in refused.value.problems} == {"location", "starts_at"}


def test_times_are_typed_in_beijing_and_stored_in_utc(db: Session) -> None:
    training = trainings.create_training(
        db, draft(starts_at="2031-03-05T09:30", ends_at="2031-03-05T17:00"), STAFF
    )
    db.expire_all()
    stored = db.get(Training, training.id)
    assert stored is not None
    starts = stored.starts_at.replace(tzinfo=stored.starts_at.tzinfo or dt.UTC)
    assert starts == dt.datetime(2031, 3, 5, 1, 30, tzinfo=dt.UTC)
    assert trainings.draft_of(stored).starts_at == "2031-03-05T09:30"


def test_two_people_taking_the_last_place_are_not_both_confirmed(url: str) -> None:
    """The first sign-up holds the training until it commits; the second waits, then counts."""
    with session_scope(url) as db:
        training_id = trainings.create_training(db, draft(capacity=1), STAFF).id
        ids = [person(db, "alpha").id, person(db, "bravo").id]
    places: dict[str, trainings.Place] = {}

    def second() -> None:
        with session_scope(url) as db:
            training, account = db.get(Training, training_id), db.get(Account, ids[1])
            assert training is not None and account is not None
            places["second"] = trainings.sign_up(db, training, account, STAFF)

    with session_scope(url) as db:
        training, account = db.get(Training, training_id), db.get(Account, ids[0])
        assert training is not None and account is not None
        places["first"] = trainings.sign_up(db, training, account, STAFF)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)  # the second sign-up runs while the first is not yet committed
    thread.join(10)
    assert places == {
        "first": trainings.Place("confirmed"),
        "second": trainings.Place("waitlisted", 1),
    }


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_ics_is_rfc5545(db: Session) -> None:
    summary = "第一行; 含分号, 逗号 和 \\ 反斜杠\n第二行 " + "很长的说明" * 20
    training = trainings.create_training(
        db, draft(summary=summary, starts_at="2031-03-05T09:30", ends_at="2031-03-05T17:00"), STAFF
    )
    text = trainings.ics(training, "https://chanye.example.cn")

    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = _unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert lines.count("BEGIN:VEVENT") == 1
    props = dict(line.split(":", 1) for line in lines if ":" in line)
    assert props["DTSTART"] == "20310305T013000Z"
    assert props["DTEND"] == "20310305T090000Z"
    assert props["DTSTAMP"].endswith("Z") and len(props["DTSTAMP"]) == 16
    assert props["UID"] == f"training-{training.id}@chanye.example.cn"
    assert props["SUMMARY"] == "低空经济应用场景对接会"
    assert props["DESCRIPTION"].startswith("第一行\\; 含分号\\, 逗号 和 \\\\ 反斜杠\\n第二行 很长")
    assert props["LOCATION"] == "黄埔区 低空经济产业园"


def test_attendee_export_opens_with_chinese_headers_and_safe_cells(db: Session) -> None:
    training = trainings.create_training(db, draft(capacity=1), STAFF)
    a = person(db, "alpha", mobile="13800000001")
    b = person(db, "bravo")
    b.display_name = '=HYPERLINK("http://evil")'
    trainings.sign_up(db, training, a, who(db, a))
    trainings.sign_up(db, training, b, who(db, b))

    sheet = load_workbook(io.BytesIO(trainings.attendees_xlsx(db, training))).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[1] == ["序号", "姓名/单位", "账号", "邮箱", "手机", "状态", "报名时间(北京时间)"]
    assert rows[2][:6] == [1, "alpha 公司", "alpha", "alpha@example.cn", "13800000001", "已确认"]
    assert rows[3][1] == '\'=HYPERLINK("http://evil")' and rows[3][5] == "候补"
    signed = dt.datetime.strptime(str(rows[2][6]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    assert abs(signed - utcnow()) < dt.timedelta(minutes=5)


def test_summary_markdown_is_rendered_without_raw_html() -> None:
    html = trainings.summary_html(
        "**重点**\n\n<script>alert(1)</script>\n\n[链接](javascript:alert(1)) <img src=x onerror=alert(1)>"
    )
    assert "<strong>重点</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text, never run


def test_seed_demo_fills_an_empty_table_once(db: Session) -> None:
    for name in ("investment", "policy"):
        person(db, name)
    added = trainings.seed_demo(db)
    assert 4 <= added <= 6
    assert trainings.seed_demo(db) == 0
    coming = trainings.upcoming(db, limit=10)
    assert len(coming) == added
    small = min(coming, key=lambda t: t.capacity)
    assert trainings.places_left(db, small) == 0  # full: the next one is wait-listed


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_mail_that_cannot_be_sent_is_audited_and_the_change_stands(db: Session) -> None:
    down = MailSettings("noreply@chanye.test", "127.0.0.1", _closed_port(), Path("unused"))
    training = trainings.create_training(db, draft(capacity=1), STAFF)
    a, b = person(db, "alpha"), person(db, "bravo")
    trainings.sign_up(db, training, a, who(db, a))
    trainings.sign_up(db, training, b, who(db, b))

    moved = trainings.cancel(db, training, a, who(db, a), trainings.Mailer(down, "https://x.cn"))

    assert [m.username for m in moved] == ["bravo"]
    assert trainings.place_of(db, training, b).zh == "已报名（已确认）"
    [failed] = db.scalars(select(AuditEntry).where(AuditEntry.action == "mail.failed")).all()
    assert failed.result == "failure"
    assert "bravo@example.cn" in (failed.after or "") and "候补成功" in (failed.after or "")
    assert verify_chain(db) == []
