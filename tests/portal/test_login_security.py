"""What a black-box probe found in login, kept as cases, on SQLite and PostgreSQL: lockout per
account whatever name is typed, wrong one-time codes counted across correct passwords, the
address counter not cleared by a success, a code accepted once, secrets sealed at rest."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import column, select, table

from chanye.portal.accounts import (
    AccountRefusedError,
    authenticate,
    check_second_factor,
    create_account,
    enrol_second_factor,
    seal_stored_secrets,
)
from chanye.portal.security_profile import profile_named
from chanye.store.audit import Actor
from chanye.store.database import engine_for, session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account
from chanye.store.sealing import SealingKeyError, use_key

PROFILE = profile_named("等保三级")
PASSWORD = "Tq7#vLm2pW"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def url(database_url: str) -> str:
    upgrade(database_url)
    use_key(database_url, Fernet.generate_key())
    with session_scope(database_url) as db:
        account, _ = create_account(
            db,
            username="xinghe",
            email="hr@xinghe.example",
            display_name="星河",
            role="enterprise",
            actor=Actor(),
            password=PASSWORD,
            enterprise_uscc="91440101MA5CXXXX0X",
        )
        account.mobile = "13800138000"
    return database_url


def _login(url: str, name: str, password: str, addr: str, at: dt.datetime) -> str:
    with session_scope(url) as db:
        result = authenticate(db, name, password, addr, PROFILE, now=at)
    return "ok" if result.ok else result.zh


def _code(at: dt.datetime) -> str:
    return pyotp.TOTP(SECRET).at(at)


def _second_factor(url: str, code: str, addr: str, at: dt.datetime) -> str:
    with session_scope(url) as db:
        account = db.scalars(select(Account)).one()
        result = check_second_factor(db, account, code, addr, PROFILE, now=at)
    return "ok" if result.ok else result.zh


def _with_second_factor(url: str) -> None:
    with session_scope(url) as db:
        db.scalars(select(Account)).one().totp_secret = SECRET


def test_lockout_counts_the_account_whatever_name_is_typed(url: str) -> None:
    names = ["xinghe", "HR@xinghe.example", "13800138000", "xinghe", "hr@xinghe.example"]
    for i, name in enumerate(names):
        at = T0 + dt.timedelta(minutes=i)
        assert _login(url, name, "wrong-Pass1!", f"10.1.0.{i}", at) == "账号或密码错误"
    later = T0 + dt.timedelta(minutes=6)
    for name in ("13800138000", "hr@xinghe.example", "xinghe"):
        assert "已暂时锁定" in _login(url, name, PASSWORD, "10.9.9.9", later)


def test_a_name_of_no_account_locks_like_one_that_exists(url: str) -> None:
    for i in range(5):
        _login(url, "nobody", "wrong-Pass1!", f"10.2.0.{i}", T0)
        _login(url, "xinghe", "wrong-Pass1!", f"10.3.0.{i}", T0)
    assert _login(url, "nobody", "x", "10.4.0.1", T0) == _login(url, "xinghe", "x", "10.4.0.2", T0)


def test_wrong_codes_count_across_correct_passwords(url: str) -> None:
    _with_second_factor(url)
    wrong = 0
    for cycle in range(3):  # each cycle: the correct password, then wrong codes
        at = T0 + dt.timedelta(minutes=cycle)
        assert _login(url, "xinghe", PASSWORD, "10.5.0.1", at) == "ok"
        for _ in range(2):
            if wrong < 5:
                assert _second_factor(url, "000000", "10.5.0.1", at) == "动态口令不正确"
                wrong += 1
    at = T0 + dt.timedelta(minutes=4)
    assert "已暂时锁定" in _login(url, "xinghe", PASSWORD, "10.5.0.2", at)
    assert "已暂时锁定" in _second_factor(url, _code(at), "10.5.0.2", at)


def test_a_complete_login_restarts_the_account_count(url: str) -> None:
    _with_second_factor(url)
    for _ in range(4):
        _second_factor(url, "000000", "10.6.0.1", T0)
    assert _second_factor(url, _code(T0), "10.6.0.1", T0) == "ok"
    for _ in range(4):
        _second_factor(url, "000000", "10.6.0.2", T0)
    assert _login(url, "xinghe", PASSWORD, "10.6.0.3", T0) == "ok"


def test_a_success_does_not_clear_the_address_count(url: str) -> None:
    for i in range(4):
        _login(url, f"guess{i}", "wrong-Pass1!", "10.7.7.7", T0)
    assert _login(url, "xinghe", PASSWORD, "10.7.7.7", T0) == "ok"  # the attacker's own account
    _login(url, "guess9", "wrong-Pass1!", "10.7.7.7", T0)
    assert "已暂时锁定" in _login(url, "xinghe", PASSWORD, "10.7.7.7", T0)
    assert _login(url, "xinghe", PASSWORD, "10.8.8.8", T0) == "ok"


def test_a_code_is_accepted_once(url: str) -> None:
    _with_second_factor(url)
    assert _second_factor(url, _code(T0), "10.9.0.1", T0) == "ok"
    assert _second_factor(url, _code(T0), "10.9.0.1", T0) == "动态口令不正确"
    earlier = T0 - dt.timedelta(seconds=30)  # a neighbour step older than the one used
    assert _second_factor(url, _code(earlier), "10.9.0.1", T0) == "动态口令不正确"
    later = T0 + dt.timedelta(seconds=30)
    assert _second_factor(url, _code(later), "10.9.0.1", later) == "ok"


def test_replacing_the_second_factor_needs_the_password_and_a_current_code(url: str) -> None:
    _with_second_factor(url)
    new_secret = pyotp.random_base32()
    new_code = pyotp.TOTP(new_secret).now()
    with session_scope(url) as db, pytest.raises(AccountRefusedError) as refused:
        account = db.scalars(select(Account)).one()
        enrol_second_factor(db, account, new_secret, new_code, None, "10.1.1.1", PROFILE)
    assert refused.value.problems[0].field == "current_password"
    proof = (PASSWORD, "000000")
    with session_scope(url) as db, pytest.raises(AccountRefusedError) as refused:
        account = db.scalars(select(Account)).one()
        enrol_second_factor(db, account, new_secret, new_code, proof, "10.1.1.1", PROFILE)
    assert refused.value.problems[0].field == "current_code"
    with session_scope(url) as db:
        account = db.scalars(select(Account)).one()
        assert account.totp_secret == SECRET
        proof = (PASSWORD, pyotp.TOTP(SECRET).now())
        enrol_second_factor(db, account, new_secret, new_code, proof, "10.1.1.1", PROFILE)
    with session_scope(url) as db:
        assert db.scalars(select(Account)).one().totp_secret == new_secret


def _stored_secret(url: str) -> str:
    accounts = table("accounts", column("totp_secret"))
    with engine_for(url).connect() as connection:
        return str(connection.execute(select(accounts.c.totp_secret)).scalar_one())


def test_secrets_are_sealed_at_rest_and_need_the_key(url: str) -> None:
    _with_second_factor(url)
    stored = _stored_secret(url)
    assert SECRET not in stored and stored.startswith("gAAAAA")
    with session_scope(url) as db:
        assert db.scalars(select(Account)).one().totp_secret == SECRET
    use_key(url, Fernet.generate_key())  # another deployment's key opens nothing
    with session_scope(url) as db, pytest.raises(SealingKeyError, match="密钥不同"):
        db.scalars(select(Account)).one()


def test_secrets_stored_in_clear_before_are_sealed(url: str) -> None:
    accounts = table("accounts", column("totp_secret"))
    with engine_for(url).begin() as connection:
        connection.execute(accounts.update().values(totp_secret=SECRET))
    with session_scope(url) as db:
        assert db.scalars(select(Account)).one().totp_secret == SECRET  # still readable
        assert seal_stored_secrets(db) == 1
    assert _stored_secret(url).startswith("gAAAAA")
    with session_scope(url) as db:
        assert db.scalars(select(Account)).one().totp_secret == SECRET
        assert seal_stored_secrets(db) == 0


def test_the_same_code_sent_twice_at_once_is_accepted_once(url: str) -> None:
    import threading

    _with_second_factor(url)
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def send() -> None:
        start.wait()
        outcomes.append(_second_factor(url, _code(T0), "10.9.1.1", T0))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "动态口令不正确", "动态口令不正确", "动态口令不正确"]
