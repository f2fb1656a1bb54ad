"""Sign-in and the account through the app: register, confirm by e-mail (through a real SMTP
server), log in with the captcha, remember the account, lock out, time out, reset and change the
password, two-factor login."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from chanye.config import Settings
from chanye.store.audit import verify_chain
from chanye.store.database import session_scope
from chanye.store.models import Account, AuditEntry, WebSession
from chanye.web.auth import REMEMBER_COOKIE, SESSION_COOKIE
from tests.conftest import CHANYE_BIN, cli_env
from tests.mailbox import Mailbox, link_in
from tests.registry.factory import uscc
from tests.web.portal_client import captcha, form_token, login, settings_of
from tests.web.signin import PASSWORD, fresh_code, make_account

NEW_PASSWORD = "Tq7#renewed-pass"


def test_captcha_answers_are_not_served_by_default(client: TestClient) -> None:
    assert Settings().testing_expose_captcha is False
    client.get("/login")
    assert client.get("/captcha.png").status_code == 200
    assert client.get("/testing/captcha-answer").status_code == 404


def test_home_greets_visitors_with_the_quick_login_box(client: TestClient) -> None:
    html = client.get("/").text
    for text in (
        "账号",
        "密码",
        "验证码",
        "记住账号",
        "忘记密码?",
        "入会申请",
        "用户注册",
        "近期培训",
        "换一张",
    ):
        assert text in html, text


def test_register_confirm_by_mail_then_log_in(portal: TestClient, mailbox: Mailbox) -> None:
    token = form_token(portal, "/register")
    data = {
        "csrf_token": token,
        "kind": "enterprise",
        "username": "xingyue",
        "display_name": "广州星月科技有限公司",
        "contact_name": "王芳",
        "enterprise_uscc": uscc(7),
        "mobile": "13900139000",
        "email": "wang@xingyue.example",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "captcha": captcha(portal),
    }
    response = portal.post("/register", data=data)
    assert response.status_code == 200 and "请确认邮箱" in response.text
    # Before confirming, the login is refused with the reason.
    refused = login(portal, "xingyue", PASSWORD)
    assert refused.status_code == 400 and "邮箱尚未确认" in refused.text  # type: ignore[attr-defined]
    mail = mailbox.wait_for("wang@xingyue.example", "确认")
    link = link_in(mail, "/register/confirm")
    assert "已确认" in portal.get(link.replace("https://testserver.local", "")).text
    again = portal.get(link.replace("https://testserver.local", ""))
    assert again.status_code == 400 and "已使用" in again.text  # single use

    before = portal.cookies.get(SESSION_COOKIE)
    done = login(portal, "wang@xingyue.example", PASSWORD, remember="1", next="/account")
    assert done.status_code == 303 and done.headers["location"] == "/account"  # type: ignore[attr-defined]
    assert portal.cookies.get(SESSION_COOKIE) != before  # a new session id at login
    assert portal.cookies.get(REMEMBER_COOKIE) == "wang%40xingyue.example"
    assert PASSWORD not in str(dict(portal.cookies))
    assert "广州星月科技有限公司" in portal.get("/account").text
    cookie_header = done.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    session_cookie = next(c for c in cookie_header if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie
    assert "samesite=lax" in session_cookie.lower()


def test_registration_lists_every_problem_and_stores_nothing(portal: TestClient) -> None:
    token = form_token(portal, "/register")
    data = {
        "csrf_token": token,
        "kind": "enterprise",
        "username": "1x",
        "display_name": "",
        "enterprise_uscc": "91440101ABCDEFGHIJ",
        "email": "not-mail",
        "password": "short",
        "password_again": "other",
        "captcha": captcha(portal),
    }
    response = portal.post("/register", data=data)
    assert response.status_code == 400
    for text in (
        "账号须以字母开头",
        "统一社会信用代码无效",
        "电子邮箱格式不正确",
        "密码至少 10 位",
        "两次输入的密码不一致",
        "请填写联系人",
    ):
        assert text in response.text, text
    with session_scope(settings_of(portal).resolved_database_url) as db:
        assert db.scalars(select(Account)).all() == []


def test_wrong_captcha_is_refused_and_used_up(portal: TestClient) -> None:
    make_account(settings_of(portal), "member", enterprise_uscc=uscc(3))
    token = form_token(portal, "/login")
    answer = captcha(portal)
    wrong = portal.post(
        "/login",
        data={"csrf_token": token, "account": "member1", "password": PASSWORD, "captcha": "XXXX"},
    )
    assert wrong.status_code == 400 and "验证码错误" in wrong.text
    reused = portal.post(
        "/login",
        data={"csrf_token": token, "account": "member1", "password": PASSWORD, "captcha": answer},
    )
    assert reused.status_code == 400 and "验证码" in reused.text  # a new image is needed


def test_lockout_after_five_failures_says_when_to_retry(portal: TestClient) -> None:
    account = make_account(settings_of(portal), "individual")
    for _ in range(5):
        assert login(portal, account.username, "Wrong-pass-123").status_code == 400  # type: ignore[attr-defined]
    locked = login(portal, account.username, PASSWORD)
    assert locked.status_code == 400  # type: ignore[attr-defined]
    assert re.search(r"已暂时锁定，请于 \d\d:\d\d（北京时间）后重试", locked.text)  # type: ignore[attr-defined]
    with session_scope(settings_of(portal).resolved_database_url) as db:
        actions = db.scalars(select(AuditEntry.action)).all()
        assert actions.count("login.failure") == 5 and "login.locked" in actions
        assert verify_chain(db) == []


def test_idle_session_ends_after_thirty_minutes(portal: TestClient) -> None:
    account = make_account(settings_of(portal), "individual")
    assert login(portal, account.username, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    assert portal.get("/account").status_code == 200
    with session_scope(settings_of(portal).resolved_database_url) as db:
        db.execute(
            update(WebSession).values(
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
            )
        )
    response = portal.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert "expired=1" in response.headers["location"]
    assert "已自动退出" in portal.get(response.headers["location"]).text
    with session_scope(settings_of(portal).resolved_database_url) as db:
        assert "session.timeout" in db.scalars(select(AuditEntry.action)).all()


def test_forgot_password_round_trip_through_smtp(portal: TestClient, mailbox: Mailbox) -> None:
    account = make_account(settings_of(portal), "member", enterprise_uscc=uscc(4))
    other = TestClient(portal.app, base_url="https://testserver.local")
    assert login(other, account.username, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    token = form_token(portal, "/password/forgot")
    sent = portal.post(
        "/password/forgot",
        data={"csrf_token": token, "account": account.username, "captcha": captcha(portal)},
    )
    assert "重置链接已发送" in sent.text
    nobody = portal.post(
        "/password/forgot",
        data={
            "csrf_token": form_token(portal, "/password/forgot"),
            "account": "nobody",
            "captcha": captcha(portal),
        },
    )
    assert nobody.text.count("如果该账号存在") == 1  # the same answer: accounts are not revealed
    link = link_in(mailbox.wait_for(account.email, "重置密码"), "/password/reset")
    path = link.replace("https://testserver.local", "")
    form = portal.get(path)
    assert form.status_code == 200 and "设置新密码" in form.text
    reset_token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    weak = portal.post(
        "/password/reset",
        data={
            "csrf_token": token,
            "token": reset_token,
            "new_password": "password123",
            "new_password_again": "password123",
        },
    )
    assert weak.status_code == 400 and "密码" in weak.text
    done = portal.post(
        "/password/reset",
        data={
            "csrf_token": token,
            "token": reset_token,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert done.status_code == 200 and "密码已重置" in done.text
    assert portal.get(path).status_code == 400  # the link works once
    assert other.get("/account", follow_redirects=False).status_code == 303  # sessions ended
    assert login(portal, account.username, NEW_PASSWORD).status_code == 303  # type: ignore[attr-defined]
    mailbox.wait_for(account.email, "密码已修改")


def test_admin_reset_forces_a_change_at_next_login(portal: TestClient) -> None:
    settings = settings_of(portal)
    account = make_account(settings, "analyst")
    reset = subprocess.run(
        [CHANYE_BIN, "account", "reset-password", account.username],
        env=cli_env(settings.data_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    assert reset.returncode == 0, reset.stderr
    temporary = reset.stdout.strip().rsplit(" ", 1)[-1]
    assert login(portal, account.username, temporary).status_code == 303  # type: ignore[attr-defined]
    code = pyotp.TOTP(account.totp_secret or "").now()
    token = form_token(portal, "/login/totp")
    portal.post("/login/totp", data={"csrf_token": token, "code": code})
    forced = portal.get("/registry", follow_redirects=False)
    assert forced.status_code == 303 and forced.headers["location"] == "/account/password"
    assert "管理员已为您重置密码" in portal.get("/account/password").text
    token = form_token(portal, "/account/password")
    changed = portal.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": temporary,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert portal.get("/registry", follow_redirects=False).status_code == 200


def test_staff_must_enrol_and_then_use_a_second_factor(portal: TestClient) -> None:
    settings = settings_of(portal)
    account = make_account(settings, "policy_office")
    with session_scope(settings.resolved_database_url) as db:
        db.execute(update(Account).where(Account.id == account.id).values(totp_secret=None))
    assert login(portal, account.username, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    forced = portal.get("/registry", follow_redirects=False)
    assert forced.headers["location"] == "/account/totp"
    page = portal.get("/account/totp").text
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page).group(1)  # type: ignore[union-attr]
    token = form_token(portal, "/account/totp")
    wrong = portal.post(
        "/account/totp", data={"csrf_token": token, "secret": secret, "code": "000000"}
    )
    assert wrong.status_code == 400
    portal.post(
        "/account/totp", data={"csrf_token": token, "secret": secret, "code": fresh_code(secret)}
    )
    assert portal.get("/registry", follow_redirects=False).status_code == 200
    portal.cookies.clear()
    assert login(portal, account.username, PASSWORD).headers["location"].startswith("/login/totp")  # type: ignore[attr-defined]
    assert portal.get("/registry", follow_redirects=False).status_code == 303  # not yet in
    token = form_token(portal, "/login/totp")
    bad = portal.post("/login/totp", data={"csrf_token": token, "code": "123456"})
    assert bad.status_code == 400 and "动态口令不正确" in bad.text
    portal.post("/login/totp", data={"csrf_token": token, "code": fresh_code(secret)})
    assert portal.get("/registry", follow_redirects=False).status_code == 200


def test_logout_ends_the_session(portal: TestClient) -> None:
    account = make_account(settings_of(portal), "individual")
    login(portal, account.username, PASSWORD)
    token = form_token(portal, "/account")
    kept = portal.cookies.get(SESSION_COOKIE)
    assert (
        portal.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    portal.cookies.set(SESSION_COOKIE, kept or "", domain="testserver.local")
    assert portal.get("/account", follow_redirects=False).status_code == 303
