"""Trainings (近期培训): the list, capacity and the waiting list.

A sign-up is confirmed while places are free, otherwise it joins the waiting list, ordered by
``signed_up_at``. When a confirmed attendee cancels, or the capacity is raised, the first on the
waiting list are moved up and told by e-mail. Reducing the capacity below the number already
confirmed is refused: nobody who was promised a place loses it.

Two people taking the last place at once: the training row is locked first (``FOR UPDATE`` on
PostgreSQL, the database write lock on SQLite), so the second one counts after the first is in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chanye.beijing import BEIJING, aware, beijing_input, parse_beijing, today_in_beijing
from chanye.portal import emails, markdown
from chanye.portal.mail import MailSettings, deliver_to
from chanye.problems import Problem, RefusedError
from chanye.spreadsheets import formula_safe, workbook_bytes
from chanye.store.audit import Actor, record
from chanye.store.models import Account, Training, TrainingSignup, utcnow

CONFIRMED, WAITLISTED, CANCELLED = "confirmed", "waitlisted", "cancelled"
STATUS_LABELS = {CONFIRMED: "已确认", WAITLISTED: "候补", CANCELLED: "已取消"}
OPEN = "open"
TRAINING_STATUSES = {"open": "开放报名", "cancelled": "已取消"}
LIMITS = {"title": 200, "location": 200, "organizer": 120, "summary": 20000}
MAX_CAPACITY = 10000


def upcoming(session: Session, limit: int = 5, now: dt.datetime | None = None) -> list[Training]:
    """Trainings not yet over, soonest first (cancelled ones are left out)."""
    now = now or utcnow()
    query = (
        select(Training)
        .where(Training.ends_at >= now, Training.status == "open")
        .order_by(Training.starts_at)
        .limit(limit)
    )
    return list(session.scalars(query))


# --- creating and editing ------------------------------------------------------------------


class TrainingRefusedError(RefusedError):
    """A change that breaks a rule; ``problems`` name the fields (forms show them beside it)."""


def refused(field: str, zh: str, en: str) -> TrainingRefusedError:
    return TrainingRefusedError([Problem(field, zh, en)])


@dataclass(frozen=True)
class TrainingDraft:
    """What a form says about a training; times are Beijing local as typed ("2025-06-01T09:30")."""

    title: str
    summary: str
    location: str
    organizer: str
    starts_at: str
    ends_at: str
    capacity: str
    status: str = OPEN


@dataclass(frozen=True)
class TrainingFields:
    title: str
    summary: str
    location: str
    organizer: str
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime  # UTC
    capacity: int
    status: str


def draft_of(training: Training) -> TrainingDraft:
    return TrainingDraft(
        training.title,
        training.summary,
        training.location,
        training.organizer,
        beijing_input(training.starts_at),
        beijing_input(training.ends_at),
        str(training.capacity),
        training.status,
    )


def check_draft(draft: TrainingDraft) -> TrainingFields:
    """The draft as typed values, or ``TrainingRefusedError`` listing every problem."""
    problems: list[Problem] = []
    names = {
        "title": ("标题", "title"),
        "location": ("地点", "location"),
        "organizer": ("主办单位", "organizer"),
    }
    for field, (zh, en) in names.items():
        value = getattr(draft, field).strip()
        if not value:
            problems.append(Problem(field, f"请填写{zh}", f"{en} is required"))
        elif len(value) > LIMITS[field]:
            problems.append(
                Problem(
                    field,
                    f"{zh}不能超过 {LIMITS[field]} 个字",
                    f"{en} is longer than {LIMITS[field]} characters",
                )
            )
    if len(draft.summary) > LIMITS["summary"]:
        problems.append(
            Problem(
                "summary",
                f"简介不能超过 {LIMITS['summary']} 个字",
                f"summary is longer than {LIMITS['summary']} characters",
            )
        )
    starts, ends = parse_beijing(draft.starts_at), parse_beijing(draft.ends_at)
    if starts is None:
        problems.append(
            Problem(
                "starts_at",
                "请填写正确的开始时间（北京时间）",
                "starts_at: a date and time is required",
            )
        )
    if ends is None:
        problems.append(
            Problem(
                "ends_at",
                "请填写正确的结束时间（北京时间）",
                "ends_at: a date and time is required",
            )
        )
    if starts is not None and ends is not None and ends <= starts:
        problems.append(
            Problem("ends_at", "结束时间必须晚于开始时间", "ends_at must be after starts_at")
        )
    capacity = _capacity(draft.capacity, problems)
    if draft.status not in TRAINING_STATUSES:
        problems.append(Problem("status", "状态不正确", "status must be open or cancelled"))
    if problems or starts is None or ends is None or capacity is None:
        raise TrainingRefusedError(problems)
    return TrainingFields(
        draft.title.strip(),
        draft.summary.strip(),
        draft.location.strip(),
        draft.organizer.strip(),
        starts,
        ends,
        capacity,
        draft.status,
    )


def _capacity(text: str, problems: list[Problem]) -> int | None:
    try:
        capacity = int(text.strip())
    except ValueError:
        problems.append(Problem("capacity", "名额必须是整数", "capacity must be a whole number"))
        return None
    if not 1 <= capacity <= MAX_CAPACITY:
        problems.append(
            Problem(
                "capacity",
                f"名额必须在 1 到 {MAX_CAPACITY} 之间",
                f"capacity must be between 1 and {MAX_CAPACITY}",
            )
        )
        return None
    return capacity


def _snapshot(training: Training) -> dict[str, Any]:
    return {
        "title": training.title,
        "location": training.location,
        "organizer": training.organizer,
        "starts_at": aware(training.starts_at).isoformat(),
        "ends_at": aware(training.ends_at).isoformat(),
        "capacity": training.capacity,
        "status": training.status,
        "summary_chars": len(training.summary),
    }


def create_training(session: Session, draft: TrainingDraft, actor: Actor) -> Training:
    fields = check_draft(draft)
    training = Training(
        title=fields.title,
        summary=fields.summary,
        location=fields.location,
        organizer=fields.organizer,
        starts_at=fields.starts_at,
        ends_at=fields.ends_at,
        capacity=fields.capacity,
        status=fields.status,
        created_by=actor.name,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(training)
    session.flush()
    record(
        session, actor, "training.create", "training", str(training.id), after=_snapshot(training)
    )
    return training


@dataclass(frozen=True)
class Mailer:
    """Where mails go and the site address their links point to."""

    settings: MailSettings
    site_url: str = ""


def update_training(
    session: Session,
    training: Training,
    draft: TrainingDraft,
    actor: Actor,
    mailer: Mailer | None = None,
) -> list[Account]:
    """Apply the draft; returns the accounts moved up from the waiting list (capacity raised).

    Lowering the capacity below the number already confirmed is refused (nobody is moved down).
    Cancelling the training tells everyone signed up by e-mail.
    """
    fields = check_draft(draft)
    training = lock(session, training)
    confirmed = _count(session, training.id, CONFIRMED)
    if fields.capacity < confirmed:
        raise refused(
            "capacity",
            f"已有 {confirmed} 人确认参加，名额不能少于 {confirmed}",
            f"capacity cannot go below the {confirmed} confirmed attendees",
        )
    before = _snapshot(training)
    was_open = training.status == OPEN
    for name in (
        "title",
        "summary",
        "location",
        "organizer",
        "starts_at",
        "ends_at",
        "capacity",
        "status",
    ):
        setattr(training, name, getattr(fields, name))
    training.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "training.update",
        "training",
        str(training.id),
        before=before,
        after=_snapshot(training),
    )
    if was_open and training.status != OPEN:
        _tell_cancelled(session, training, mailer)
        return []
    return _move_up(session, training, actor, mailer) if training.status == OPEN else []


# --- signing up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where an account stands on a training: confirmed, waitlisted (with position), or not."""

    status: str | None  # confirmed / waitlisted / None (not signed up, or cancelled)
    position: int = 0  # 1-based place in the waiting list

    @property
    def zh(self) -> str:
        if self.status == CONFIRMED:
            return "已报名（已确认）"
        if self.status == WAITLISTED:
            return f"候补第 {self.position} 位"
        return "未报名"


def lock(session: Session, training: Training) -> Training:
    """Hold the training until the transaction ends, and re-read it.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the row. SQLite: a no-op write takes the database
    write lock, which every other writer waits for (busy_timeout), so counts read after it are
    current.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Training).where(Training.id == training.id).values(capacity=Training.capacity)
        )
    query = select(Training).where(Training.id == training.id).with_for_update()
    locked = session.scalars(query.execution_options(populate_existing=True)).one()
    return locked


def _count(session: Session, training_id: int, status: str) -> int:
    query = select(func.count()).where(
        TrainingSignup.training_id == training_id, TrainingSignup.status == status
    )
    return int(session.scalar(query) or 0)


def confirmed_counts(session: Session, training_ids: Iterable[int]) -> dict[int, int]:
    """Confirmed attendees per training (for lists: places left)."""
    ids = list(training_ids)
    if not ids:
        return {}
    query = (
        select(TrainingSignup.training_id, func.count())
        .where(TrainingSignup.training_id.in_(ids), TrainingSignup.status == CONFIRMED)
        .group_by(TrainingSignup.training_id)
    )
    counts = {training_id: int(n) for training_id, n in session.execute(query).all()}
    return {training_id: counts.get(training_id, 0) for training_id in ids}


def places_left(session: Session, training: Training) -> int:
    return max(training.capacity - _count(session, training.id, CONFIRMED), 0)


def _signup(session: Session, training_id: int, account_id: int) -> TrainingSignup | None:
    query = select(TrainingSignup).where(
        TrainingSignup.training_id == training_id, TrainingSignup.account_id == account_id
    )
    return session.scalars(query).one_or_none()


def _waiting(session: Session, training_id: int) -> list[TrainingSignup]:
    query = (
        select(TrainingSignup)
        .where(TrainingSignup.training_id == training_id, TrainingSignup.status == WAITLISTED)
        .order_by(TrainingSignup.signed_up_at, TrainingSignup.id)
    )
    return list(session.scalars(query))


def place_of(session: Session, training: Training, account: Account | None) -> Place:
    signup = _signup(session, training.id, account.id) if account is not None else None
    if signup is None or signup.status == CANCELLED:
        return Place(None)
    if signup.status == CONFIRMED:
        return Place(CONFIRMED)
    ids = [s.id for s in _waiting(session, training.id)]
    return Place(WAITLISTED, ids.index(signup.id) + 1 if signup.id in ids else 0)


def _check_open(training: Training, now: dt.datetime) -> None:
    if training.status != OPEN:
        raise refused("training", "该培训已取消，不能报名", "the training is cancelled")
    if now >= aware(training.starts_at):
        raise refused(
            "training",
            "培训已开始或已结束，不能再报名",
            "the training has started: sign-up is closed",
        )


def sign_up(
    session: Session,
    training: Training,
    account: Account,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Place:
    """Sign the account up: confirmed while places are free, otherwise on the waiting list.

    Signing up again while signed up changes nothing; after a cancellation it starts afresh at
    the end of the waiting list.
    """
    now = now or utcnow()
    training = lock(session, training)
    _check_open(training, now)
    signup = _signup(session, training.id, account.id)
    if signup is not None and signup.status != CANCELLED:
        return place_of(session, training, account)
    free = training.capacity - _count(session, training.id, CONFIRMED) > 0
    # Nobody may jump the queue: a free place goes to whoever waits before a newcomer.
    status = CONFIRMED if free and not _waiting(session, training.id) else WAITLISTED
    before = None if signup is None else {"status": signup.status}
    if signup is None:
        signup = TrainingSignup(training_id=training.id, account_id=account.id)
        session.add(signup)
    signup.status, signup.signed_up_at, signup.changed_at = status, now, now
    session.flush()
    place = place_of(session, training, account)
    record(
        session,
        actor,
        "training.signup",
        "training_signup",
        f"{training.id}/{account.id}",
        before=before,
        after={"status": status, "position": place.position},
    )
    return place


def cancel(
    session: Session,
    training: Training,
    account: Account,
    actor: Actor,
    mailer: Mailer | None = None,
    now: dt.datetime | None = None,
) -> list[Account]:
    """Cancel the account's sign-up; returns who was moved up from the waiting list (they are
    e-mailed when a ``mailer`` is given)."""
    now = now or utcnow()
    training = lock(session, training)
    signup = _signup(session, training.id, account.id)
    if signup is None or signup.status == CANCELLED:
        raise refused("training", "您没有报名该培训", "you are not signed up for this training")
    if now >= aware(training.starts_at):
        raise refused(
            "training",
            "培训已开始，不能再取消报名",
            "the training has started: sign-ups cannot be cancelled",
        )
    before = signup.status
    signup.status, signup.changed_at = CANCELLED, now
    session.flush()
    record(
        session,
        actor,
        "training.cancel_signup",
        "training_signup",
        f"{training.id}/{account.id}",
        before={"status": before},
        after={"status": CANCELLED},
    )
    return _move_up(session, training, actor, mailer, now) if training.status == OPEN else []


def _move_up(
    session: Session,
    training: Training,
    actor: Actor,
    mailer: Mailer | None,
    now: dt.datetime | None = None,
) -> list[Account]:
    """Fill free places from the head of the waiting list (the training is locked)."""
    now = now or utcnow()
    free = training.capacity - _count(session, training.id, CONFIRMED)
    moved: list[Account] = []
    for signup in _waiting(session, training.id)[: max(free, 0)]:
        signup.status, signup.changed_at = CONFIRMED, now
        account = session.get(Account, signup.account_id)
        record(
            session,
            actor,
            "training.move_up",
            "training_signup",
            f"{training.id}/{signup.account_id}",
            before={"status": WAITLISTED},
            after={"status": CONFIRMED},
        )
        if account is not None:
            moved.append(account)
    session.flush()
    if mailer is not None:
        for account in moved:
            _send(
                mailer,
                account,
                emails.training_moved_up(
                    account.display_name,
                    training.title,
                    _when(training),
                    training.location,
                    f"{mailer.site_url}/trainings/{training.id}",
                ),
            )
    return moved


def _tell_cancelled(session: Session, training: Training, mailer: Mailer | None) -> None:
    if mailer is None:
        return
    query = (
        select(Account)
        .join(TrainingSignup, TrainingSignup.account_id == Account.id)
        .where(TrainingSignup.training_id == training.id, TrainingSignup.status != CANCELLED)
    )
    for account in session.scalars(query):
        mail = emails.training_cancelled(account.display_name, training.title, _when(training))
        _send(mailer, account, mail)


def _when(training: Training) -> str:
    starts = aware(training.starts_at).astimezone(BEIJING)
    ends = aware(training.ends_at).astimezone(BEIJING)
    end_format = "%H:%M" if starts.date() == ends.date() else "%Y-%m-%d %H:%M"
    return f"{starts:%Y-%m-%d %H:%M}–{ends.strftime(end_format)}（北京时间）"


def _send(mailer: Mailer, account: Account, mail: emails.Mail) -> None:
    deliver_to(mailer.settings, account, mail)


# --- lists, exports, calendar --------------------------------------------------------------


def listing(
    session: Session, now: dt.datetime | None = None
) -> tuple[list[Training], list[Training]]:
    """(not yet over, soonest first; over, latest first)."""
    now = now or utcnow()
    coming = select(Training).where(Training.ends_at >= now).order_by(Training.starts_at)
    past = select(Training).where(Training.ends_at < now).order_by(Training.starts_at.desc())
    return list(session.scalars(coming)), list(session.scalars(past.limit(100)))


def has_started(training: Training, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) >= aware(training.starts_at)


@dataclass(frozen=True)
class Attendee:
    number: int
    name: str
    username: str
    email: str
    mobile: str
    status: str
    signed_up_at: dt.datetime

    @property
    def status_zh(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def attendees(session: Session, training: Training) -> list[Attendee]:
    """Confirmed attendees, then the waiting list, each in sign-up order."""
    query = (
        select(TrainingSignup, Account)
        .join(Account, Account.id == TrainingSignup.account_id)
        .where(
            TrainingSignup.training_id == training.id,
            TrainingSignup.status.in_((CONFIRMED, WAITLISTED)),
        )
        # "confirmed" sorts before "waitlisted"
        .order_by(TrainingSignup.status, TrainingSignup.signed_up_at, TrainingSignup.id)
    )
    return [
        Attendee(
            number,
            account.display_name,
            account.username,
            account.email,
            account.mobile or "",
            signup.status,
            aware(signup.signed_up_at),
        )
        for number, (signup, account) in enumerate(session.execute(query).all(), start=1)
    ]


XLSX_HEADERS = ("序号", "姓名/单位", "账号", "邮箱", "手机", "状态", "报名时间(北京时间)")


def attendees_xlsx(session: Session, training: Training) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("报名名单")
    sheet.append([formula_safe(training.title)])
    sheet.append(list(XLSX_HEADERS))
    for row in attendees(session, training):
        texts = (
            row.name,
            row.username,
            row.email,
            row.mobile,
            row.status_zh,
            row.signed_up_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        )
        sheet.append([row.number, *(formula_safe(text) for text in texts)])
    return workbook_bytes(workbook)


def _ics_text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    for plain, escaped in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        value = value.replace(plain, escaped)
    return value


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (whole characters)."""
    pieces: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, 74  # the leading space counts
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def _ics_time(moment: dt.datetime) -> str:
    return aware(moment).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def ics(training: Training, site_url: str = "", now: dt.datetime | None = None) -> str:
    """The training as an iCalendar file (one VEVENT, UTC times, CRLF line endings)."""
    host = site_url.split("://", 1)[-1].split("/", 1)[0] or "chanye.localhost"
    link = f"{site_url}/trainings/{training.id}" if site_url else ""
    description = "\n\n".join(
        part for part in (training.summary, f"主办单位：{training.organizer}", link) if part
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//chanye//trainings//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:training-{training.id}@{host}",
        f"DTSTAMP:{_ics_time(now or utcnow())}",
        f"DTSTART:{_ics_time(training.starts_at)}",
        f"DTEND:{_ics_time(training.ends_at)}",
        f"SUMMARY:{_ics_text(training.title)}",
        f"LOCATION:{_ics_text(training.location)}",
        f"DESCRIPTION:{_ics_text(description)}",
        *([f"URL:{link}"] if link else []),
        f"STATUS:{'CONFIRMED' if training.status == OPEN else 'CANCELLED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


def summary_html(text: str) -> str:
    """The Markdown summary as safe HTML (the same rules as news articles)."""
    return str(markdown.render(text))


# --- demo ----------------------------------------------------------------------------------

DEMO_ACTOR = Actor(name="demo", role="admin")
# (title, days from today, start hour:minute, hours, capacity, location, organizer, summary)
DEMO_TRAININGS: tuple[tuple[str, int, str, int, int, str, str, str], ...] = (
    (
        "专精特新企业申报政策解读",
        5,
        "09:30",
        3,
        80,
        "广州市天河区天河路 385 号 产业协会报告厅",
        "广州市工业和信息化局 中小企业处",
        "解读市级、省级**专精特新中小企业**认定条件与申报材料。\n\n"
        "- 认定指标：专业化、精细化、特色化、创新能力\n- 申报系统操作演示\n- 常见退回原因与答疑",
    ),
    (
        "低空经济应用场景对接会",
        9,
        "14:00",
        3,
        2,
        "广州市黄埔区 低空经济产业园 2 号楼会议室",
        "产业协会 低空经济专委会",
        "发布一批**首试首用**低空应用场景（物流配送、城市巡检、应急救援），"
        "供需双方现场对接。\n\n名额有限，额满后可登记候补。",
    ),
    (
        "人工智能大模型赋能制造业培训",
        14,
        "09:00",
        6,
        60,
        "广州市海珠区 琶洲人工智能与数字经济试验区 会议中心",
        "广州市工业和信息化局 数字经济处",
        "面向制造企业的大模型应用实务：质检、排产、设备运维与知识库。\n\n"
        "1. 典型案例分享\n2. 数据准备与私有化部署\n3. 补贴政策介绍",
    ),
    (
        "规上企业统计报表填报培训",
        20,
        "14:30",
        2,
        120,
        "线上（腾讯会议，报名后邮件通知会议号）",
        "广州市统计局 工业统计处",
        "规模以上工业企业月报、年报的填报口径与常见差错，联网直报平台操作。",
    ),
    (
        "数据资产入表实务",
        27,
        "09:30",
        3,
        50,
        "广州市越秀区 广州数据交易所 路演厅",
        "产业协会 数字经济专委会",
        "企业数据资源**会计处理**与入表路径：确认条件、成本归集、披露要求，以及数据产品登记流程。",
    ),
)
DEMO_ATTENDEES = ("investment", "policy")  # fill the small training so the demo has a full one


def seed_demo(session: Session) -> int:
    """Demo trainings for `chanye demo` (only into an empty table); returns how many were added."""
    if session.scalar(select(func.count()).select_from(Training)):
        return 0
    today = today_in_beijing()
    added: list[Training] = []
    for title, days, start, hours, capacity, location, organizer, summary in DEMO_TRAININGS:
        day = today + dt.timedelta(days=days)
        starts = dt.datetime.combine(day, dt.time.fromisoformat(start), BEIJING)
        draft = TrainingDraft(
            title,
            summary,
            location,
            organizer,
            starts.isoformat(),
            (starts + dt.timedelta(hours=hours)).isoformat(),
            str(capacity),
        )
        added.append(create_training(session, draft, DEMO_ACTOR))
    small = min(added, key=lambda t: t.capacity)
    for username in DEMO_ATTENDEES[: small.capacity]:
        account = session.scalars(select(Account).where(Account.username == username)).first()
        if account is not None:
            sign_up(session, small, account, DEMO_ACTOR)
    return len(added)


def signups_of(
    session: Session, account_id: int, now: dt.datetime | None = None
) -> list[tuple[Training, TrainingSignup]]:
    """An account's sign-ups (confirmed or waiting) for trainings not yet over, soonest first."""
    now = now or utcnow()
    rows = session.execute(
        select(Training, TrainingSignup)
        .join(TrainingSignup, TrainingSignup.training_id == Training.id)
        .where(
            TrainingSignup.account_id == account_id,
            TrainingSignup.status != "cancelled",
            Training.ends_at >= now,
        )
        .order_by(Training.starts_at)
    ).all()
    return [(training, signup) for training, signup in rows]
