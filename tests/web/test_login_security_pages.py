"""Login and second factor through the app and the server: a one-time code works once, the
authenticator is replaced only with the password and a current code (and the holder is told by
mail), the client address is the peer's unless a proxy is trusted, data files are the owner's."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.store.models import Account, AuditEntry
from tests.conftest import run_cli, serving
from tests.mailbox import Mailbox, body_of
from tests.web.portal_client import form_token, login, settings_of
from tests.web.signin import PASSWORD, fresh_code, make_account


def _second_step(portal: TestClient, code: str) -> int:
    token = form_token(portal, "/login/totp")
    response = portal.post(
        "/login/totp", data={"csrf_token": token, "code": code}, follow_redirects=False
    )
    return response.status_code


def test_a_code_works_once_at_login(portal: TestClient) -> None:
    analyst = make_account(settings_of(portal), "analyst")
    code = fresh_code(analyst.totp_secret or "")
    login(portal, analyst.username, PASSWORD)
    assert _second_step(portal, code) == 303
    portal.cookies.clear()
    login(portal, analyst.username, PASSWORD)
    assert _second_step(portal, code) == 400  # RFC 6238 §5.2: the same code is refused
    assert portal.get("/registry", follow_redirects=False).status_code == 303
    assert _second_step(portal, fresh_code(analyst.totp_secret or "")) == 303


def test_replacing_the_authenticator_needs_proof_and_tells_the_holder(
    portal: TestClient, mailbox: Mailbox
) -> None:
    analyst = make_account(settings_of(portal), "analyst")
    old_secret = analyst.totp_secret or ""
    login(portal, analyst.username, PASSWORD)
    assert _second_step(portal, fresh_code(old_secret)) == 303
    page = portal.get("/account/totp").text
    assert "更换身份验证器" in page and 'name="current_password"' in page
    new_secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page).group(1)  # type: ignore[union-attr]
    token = form_token(portal, "/account/totp")
    form = {"csrf_token": token, "secret": new_secret, "code": pyotp.TOTP(new_secret).now()}
    silent = portal.post("/account/totp", data=form)
    assert silent.status_code == 400 and "当前密码不正确" in silent.text
    wrong_code = portal.post(
        "/account/totp", data={**form, "current_password": PASSWORD, "current_code": "000000"}
    )
    assert wrong_code.status_code == 400 and "当前身份验证器的动态口令不正确" in wrong_code.text
    with session_scope(settings_of(portal).resolved_database_url) as db:
        assert db.get(Account, analyst.id).totp_secret == old_secret  # type: ignore[union-attr]
    replaced = portal.post(
        "/account/totp",
        data={**form, "current_password": PASSWORD, "current_code": fresh_code(old_secret)},
        follow_redirects=False,
    )
    assert replaced.status_code == 303
    with session_scope(settings_of(portal).resolved_database_url) as db:
        assert db.get(Account, analyst.id).totp_secret == new_secret  # type: ignore[union-attr]
    mail = mailbox.wait_for(analyst.email, "双因素登录已变更")
    assert "更换了双因素登录的身份验证器" in body_of(mail)


def _address_seen(base: str, settings: Settings) -> str:
    """The client address the server records for a login posted with a forged X-Forwarded-For."""
    forged = {"X-Forwarded-For": "203.0.113.9"}
    with httpx.Client(base_url=base, headers=forged) as client:
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"csrf_token": csrf, "account": "x", "password": "y"})
    with session_scope(settings.resolved_database_url) as db:
        return str(
            db.scalars(
                select(AuditEntry.client_addr)
                .where(AuditEntry.action == "login.captcha_failed")
                .order_by(AuditEntry.id.desc())
            ).first()
        )


@pytest.mark.parametrize(("trusted", "seen"), [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")])
def test_forwarded_addresses_are_believed_from_trusted_proxies_only(
    tmp_path: Path, mailbox: Mailbox, trusted: str, seen: str
) -> None:
    assert run_cli("db", "upgrade", data_dir=tmp_path).returncode == 0
    with serving(
        tmp_path, mailbox, CHANYE_TRUSTED_PROXIES=trusted, CHANYE_COOKIE_SECURE="false"
    ) as base:
        assert _address_seen(base, Settings(data_dir=tmp_path)) == seen


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_files_are_the_owners_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    created = run_cli(
        "account",
        "create",
        "analyst1",
        "--role",
        "analyst",
        "--email",
        "a1@example.cn",
        "--name",
        "分析员",
        data_dir=data_dir,
    )
    assert created.returncode == 0, created.stderr
    assert _mode(data_dir) == 0o700
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert data_dir / "chanye.db" in files
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_a_prepared_demo_keeps_every_file_to_its_owner(live_data_dir: Path) -> None:
    key = live_data_dir / "secret.key"
    assert key.exists()  # the demo's staff have second factors: their secrets are sealed
    paths = list(live_data_dir.rglob("*"))
    loose = {str(p.relative_to(live_data_dir)): oct(_mode(p)) for p in paths if _mode(p) & 0o077}
    assert loose == {}
