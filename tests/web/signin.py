"""Signing a test client in as someone of a given role, without going through the login form
(the login form itself is tested in test_account_pages and the browser walkthrough)."""

from __future__ import annotations

import datetime as dt
import itertools

import pyotp
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.portal import totp
from chanye.portal.accounts import create_account
from chanye.portal.binding import verify_by_administrator
from chanye.portal.roles import is_staff
from chanye.portal.sessions import open_session
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import Account
from chanye.web.auth import SESSION_COOKIE

PASSWORD = "Zq8!chanye-test"
_numbers = itertools.count(1)
_steps_used: dict[str, int] = {}


def fresh_code(secret: str) -> str:
    """A code of ``secret`` the server has not accepted yet: a code works once (RFC 6238 §5.2),
    so a second use within the same 30 s takes the next step's code (still inside the window)."""
    generator = pyotp.TOTP(secret)
    step = max(generator.timecode(dt.datetime.now(dt.UTC)), _steps_used.get(secret, -1) + 1)
    _steps_used[secret] = step
    return generator.generate_otp(step)


def make_account(settings: Settings, role: str, verified: bool = True, **extra: object) -> Account:
    """An account made as an administrator makes it (``chanye account create``): one with a USCC
    has its binding verified, unless ``verified=False`` (as if it had only registered)."""
    number = next(_numbers)
    with session_scope(settings.resolved_database_url) as db:
        account, _password = create_account(
            db,
            username=f"{role.replace('_', '')}{number}",
            email=f"{role}{number}@example.cn",
            display_name=f"测试{role}{number}",
            role=role,
            actor=Actor("test", "admin"),
            password=PASSWORD,
            **extra,  # type: ignore[arg-type]
        )
        if is_staff(role):
            account.totp_secret = totp.new_secret()
        if verified and account.enterprise_uscc:
            verify_by_administrator(db, account, Actor("test", "admin"))
        db.flush()
        db.expunge(account)
    return account


def sign_in(client: TestClient, account: Account) -> str:
    """Give the client a logged-in session of this account; returns (and sends) its CSRF token."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    with session_scope(settings.resolved_database_url) as db:
        token, row = open_session(db, "testclient", account_id=account.id)
        csrf = row.csrf_token
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    client.headers["X-CSRF-Token"] = csrf
    return csrf


def sign_in_as(client: TestClient, role: str, **extra: object) -> Account:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    account = make_account(settings, role, **extra)
    sign_in(client, account)
    return account


def anonymous_csrf(client: TestClient) -> str:
    """The CSRF token of an anonymous session (from a page's form)."""
    import re

    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the login page has no CSRF field"
    return match.group(1)
