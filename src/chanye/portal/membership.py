"""入会申请: an enterprise account applies, staff review it, the applicant hears of every step.

submitted → under_review (开始审核) → approved / rejected (with a reason). Approval makes the
account a member. Every change is audited in the caller's transaction; a refusal lists every
reason at once and writes nothing (no row, no file).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from chanye.config import Settings
from chanye.portal import binding, documents, emails
from chanye.portal.accounts import EMAIL, MOBILE
from chanye.portal.mail import MailSettings, deliver_to
from chanye.portal.review import reason_problems
from chanye.problems import Problem, RefusedError
from chanye.store.audit import Actor, record, trail
from chanye.store.models import Account, MembershipApplication, utcnow
from chanye.system.model import IndustrialSystem
from chanye.system.versions import system_in_force

SUBMITTED, UNDER_REVIEW, APPROVED, REJECTED = "submitted", "under_review", "approved", "rejected"
STATUS_LABELS = {
    SUBMITTED: "已提交",
    UNDER_REVIEW: "审核中",
    APPROVED: "已批准",
    REJECTED: "已驳回",
}
OPEN_STATUSES = (SUBMITTED, UNDER_REVIEW)
DECISIONS = {"approve": (APPROVED, "批准"), "reject": (REJECTED, "驳回")}
OBJECT_TYPE = "membership_application"
STEP_LABELS = {
    "membership.submit": "提交申请",
    "membership.start_review": "开始审核",
    "membership.approve": "批准入会",
    "membership.reject": "驳回申请",
}
# (field, 中文, English, longest, required) of the free-text fields of the form.
TEXT_FIELDS = (
    ("company_name", "企业名称", "company name", 200, True),
    ("legal_representative", "法定代表人", "legal representative", 60, True),
    ("address", "地址", "address", 300, True),
    ("contact_name", "联系人", "contact person", 60, True),
    ("introduction", "企业简介", "introduction", 2000, False),
)
T = TypeVar("T")


class MembershipRefusedError(RefusedError):
    """A membership step the rules refuse."""


@dataclass(frozen=True)
class ApplicationForm:
    """What the applicant fills in (as text, the way the form sends it)."""

    company_name: str = ""
    enterprise_uscc: str = ""
    legal_representative: str = ""
    industry_id: str = ""
    district: str = ""
    address: str = ""
    contact_name: str = ""
    contact_mobile: str = ""
    contact_email: str = ""
    introduction: str = ""

    def cleaned(self) -> ApplicationForm:
        values = {f.name: str(getattr(self, f.name)).strip() for f in fields(self)}
        values["enterprise_uscc"] = stdnum_uscc.compact(values["enterprise_uscc"])
        values["contact_email"] = values["contact_email"].lower()
        return ApplicationForm(**values)

    @classmethod
    def prefilled(cls, account: Account) -> ApplicationForm:
        """A new form with what the account already says about the enterprise."""
        return cls(
            company_name=account.display_name,
            enterprise_uscc=account.enterprise_uscc or "",
            contact_name=account.contact_name or "",
            contact_mobile=account.mobile or "",
            contact_email=account.email,
        )

    @classmethod
    def copied(cls, application: MembershipApplication) -> ApplicationForm:
        """A new form with what an earlier (rejected) application said, to correct and resend."""
        values = {f.name: getattr(application, f.name) or "" for f in fields(cls)}
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --- applying ------------------------------------------------------------------------------


def form_problems(
    session: Session, account: Account, form: ApplicationForm, system: IndustrialSystem
) -> list[Problem]:
    """Every reason to refuse this (cleaned) form from this account."""
    problems = _standing_problems(session, account)
    for name, zh, en, longest, required in TEXT_FIELDS:
        value = getattr(form, name)
        if required and not value:
            problems.append(Problem(name, f"请填写{zh}", f"{en} is required"))
        elif len(value) > longest:
            problems.append(
                Problem(name, f"{zh}不能超过 {longest} 个字", f"{en}: at most {longest} characters")
            )
    problems += _uscc_problems(account, form.enterprise_uscc)
    if form.industry_id and system.industry(form.industry_id) is None:
        problems.append(
            Problem(
                "industry_id",
                "所属产业不在现行产业体系中",
                "not an industry of the system in force",
            )
        )
    if form.district and form.district not in {d.code for d in system.districts}:
        problems.append(
            Problem(
                "district", f"所在区不是{system.system.city}的行政区", "not a district of the city"
            )
        )
    if not MOBILE.match(form.contact_mobile):
        problems.append(
            Problem(
                "contact_mobile",
                "联系人手机应为 11 位中国大陆手机号",
                "contact mobile: not a mainland mobile number",
            )
        )
    if len(form.contact_email) > 254 or not EMAIL.match(form.contact_email):
        problems.append(
            Problem(
                "contact_email", "联系人电子邮箱格式不正确", "contact e-mail: not a valid address"
            )
        )
    return problems


def _standing_problems(session: Session, account: Account) -> list[Problem]:
    if account.role == "member":
        return [Problem("account", "贵单位已是会员企业，无需再次申请", "already a member")]
    if account.role != "enterprise":
        return [
            Problem("account", "只有企业账号可以申请入会", "only enterprise accounts may apply")
        ]
    current = open_application(session, account.id)
    if current is not None:
        return [
            Problem(
                "account",
                f"您已有一份{STATUS_LABELS[current.status]}的入会申请"
                f"（第 {current.id} 号），请等待审核结果",
                f"application no. {current.id} is still open",
            )
        ]
    return []


def _uscc_problems(account: Account, code: str) -> list[Problem]:
    if not code:
        return [
            Problem(
                "enterprise_uscc",
                "请填写统一社会信用代码",
                "the unified social credit code is required",
            )
        ]
    if not stdnum_uscc.is_valid(code):
        return [
            Problem(
                "enterprise_uscc",
                "统一社会信用代码无效（请核对校验位）",
                "not a valid unified social credit code",
            )
        ]
    own = stdnum_uscc.compact(account.enterprise_uscc) if account.enterprise_uscc else None
    if own and code != own:
        return [
            Problem(
                "enterprise_uscc",
                f"统一社会信用代码须与本账号登记的 {own} 一致",
                "must be the enterprise code this account was registered with",
            )
        ]
    return []


def submit(
    session: Session,
    settings: Settings,
    account: Account,
    form: ApplicationForm,
    uploads: Sequence[documents.Upload],
    actor: Actor,
) -> MembershipApplication:
    """File an application with its documents; raise MembershipRefusedError listing every
    problem (nothing written). The applicant gets a receipt by e-mail."""
    form = form.cleaned()
    # Two submissions of one account at once must not both pass the one-open-application check.
    session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    problems = form_problems(session, account, form, system_in_force(session))
    problems += documents.document_problems(uploads, settings.max_document_mb)
    if problems:
        raise MembershipRefusedError(problems)
    values = form.as_dict()
    application = MembershipApplication(
        **{**values, "industry_id": form.industry_id or None, "district": form.district or None},
        account_id=account.id,
        status=SUBMITTED,
        submitted_at=utcnow(),
    )
    session.add(application)
    session.flush()
    stored = documents.store(session, application.id, uploads, settings.uploads_dir)
    record(
        session,
        actor,
        "membership.submit",
        OBJECT_TYPE,
        str(application.id),
        after={
            **values,
            "status": SUBMITTED,
            "account_id": account.id,
            "documents": [
                {
                    "kind": d.kind,
                    "name": d.original_name,
                    "type": d.content_type,
                    "size": d.size,
                    "sha256": d.sha256,
                }
                for d in stored
            ],
        },
    )
    _tell(settings, account, application, emails.membership_submitted)
    return application


# --- reviewing -----------------------------------------------------------------------------


def start_review(
    session: Session, settings: Settings, application: MembershipApplication, actor: Actor
) -> None:
    """开始审核: submitted → under_review."""
    session.refresh(application, with_for_update=True)  # two reviewers: one wins, one is told
    if application.status != SUBMITTED:
        label = STATUS_LABELS.get(application.status, application.status)
        zh = (
            "该申请已在审核中"
            if application.status == UNDER_REVIEW
            else f"该申请{label}，不能再开始审核"
        )
        en = f"only a submitted application can go under review (this one is {application.status})"
        raise MembershipRefusedError([Problem("status", zh, en)])
    application.status = UNDER_REVIEW
    application.reviewer = actor.name
    record(
        session,
        actor,
        "membership.start_review",
        OBJECT_TYPE,
        str(application.id),
        before={"status": SUBMITTED},
        after={"status": UNDER_REVIEW},
    )
    applicant = session.get(Account, application.account_id)
    if applicant is not None:
        _tell(settings, applicant, application, emails.membership_under_review)


def decide(
    session: Session,
    settings: Settings,
    application: MembershipApplication,
    decision: str,
    reason: str,
    actor: Actor,
) -> None:
    """批准 or 驳回 an application under review; rejection needs a reason. Approval makes the
    applicant's account a member and verifies its enterprise binding (the licence was checked)."""
    session.refresh(application, with_for_update=True)
    reason = reason.strip()
    problems = _decision_problems(application, decision, reason)
    if problems:
        raise MembershipRefusedError(problems)
    status, _verb = DECISIONS[decision]
    application.status = status
    application.reviewer = actor.name
    application.decided_at = utcnow()
    application.reason = reason if status == REJECTED else None
    record(
        session,
        actor,
        f"membership.{decision}",
        OBJECT_TYPE,
        str(application.id),
        before={"status": UNDER_REVIEW},
        after={"status": status, "reason": application.reason},
    )
    applicant = session.get(Account, application.account_id)
    if applicant is None:
        return
    if status == APPROVED:
        _make_member(session, applicant, application, actor)
        binding.verify_by_membership(session, applicant, application.enterprise_uscc, actor)
        _tell(settings, applicant, application, emails.membership_approved)
    else:
        link = _link(settings, application)
        _send(
            settings,
            applicant,
            emails.membership_rejected(
                applicant.display_name, application.company_name, application.id, reason, link
            ),
        )


def check_decision(application: MembershipApplication, decision: str, reason: str) -> None:
    """Refuse (``MembershipRefusedError``) a decision ``decide`` would refuse, doing nothing: so
    that a rejection is confirmed only once it can be made."""
    problems = _decision_problems(application, decision, reason.strip())
    if problems:
        raise MembershipRefusedError(problems)


def _decision_problems(
    application: MembershipApplication, decision: str, reason: str
) -> list[Problem]:
    if decision not in DECISIONS:
        return [Problem("decision", "请选择批准或驳回", "decision must be approve or reject")]
    verb = DECISIONS[decision][1]
    problems = []
    if application.status == SUBMITTED:
        problems.append(
            Problem("status", f"请先点击“开始审核”，再{verb}", "start the review first")
        )
    elif application.status != UNDER_REVIEW:
        label = STATUS_LABELS.get(application.status, application.status)
        problems.append(
            Problem(
                "status",
                f"该申请{label}，不能再{verb}",
                f"the application is already {application.status}",
            )
        )
    return problems + reason_problems(decision, reason)


def _make_member(
    session: Session, applicant: Account, application: MembershipApplication, actor: Actor
) -> None:
    if applicant.role != "enterprise":  # never demote staff, never touch a member twice
        return
    applicant.role = "member"
    record(
        session,
        actor,
        "account.role",
        "account",
        str(applicant.id),
        before={"role": "enterprise"},
        after={"role": "member", "membership_application": application.id},
    )


def _link(settings: Settings, application: MembershipApplication) -> str:
    return f"{settings.site_url}/members/applications/{application.id}"


def _send(settings: Settings, applicant: Account, mail: emails.Mail) -> None:
    deliver_to(MailSettings.from_settings(settings), applicant, mail)


def _tell(
    settings: Settings,
    applicant: Account,
    application: MembershipApplication,
    text: Callable[[str, str, int, str], emails.Mail],
) -> None:
    mail = text(
        applicant.display_name,
        application.company_name,
        application.id,
        _link(settings, application),
    )
    _send(settings, applicant, mail)


# --- reading -------------------------------------------------------------------------------


def may_view(application: MembershipApplication, account: Account | None, may_review: bool) -> bool:
    """The applicant sees their own application; reviewers see every one."""
    return may_review or (account is not None and application.account_id == account.id)


def open_application(session: Session, account_id: int) -> MembershipApplication | None:
    return session.scalar(
        select(MembershipApplication)
        .where(
            MembershipApplication.account_id == account_id,
            MembershipApplication.status.in_(OPEN_STATUSES),
        )
        .order_by(MembershipApplication.id.desc())
        .limit(1)
    )


def latest_application(session: Session, account_id: int) -> MembershipApplication | None:
    return session.scalar(
        select(MembershipApplication)
        .where(MembershipApplication.account_id == account_id)
        .order_by(MembershipApplication.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Step:
    """One step of an application's history, as the audit log recorded it."""

    at: dt.datetime
    label: str
    actor: str
    role: str
    action: str


def timeline(session: Session, application_id: int) -> list[Step]:
    entries = trail(session, OBJECT_TYPE, str(application_id), STEP_LABELS)
    return [Step(e.at, STEP_LABELS[e.action], e.actor, e.role, e.action) for e in entries]


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def _paged(
    session: Session, stmt: Select[*tuple[Any, ...]], page: int, size: int
) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = max(1, page)
    rows = list(session.execute(stmt.limit(size).offset((page - 1) * size)).all())
    return rows, total


def review_queue(
    session: Session, status: str = "", page: int = 1, size: int = 50
) -> Page[MembershipApplication]:
    """Applications for reviewers, newest first, optionally of one status."""
    stmt = select(MembershipApplication).order_by(MembershipApplication.id.desc())
    if status:
        stmt = stmt.where(MembershipApplication.status == status)
    rows, total = _paged(session, stmt, page, size)
    return Page([row[0] for row in rows], total, max(1, page), size)


def status_counts(session: Session) -> dict[str, int]:
    counted = session.execute(
        select(MembershipApplication.status, func.count()).group_by(MembershipApplication.status)
    ).all()
    return {status: int(count) for status, count in counted}


@dataclass(frozen=True)
class MemberEntry:
    """One member enterprise in the directory."""

    company_name: str
    industry: str
    district: str
    contact_name: str
    contact_mobile: str
    contact_email: str
    joined_at: dt.datetime


def directory(
    session: Session, system: IndustrialSystem, query: str = "", page: int = 1, size: int = 50
) -> Page[MemberEntry]:
    """Member enterprises by name, with what their approved application says about them.

    A member made by an administrator (no application) is listed with its account's details.
    """
    approved = (
        select(func.max(MembershipApplication.id))
        .where(MembershipApplication.status == APPROVED)
        .group_by(MembershipApplication.account_id)
    )
    name = func.coalesce(MembershipApplication.company_name, Account.display_name)
    stmt = (
        select(Account, MembershipApplication)
        .outerjoin(
            MembershipApplication,
            and_(
                MembershipApplication.account_id == Account.id,
                MembershipApplication.id.in_(approved),
            ),
        )
        .where(Account.role == "member", Account.status == "active")
        .order_by(name, Account.id)
    )
    if query.strip():
        stmt = stmt.where(func.lower(name).contains(query.strip().lower(), autoescape=True))
    rows, total = _paged(session, stmt, page, size)
    districts = {d.code: d.name for d in system.districts}
    return Page(
        [_entry(account, app, system, districts) for account, app in rows],
        total,
        max(1, page),
        size,
    )


def _entry(
    account: Account,
    app: MembershipApplication | None,
    system: IndustrialSystem,
    districts: dict[str, str],
) -> MemberEntry:
    if app is None:
        return MemberEntry(
            account.display_name,
            "",
            "",
            account.contact_name or "",
            account.mobile or "",
            account.email,
            account.created_at,
        )
    industry = system.industry(app.industry_id) if app.industry_id else None
    return MemberEntry(
        app.company_name,
        industry.name if industry else "",
        districts.get(app.district or "", ""),
        app.contact_name,
        app.contact_mobile,
        app.contact_email,
        app.decided_at or app.submitted_at,
    )
