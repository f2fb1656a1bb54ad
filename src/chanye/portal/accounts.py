"""Accounts: registration with checks a person can act on, and login with lockout.

The lockout rule comes from the security profile: after ``lockout_failures`` failed logins within
``lockout_window_minutes``, for one account or from one client address, logins are refused for
``lockout_minutes`` and the message says when to try again. Failure messages never say whether
the account exists.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from chanye.portal.passwords import check_password, hash_password, needs_rehash, verify_password
from chanye.portal.security_profile import SecurityProfile
from chanye.store.audit import Actor, record
from chanye.store.models import Account, LoginAttempt, utcnow

USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
ROLE_FOR_KIND = {"enterprise": "enterprise", "individual": "individual"}
# Verifying against this when the account does not exist keeps the timing of both failures equal.
_DUMMY_HASH = hash_password("chanye-timing-equaliser-Aa1!")


@dataclass(frozen=True)
class Problem:
    field: str
    zh: str
    en: str


class AccountRefusedError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.zh} / {p.en}" for p in problems))


@dataclass(frozen=True)
class Registration:
    username: str
    email: str
    password: str
    display_name: str
    kind: str  # enterprise / individual
    mobile: str | None = None
    enterprise_uscc: str | None = None


def _registration_problems(
    session: Session, reg: Registration, profile: SecurityProfile
) -> list[Problem]:
    problems: list[Problem] = []
    if not USERNAME.match(reg.username):
        problems.append(Problem("username", "账号须以字母开头，3–32 位字母、数字或 _ . -",
                                "3-32 letters, digits or _ . -, starting with a letter"))  # fmt: skip
    if not EMAIL.match(reg.email):
        problems.append(Problem("email", "电子邮箱格式不正确", "not a valid e-mail address"))
    if reg.mobile and not MOBILE.match(reg.mobile):
        problems.append(
            Problem("mobile", "手机号应为 11 位中国大陆手机号", "not a mainland mobile number")
        )
    if not reg.display_name.strip():
        problems.append(Problem("display_name", "请填写名称或联系人", "a name is required"))
    if reg.kind not in ROLE_FOR_KIND:
        problems.append(
            Problem("kind", "注册类型应为企业或个人", "kind must be enterprise or individual")
        )
    if reg.kind == "enterprise" and not stdnum_uscc.is_valid(reg.enterprise_uscc or ""):
        problems.append(Problem("enterprise_uscc", "统一社会信用代码无效（请核对校验位）",
                                "not a valid unified social credit code"))  # fmt: skip
    problems += [
        Problem("password", p.zh, p.en) for p in check_password(reg.password, reg.username, profile)
    ]
    taken = {
        "username": func.lower(Account.username) == reg.username.lower(),
        "email": func.lower(Account.email) == reg.email.lower(),
        **({"mobile": Account.mobile == reg.mobile} if reg.mobile else {}),
    }
    for name, clause in taken.items():
        if session.scalar(select(Account.id).where(clause)) is not None:
            problems.append(Problem(name, "已被注册", "already registered"))
    return problems


def register(
    session: Session, reg: Registration, profile: SecurityProfile, client_addr: str | None = None
) -> Account:
    """Create an account; raise AccountRefusedError listing every problem (nothing is written)."""
    problems = _registration_problems(session, reg, profile)
    if problems:
        raise AccountRefusedError(problems)
    account = Account(
        username=reg.username, email=reg.email.lower(), mobile=reg.mobile or None,
        display_name=reg.display_name.strip(), kind=reg.kind, role=ROLE_FOR_KIND[reg.kind],
        enterprise_uscc=stdnum_uscc.compact(reg.enterprise_uscc) if reg.enterprise_uscc else None,
        password_hash=hash_password(reg.password), must_change_password=False,
        email_confirmed=False, status="active",
    )  # fmt: skip
    session.add(account)
    session.flush()
    record(session, Actor(reg.username, account.role, client_addr), "account.register", "account",
           str(account.id), after={"username": reg.username, "kind": reg.kind})  # fmt: skip
    return account


@dataclass
class LoginResult:
    ok: bool
    account: Account | None = None
    zh: str = ""
    en: str = ""
    retry_at: dt.datetime | None = None
    password_expired: bool = False
    must_change_password: bool = False
    notes: list[str] = field(default_factory=list)


def _locked_until(
    session: Session, column: object, value: str, profile: SecurityProfile, now: dt.datetime
) -> dt.datetime | None:
    """When the lock on this account name or address ends, if it is locked now."""
    since = now - dt.timedelta(minutes=profile.lockout_window_minutes)
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded.is_(True))  # type: ignore[arg-type]
    )
    start = max(since, _aware(last_success)) if last_success else since
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > start)  # type: ignore[arg-type]
        .order_by(LoginAttempt.at.desc())
        .limit(profile.lockout_failures)
    ).all()
    if len(failures) < profile.lockout_failures:
        return None
    until = _aware(failures[0]) + dt.timedelta(minutes=profile.lockout_minutes)
    return until if until > now else None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def authenticate(
    session: Session,
    identifier: str,
    password: str,
    client_addr: str,
    profile: SecurityProfile,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a login by username, e-mail or mobile; every outcome is recorded and audited."""
    now = now or utcnow()
    name = identifier.strip().lower()
    locks = [
        _locked_until(session, LoginAttempt.account_name, name, profile, now),
        _locked_until(session, LoginAttempt.client_addr, client_addr, profile, now),
    ]
    until = max((lock for lock in locks if lock), default=None)
    actor = Actor(name or "-", "anonymous", client_addr)
    if until is not None:
        local = until.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%H:%M")
        record(session, actor, "login.locked", "account", name, result="refused")
        return LoginResult(False, zh=f"登录失败次数过多，已暂时锁定，请于 {local}（北京时间）后重试",
                           en=f"too many failed logins: try again after {until:%H:%M} UTC", retry_at=until)  # fmt: skip
    account = session.scalar(
        select(Account).where(
            or_(
                func.lower(Account.username) == name,
                func.lower(Account.email) == name,
                Account.mobile == name,
            )
        )
    )
    valid = verify_password(account.password_hash if account else _DUMMY_HASH, password)
    succeeded = bool(account and valid and account.status == "active")
    session.add(
        LoginAttempt(at=now, account_name=name, client_addr=client_addr, succeeded=succeeded)
    )
    if not succeeded or account is None:
        record(session, actor, "login.failure", "account", name, result="failure")
        return LoginResult(False, zh="账号或密码错误", en="wrong account or password")
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    record(session, Actor(account.username, account.role, client_addr), "login.success", "account",
           str(account.id))  # fmt: skip
    age = now - _aware(account.password_changed_at)
    expired = profile.password_max_age_days > 0 and age > dt.timedelta(
        days=profile.password_max_age_days
    )
    return LoginResult(True, account=account, password_expired=expired,
                       must_change_password=account.must_change_password or expired)  # fmt: skip
