"""The demo's people: one account per role, so that every page of `make run` can be tried.

Passwords are random per installation, kept in ``<data dir>/demo/accounts.txt`` (readable by the
owner only) and printed by `chanye demo`; nothing here is a default credential of the product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chanye.portal import news, totp, trainings
from chanye.portal.accounts import create_account, temporary_password
from chanye.portal.binding import verify_by_administrator
from chanye.portal.roles import is_staff, label
from chanye.store.audit import Actor
from chanye.store.models import Account

DEMO_ACTOR = Actor(name="demo", role="admin")


@dataclass(frozen=True)
class DemoPerson:
    username: str
    role: str
    display_name: str
    scope: tuple[str, ...] = ()
    with_enterprise: bool = False


PEOPLE = (
    DemoPerson("admin", "admin", "系统管理员"),
    DemoPerson("analyst", "analyst", "市工信局产业办 分析员"),
    DemoPerson("chainleader", "chain_leader", "智能网联与新能源汽车 链长办", ("icv-nev",)),
    DemoPerson("investment", "investment", "市商务局 招商专员"),
    DemoPerson("policy", "policy_office", "市工信局 政策法规处"),
    DemoPerson("member", "member", "演示会员企业", with_enterprise=True),
)


def seed_demo_accounts(
    session: Session, member_uscc: str | None
) -> list[tuple[DemoPerson, str, str | None]]:
    """Create the demo accounts into an empty accounts table; returns them with passwords."""
    if session.scalar(select(func.count()).select_from(Account)):
        return []
    created = []
    for person in PEOPLE:
        password = temporary_password()
        account, _password = create_account(
            session,
            username=person.username,
            email=f"{person.username}@demo.chanye.localhost",
            display_name=person.display_name,
            role=person.role,
            actor=DEMO_ACTOR,
            password=password,
            scope_clusters=list(person.scope) or None,
            enterprise_uscc=member_uscc if person.with_enterprise else None,
        )
        if person.with_enterprise and member_uscc:  # the demo member sees its pushes
            verify_by_administrator(session, account, DEMO_ACTOR)
        if is_staff(person.role):
            # Staff log in with a second factor (等保三级): the demo enrols them with a key that
            # goes into an authenticator app, printed beside the password.
            account.totp_secret = totp.new_secret()
        created.append((person, password, account.totp_secret))
    return created


def seed_demo_portal(session: Session, member_uscc: str | None, credentials: Path) -> list[str]:
    """Accounts, trainings and news for the demo; returns the lines telling how to log in."""
    created = seed_demo_accounts(session, member_uscc)
    if created:
        lines = [
            f"{p.username}\t{password}\t{label(p.role)}"
            + (f"\t动态口令密钥 / TOTP key: {key}" if key else "")
            for p, password, key in created
        ]
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.write_text("\n".join(lines) + "\n", encoding="utf-8")
        credentials.chmod(0o600)
    trainings.seed_demo(session)
    news.seed_demo(session)
    return credentials.read_text(encoding="utf-8").splitlines() if credentials.exists() else []
