"""Accounts: registration with checks a person can act on, and login with lockout.

The lockout rule comes from the security profile: after ``lockout_failures`` failed logins within
``lockout_window_minutes``, for one account or from one client address, logins are refused for
``lockout_minutes`` and the message says when to try again. Failure messages never say whether
the account exists.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from chanye.beijing import BEIJING, aware
from chanye.portal.passwords import check_password, hash_password, needs_rehash, verify_password
from chanye.portal.roles import STAFF_ROLES as STAFF
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
    contact_name: str | None = None


def registration_problems(
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
    if reg.kind == "enterprise" and not (reg.contact_name or "").strip():
        problems.append(Problem("contact_name", "请填写联系人", "a contact person is required"))
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
    problems = registration_problems(session, reg, profile)
    if problems:
        raise AccountRefusedError(problems)
    account = Account(
        username=reg.username, email=reg.email.lower(), mobile=reg.mobile or None,
        display_name=reg.display_name.strip(), kind=reg.kind,
        contact_name=(reg.contact_name or "").strip() or None, role=ROLE_FOR_KIND[reg.kind],
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
    unconfirmed: bool = False
    notes: list[str] = field(default_factory=list)


def _locked_until(
    session: Session, column: object, value: str, profile: SecurityProfile, now: dt.datetime
) -> dt.datetime | None:
    """When the lock on this account name or address ends, if it is locked now."""
    since = now - dt.timedelta(minutes=profile.lockout_window_minutes)
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded.is_(True))  # type: ignore[arg-type]
    )
    start = max(since, aware(last_success)) if last_success else since
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > start)  # type: ignore[arg-type]
        .order_by(LoginAttempt.at.desc())
        .limit(profile.lockout_failures)
    ).all()
    if len(failures) < profile.lockout_failures:
        return None
    until = aware(failures[0]) + dt.timedelta(minutes=profile.lockout_minutes)
    return until if until > now else None


def check_lock(
    session: Session, name: str, client_addr: str, profile: SecurityProfile, now: dt.datetime
) -> LoginResult | None:
    """A refusal saying when to retry, if the account name or the address is locked now."""
    locks = [
        _locked_until(session, LoginAttempt.account_name, name, profile, now),
        _locked_until(session, LoginAttempt.client_addr, client_addr, profile, now),
    ]
    until = max((lock for lock in locks if lock), default=None)
    if until is None:
        return None
    local = until.astimezone(BEIJING).strftime("%H:%M")
    record(session, Actor(name or "-", "anonymous", client_addr), "login.locked", "account", name,
           result="refused")  # fmt: skip
    return LoginResult(False, zh=f"登录失败次数过多，已暂时锁定，请于 {local}（北京时间）后重试",
                       en=f"too many failed logins: try again after {until:%H:%M} UTC", retry_at=until)  # fmt: skip


def second_factor_failed(session: Session, account: Account, client_addr: str) -> None:
    """A wrong one-time code counts towards the lockout like a wrong password."""
    session.add(LoginAttempt(at=utcnow(), account_name=account.username.lower(),
                             client_addr=client_addr, succeeded=False))  # fmt: skip
    record(session, Actor(account.username, account.role, client_addr), "login.second_factor",
           "account", str(account.id), result="failure")  # fmt: skip


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
    actor = Actor(name or "-", "anonymous", client_addr)
    locked = check_lock(session, name, client_addr, profile, now)
    if locked is not None:
        return locked
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
    if not account.email_confirmed:
        record(session, actor, "login.unconfirmed", "account", str(account.id), result="refused")
        return LoginResult(False, account=account, unconfirmed=True,
                           zh="邮箱尚未确认：请点击注册确认邮件中的链接后再登录",
                           en="confirm your e-mail address first (see the mail we sent)")  # fmt: skip
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    record(session, Actor(account.username, account.role, client_addr), "login.success", "account",
           str(account.id))  # fmt: skip
    age = now - aware(account.password_changed_at)
    expired = profile.password_max_age_days > 0 and age > dt.timedelta(
        days=profile.password_max_age_days
    )
    return LoginResult(True, account=account, password_expired=expired,
                       must_change_password=account.must_change_password or expired)  # fmt: skip


def find_account(session: Session, identifier: str) -> Account | None:
    """The account with this username, e-mail or mobile (any letter case)."""
    name = identifier.strip().lower()
    if not name:
        return None
    return session.scalar(
        select(Account).where(
            or_(func.lower(Account.username) == name, func.lower(Account.email) == name,
                Account.mobile == name)
        )
    )  # fmt: skip


def confirm_email(session: Session, account: Account, client_addr: str | None = None) -> None:
    if account.email_confirmed:
        return
    account.email_confirmed = True
    record(session, Actor(account.username, account.role, client_addr), "account.confirm_email",
           "account", str(account.id), before={"email_confirmed": False},
           after={"email_confirmed": True})  # fmt: skip


def set_password(
    session: Session,
    account: Account,
    new_password: str,
    profile: SecurityProfile,
    actor: Actor,
    action: str,
) -> None:
    """Replace the password after checking the profile's rules (raises AccountRefusedError)."""
    problems = [
        Problem("new_password", p.zh, p.en)
        for p in check_password(new_password, account.username, profile)
    ]
    if verify_password(account.password_hash, new_password):
        problems.append(Problem("new_password", "新密码不能与当前密码相同",
                                "the new password must differ from the current one"))  # fmt: skip
    if problems:
        raise AccountRefusedError(problems)
    account.password_hash = hash_password(new_password)
    account.password_changed_at = utcnow()
    account.must_change_password = False
    record(session, actor, action, "account", str(account.id),
           after={"password_changed": True})  # fmt: skip


def change_password(
    session: Session,
    account: Account,
    current: str,
    new_password: str,
    profile: SecurityProfile,
    client_addr: str | None = None,
) -> None:
    """The account holder changes the password, proving the current one."""
    if not verify_password(account.password_hash, current):
        record(session, Actor(account.username, account.role, client_addr),
               "account.change_password", "account", str(account.id), result="failure")  # fmt: skip
        raise AccountRefusedError(
            [Problem("current_password", "当前密码不正确", "the current password is wrong")]
        )
    set_password(session, account, new_password, profile,
                 Actor(account.username, account.role, client_addr), "account.change_password")  # fmt: skip


def temporary_password() -> str:
    """A random password meeting every profile: four classes, 16 characters."""
    import secrets
    import string

    while True:
        candidate = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(14))
        candidate += secrets.choice("!@#%&*") + secrets.choice(string.digits)
        if any(c.islower() for c in candidate) and any(c.isupper() for c in candidate):
            return candidate


def admin_reset_password(session: Session, account: Account, actor: Actor) -> str:
    """An administrator sets a temporary password; the holder must change it at next login."""
    password = temporary_password()
    account.password_hash = hash_password(password)
    account.password_changed_at = utcnow()
    account.must_change_password = True
    record(session, actor, "account.admin_reset_password", "account", str(account.id),
           after={"must_change_password": True})  # fmt: skip
    return password


def create_account(
    session: Session,
    *,
    username: str,
    email: str,
    display_name: str,
    role: str,
    actor: Actor,
    password: str | None = None,
    enterprise_uscc: str | None = None,
    scope_clusters: list[str] | None = None,
) -> tuple[Account, str]:
    """An account made by an administrator (staff, or a seeded member); returns it and its
    password. A generated password must be changed at first login."""
    import json

    if session.scalar(select(Account.id).where(func.lower(Account.username) == username.lower())):
        raise AccountRefusedError([Problem("username", "已被注册", "already registered")])
    chosen = password or temporary_password()
    kind = "staff" if role in STAFF else ("enterprise" if enterprise_uscc else "individual")
    account = Account(
        username=username, email=email.lower(), mobile=None, display_name=display_name, kind=kind,
        role=role, enterprise_uscc=enterprise_uscc, password_hash=hash_password(chosen),
        must_change_password=password is None, email_confirmed=True, status="active",
        scope_clusters=json.dumps(scope_clusters) if scope_clusters else None,
    )  # fmt: skip
    session.add(account)
    session.flush()
    record(session, actor, "account.create", "account", str(account.id),
           after={"username": username, "role": role, "scope_clusters": scope_clusters})  # fmt: skip
    return account, chosen


def assigned_industries(account: Account) -> tuple[str, ...]:
    """The industry ids a chain leader is responsible for (see ``chanye.registry.scope``)."""
    import json

    return tuple(json.loads(account.scope_clusters)) if account.scope_clusters else ()


# Who did something when no person's account did: the command line and the demo loader.
SYSTEM_ACTORS = {"cli": "平台管理员（后台操作）", "demo": "平台管理员（演示数据）"}


def display_name_of(name: str, names: dict[str, str] | None = None) -> str:
    """How pages name the actor ``name`` of an audited step: the account's display name (from
    ``names``, see ``display_names``), or what a system actor is, never an internal name."""
    return (names or {}).get(name) or SYSTEM_ACTORS.get(name) or name


def display_names(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """The display names of the accounts behind these usernames (audit actors)."""
    wanted = {n for n in usernames if n and n not in SYSTEM_ACTORS}
    if not wanted:
        return {}
    rows = session.execute(
        select(Account.username, Account.display_name).where(Account.username.in_(wanted))
    )
    return {str(username): str(shown) for username, shown in rows.tuples()}
