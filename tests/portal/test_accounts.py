"""Registration checks and login lockout, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from chanye.portal.accounts import (
    AccountRefusedError,
    Registration,
    authenticate,
    confirm_email,
    register,
)
from chanye.portal.security_profile import profile_named
from chanye.store.audit import verify_chain
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account, AuditEntry
from tests.registry.factory import uscc

PROFILE = profile_named("等保三级")
PASSWORD = "Tq7#vLm2pW"
T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def enterprise(**changes: str) -> Registration:
    values = {
        "username": "xinghe",
        "email": "hr@xinghe.example",
        "password": PASSWORD,
        "display_name": "广州星河科技有限公司",
        "kind": "enterprise",
        "mobile": "13800138000",
        "enterprise_uscc": uscc(1),
        "contact_name": "李明",
    }
    values.update(changes)
    return Registration(**values)


@pytest.fixture
def url(database_url: str) -> str:
    upgrade(database_url)
    with session_scope(database_url) as session:
        confirm_email(session, register(session, enterprise(), PROFILE, "10.0.0.1"))
    return database_url


def test_login_waits_for_the_email_to_be_confirmed(database_url: str) -> None:
    upgrade(database_url)
    with session_scope(database_url) as session:
        register(session, enterprise(), PROFILE, "10.0.0.1")
    with session_scope(database_url) as session:
        result = authenticate(session, "xinghe", PASSWORD, "10.0.0.2", PROFILE, now=T0)
    assert not result.ok and result.unconfirmed and "邮箱尚未确认" in result.zh
    with session_scope(database_url) as session:
        wrong = authenticate(session, "xinghe", "wrong-Pass1!x", "10.0.0.2", PROFILE, now=T0)
    assert not wrong.unconfirmed  # a wrong password never reveals the account's state


def test_registration_refuses_with_every_reason(url: str) -> None:
    bad = enterprise(
        username="1x",
        email="not-mail",
        mobile="12345",
        enterprise_uscc=uscc(2)[:-1] + "0",
        password="xinghe123",
    )
    with session_scope(url) as session, pytest.raises(AccountRefusedError) as caught:
        register(session, bad, PROFILE)
    fields = {p.field for p in caught.value.problems}
    assert {"username", "email", "mobile", "enterprise_uscc", "password"} <= fields
    with session_scope(url) as session, pytest.raises(AccountRefusedError) as caught:
        register(session, enterprise(username="XingHe", email="HR@xinghe.example"), PROFILE)
    assert {(p.field, p.zh) for p in caught.value.problems} >= {
        ("username", "已被注册"),
        ("email", "已被注册"),
    }
    with session_scope(url) as session:
        assert session.scalar(select(Account.id).where(Account.username == "1x")) is None


def test_login_by_username_email_or_mobile(url: str) -> None:
    for identifier in ("xinghe", "HR@xinghe.example", "13800138000"):
        with session_scope(url) as session:
            result = authenticate(session, identifier, PASSWORD, "10.0.0.2", PROFILE, now=T0)
            assert result.ok and result.account is not None and result.account.role == "enterprise"
    with session_scope(url) as session:
        wrong = authenticate(session, "xinghe", "wrong-Password1", "10.0.0.2", PROFILE, now=T0)
        nobody = authenticate(session, "nobody", "wrong-Password1", "10.0.0.2", PROFILE, now=T0)
    assert (wrong.ok, wrong.zh) == (nobody.ok, nobody.zh) == (False, "账号或密码错误")


def test_lockout_after_five_failures_per_account_then_released(url: str) -> None:
    for i in range(5):
        with session_scope(url) as session:
            assert not authenticate(
                session,
                "xinghe",
                "wrong-Pass1!",
                f"10.1.0.{i}",
                PROFILE,
                now=T0 + dt.timedelta(minutes=i),
            ).ok
    with session_scope(url) as session:
        locked = authenticate(
            session, "xinghe", PASSWORD, "10.9.9.9", PROFILE, now=T0 + dt.timedelta(minutes=5)
        )
    assert (
        not locked.ok and "已暂时锁定" in locked.zh and "10:19" in locked.zh
    )  # 02:04 UTC + 15 min = 10:19 in Beijing
    assert locked.retry_at == T0 + dt.timedelta(minutes=19)
    with session_scope(url) as session:
        later = authenticate(
            session, "xinghe", PASSWORD, "10.9.9.9", PROFILE, now=T0 + dt.timedelta(minutes=20)
        )
    assert later.ok


def test_lockout_per_client_address_across_accounts(url: str) -> None:
    for i in range(5):
        with session_scope(url) as session:
            authenticate(session, f"guess{i}", "wrong-Pass1!", "10.6.6.6", PROFILE, now=T0)
    with session_scope(url) as session:
        assert not authenticate(session, "xinghe", PASSWORD, "10.6.6.6", PROFILE, now=T0).ok
        assert authenticate(session, "xinghe", PASSWORD, "10.7.7.7", PROFILE, now=T0).ok


def test_expired_password_must_be_changed_and_everything_is_audited(url: str) -> None:
    with session_scope(url) as session:
        result = authenticate(
            session, "xinghe", PASSWORD, "10.0.0.3", PROFILE, now=T0 + dt.timedelta(days=400)
        )
        assert result.ok and result.password_expired and result.must_change_password
    with session_scope(url) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["account.register", "account.confirm_email", "login.success"]
        assert verify_chain(session) == []
