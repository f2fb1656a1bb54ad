"""Accounts: registration with checks a person can act on, and login with lockout.

The lockout rule comes from the security profile: after ``lockout_failures`` failed logins within
``lockout_window_minutes``, for one account (by username, e-mail or mobile alike, wrong passwords
and wrong one-time codes together) or from one client address, logins are refused for
``lockout_minutes`` and the message says when to try again. Failure messages never say whether
the account exists.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, column, func, or_, select, table, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from stdnum.cn import uscc as stdnum_uscc

from chanye.beijing import BEIJING, aware
from chanye.portal import totp
from chanye.portal.passwords import check_password, hash_password, needs_rehash, verify_password
from chanye.portal.roles import STAFF_ROLES as STAFF
from chanye.portal.security_profile import SecurityProfile
from chanye.problems import Problem, RefusedError
from chanye.store.audit import Actor, record
from chanye.store.models import Account, LoginAttempt, utcnow
from chanye.store.sealing import is_sealed

USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
ROLE_FOR_KIND = {"enterprise": "enterprise", "individual": "individual"}
# Verifying against this when the account does not exist keeps the timing of both failures equal.
_DUMMY_HASH = hash_password("chanye-timing-equaliser-Aa1!")


class AccountRefusedError(RefusedError):
    """An account change the rules refuse."""


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
        problems.append(
            Problem(
                "username",
                "账号须以字母开头，3–32 位字母、数字或 _ . -",
                "3-32 letters, digits or _ . -, starting with a letter",
            )
        )
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
        problems.append(
            Problem(
                "enterprise_uscc",
                "统一社会信用代码无效（请核对校验位）",
                "not a valid unified social credit code",
            )
        )
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
        username=reg.username,
        email=reg.email.lower(),
        mobile=reg.mobile or None,
        display_name=reg.display_name.strip(),
        kind=reg.kind,
        contact_name=(reg.contact_name or "").strip() or None,
        role=ROLE_FOR_KIND[reg.kind],
        enterprise_uscc=stdnum_uscc.compact(reg.enterprise_uscc) if reg.enterprise_uscc else None,
        password_hash=hash_password(reg.password),
        must_change_password=False,
        email_confirmed=False,
        status="active",
    )
    session.add(account)
    session.flush()
    record(
        session,
        Actor(reg.username, account.role, client_addr),
        "account.register",
        "account",
        str(account.id),
        after={"username": reg.username, "kind": reg.kind},
    )
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
    session: Session,
    counted: ColumnElement[bool],
    profile: SecurityProfile,
    now: dt.datetime,
    *,
    reset_by_success: bool,
) -> dt.datetime | None:
    """When the lock on the failures matching ``counted`` ends, if it is locked now."""
    start = now - dt.timedelta(minutes=profile.lockout_window_minutes)
    if reset_by_success:
        last_success = session.scalar(
            select(func.max(LoginAttempt.at)).where(counted, LoginAttempt.succeeded.is_(True))
        )
        start = max(start, aware(last_success)) if last_success else start
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(counted, LoginAttempt.succeeded.is_(False), LoginAttempt.at > start)
        .order_by(LoginAttempt.at.desc())
        .limit(profile.lockout_failures)
    ).all()
    if len(failures) < profile.lockout_failures:
        return None
    until = aware(failures[0]) + dt.timedelta(minutes=profile.lockout_minutes)
    return until if until > now else None


def _attempts_of(account: Account | None, name: str) -> ColumnElement[bool]:
    """The attempts counted together: all of one account, by whichever name it was typed; for a
    name matching no account, that name's (so a lock says nothing about whether one exists)."""
    if account is not None:
        return LoginAttempt.account_id == account.id
    return and_(LoginAttempt.account_id.is_(None), LoginAttempt.account_name == name)


def check_lock(
    session: Session,
    name: str,
    account: Account | None,
    client_addr: str,
    profile: SecurityProfile,
    now: dt.datetime,
) -> LoginResult | None:
    """A refusal saying when to retry, if the account or the address is locked now.

    The account's count restarts at a complete login (with the second factor when enrolled), so
    a correct password alone does not restart the count of wrong codes. The address's count is
    never restarted by a success: logging in to one's own account must not clear the failures
    of guesses at others.
    """
    locks = [
        _locked_until(session, _attempts_of(account, name), profile, now, reset_by_success=True),
        _locked_until(
            session, LoginAttempt.client_addr == client_addr, profile, now, reset_by_success=False
        ),
    ]
    until = max((lock for lock in locks if lock), default=None)
    if until is None:
        return None
    local = until.astimezone(BEIJING).strftime("%H:%M")
    record(
        session,
        Actor(name or "-", "anonymous", client_addr),
        "login.locked",
        "account",
        name,
        result="refused",
    )
    return LoginResult(
        False,
        zh=f"登录失败次数过多，已暂时锁定，请于 {local}（北京时间）后重试",
        en=f"too many failed logins: try again after {until:%H:%M} UTC",
        retry_at=until,
    )


def _attempt(
    session: Session, account: Account, client_addr: str, now: dt.datetime, *, succeeded: bool
) -> None:
    session.add(
        LoginAttempt(
            at=now,
            account_name=account.username.lower(),
            account_id=account.id,
            client_addr=client_addr,
            succeeded=succeeded,
        )
    )


def check_second_factor(
    session: Session,
    account: Account,
    code: str,
    client_addr: str,
    profile: SecurityProfile,
    now: dt.datetime | None = None,
) -> LoginResult:
    """The second login step: a code of the account's TOTP secret not accepted before.

    A wrong code counts towards the account's lockout like a wrong password, and a code already
    accepted once (RFC 6238 §5.2) is wrong.
    """
    now = now or utcnow()
    actor = Actor(account.username, account.role, client_addr)
    locked = check_lock(session, account.username.lower(), account, client_addr, profile, now)
    if locked is not None:
        return locked
    step = totp.matching_step(account.totp_secret or "", code, account.totp_last_step, now)
    accepted = step is not None and _use_step(session, account, step)
    _attempt(session, account, client_addr, now, succeeded=accepted)
    if not accepted:
        record(session, actor, "login.second_factor", "account", str(account.id), result="failure")
        return LoginResult(False, account=account, zh="动态口令不正确", en="wrong one-time code")
    record(session, actor, "login.second_factor", "account", str(account.id))
    return LoginResult(True, account=account)


def _use_step(session: Session, account: Account, step: int) -> bool:
    """Record ``step`` as used, unless it (or a later one) already is: one conditional UPDATE,
    so two requests racing with the same code cannot both succeed."""
    used = session.execute(
        update(Account)
        .where(Account.id == account.id)
        .where(or_(Account.totp_last_step.is_(None), Account.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return bool(used.rowcount)  # type: ignore[attr-defined]


def enrol_second_factor(
    session: Session,
    account: Account,
    secret: str,
    code: str,
    proof: tuple[str, str] | None,
    client_addr: str,
    profile: SecurityProfile,
) -> None:
    """Bind a new TOTP secret, proven by a first code of it (raises AccountRefusedError).

    Replacing an enrolled secret also needs ``proof``, the current password and a current code of
    the enrolled secret: a session left open must not be enough to take over the second factor.
    Wrong proofs count towards the account's lockout.
    """
    now = utcnow()
    replacing = account.totp_secret is not None
    if replacing:
        _check_proof(session, account, proof or ("", ""), client_addr, profile, now)
    step = totp.matching_step(secret, code, now=now)
    if step is None:
        raise AccountRefusedError(
            [Problem("code", "动态口令不正确，请核对手机时间后重试", "wrong one-time code")]
        )
    account.totp_secret = secret
    account.totp_last_step = step
    record(
        session,
        Actor(account.username, account.role, client_addr),
        "account.enable_totp",
        "account",
        str(account.id),
        before={"two_factor": replacing},
        after={"two_factor": True, "replaced": replacing},
    )


def _check_proof(
    session: Session,
    account: Account,
    proof: tuple[str, str],
    client_addr: str,
    profile: SecurityProfile,
    now: dt.datetime,
) -> None:
    password, code = proof
    locked = check_lock(session, account.username.lower(), account, client_addr, profile, now)
    if locked is not None:
        raise AccountRefusedError([Problem("current_code", locked.zh, locked.en)])
    problems = []
    if not verify_password(account.password_hash, password):
        problems.append(Problem("current_password", "当前密码不正确", "wrong current password"))
    elif totp.matching_step(account.totp_secret or "", code, account.totp_last_step, now) is None:
        problems.append(
            Problem(
                "current_code",
                "当前身份验证器的动态口令不正确",
                "wrong code of the enrolled authenticator",
            )
        )
    if problems:
        _attempt(session, account, client_addr, now, succeeded=False)
        record(
            session,
            Actor(account.username, account.role, client_addr),
            "account.enable_totp",
            "account",
            str(account.id),
            result="failure",
        )
        raise AccountRefusedError(problems)


def authenticate(
    session: Session,
    identifier: str,
    password: str,
    client_addr: str,
    profile: SecurityProfile,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a login by username, e-mail or mobile; every outcome is recorded and audited.

    For an account with a second factor, a correct password is not yet a login: the lockout
    count goes on until ``check_second_factor`` accepts a code.
    """
    now = now or utcnow()
    name = identifier.strip().lower()
    actor = Actor(name or "-", "anonymous", client_addr)
    account = find_account(session, name)
    locked = check_lock(session, name, account, client_addr, profile, now)
    if locked is not None:
        return locked
    valid = verify_password(account.password_hash if account else _DUMMY_HASH, password)
    succeeded = bool(account and valid and account.status == "active")
    if not succeeded or account is None:
        session.add(
            LoginAttempt(
                at=now,
                account_name=name,
                client_addr=client_addr,
                account_id=account.id if account else None,
                succeeded=False,
            )
        )
        record(session, actor, "login.failure", "account", name, result="failure")
        return LoginResult(False, zh="账号或密码错误", en="wrong account or password")
    if account.totp_secret is None:
        _attempt(session, account, client_addr, now, succeeded=True)
    if not account.email_confirmed:
        record(session, actor, "login.unconfirmed", "account", str(account.id), result="refused")
        return LoginResult(
            False,
            account=account,
            unconfirmed=True,
            zh="邮箱尚未确认：请点击注册确认邮件中的链接后再登录",
            en="confirm your e-mail address first (see the mail we sent)",
        )
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    record(
        session,
        Actor(account.username, account.role, client_addr),
        "login.success",
        "account",
        str(account.id),
    )
    age = now - aware(account.password_changed_at)
    expired = profile.password_max_age_days > 0 and age > dt.timedelta(
        days=profile.password_max_age_days
    )
    return LoginResult(
        True,
        account=account,
        password_expired=expired,
        must_change_password=account.must_change_password or expired,
    )


def find_account(session: Session, identifier: str) -> Account | None:
    """The account with this username, e-mail or mobile (any letter case)."""
    name = identifier.strip().lower()
    if not name:
        return None
    return session.scalar(
        select(Account).where(
            or_(
                func.lower(Account.username) == name,
                func.lower(Account.email) == name,
                Account.mobile == name,
            )
        )
    )


def confirm_email(session: Session, account: Account, client_addr: str | None = None) -> None:
    if account.email_confirmed:
        return
    account.email_confirmed = True
    record(
        session,
        Actor(account.username, account.role, client_addr),
        "account.confirm_email",
        "account",
        str(account.id),
        before={"email_confirmed": False},
        after={"email_confirmed": True},
    )


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
        problems.append(
            Problem(
                "new_password",
                "新密码不能与当前密码相同",
                "the new password must differ from the current one",
            )
        )
    if problems:
        raise AccountRefusedError(problems)
    account.password_hash = hash_password(new_password)
    account.password_changed_at = utcnow()
    account.must_change_password = False
    record(session, actor, action, "account", str(account.id), after={"password_changed": True})


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
        record(
            session,
            Actor(account.username, account.role, client_addr),
            "account.change_password",
            "account",
            str(account.id),
            result="failure",
        )
        raise AccountRefusedError(
            [Problem("current_password", "当前密码不正确", "the current password is wrong")]
        )
    set_password(
        session,
        account,
        new_password,
        profile,
        Actor(account.username, account.role, client_addr),
        "account.change_password",
    )


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
    record(
        session,
        actor,
        "account.admin_reset_password",
        "account",
        str(account.id),
        after={"must_change_password": True},
    )
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
        username=username,
        email=email.lower(),
        mobile=None,
        display_name=display_name,
        kind=kind,
        role=role,
        enterprise_uscc=enterprise_uscc,
        password_hash=hash_password(chosen),
        must_change_password=password is None,
        email_confirmed=True,
        status="active",
        scope_clusters=json.dumps(scope_clusters) if scope_clusters else None,
    )
    session.add(account)
    session.flush()
    record(
        session,
        actor,
        "account.create",
        "account",
        str(account.id),
        after={"username": username, "role": role, "scope_clusters": scope_clusters},
    )
    return account, chosen


def seal_stored_secrets(session: Session) -> int:
    """Encrypt TOTP secrets stored in clear before sealing existed; returns how many."""
    raw = table("accounts", column("id"), column("totp_secret"))
    plain = [
        account_id
        for account_id, stored in session.execute(select(raw.c.id, raw.c.totp_secret))
        if stored is not None and not is_sealed(stored)
    ]
    for account_id in plain:
        account = session.get(Account, account_id)
        if account is not None:
            flag_modified(account, "totp_secret")  # written again, so sealed on the way
    if plain:
        record(
            session, Actor(), "account.seal_secrets", "account", None, after={"sealed": len(plain)}
        )
    return len(plain)


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
