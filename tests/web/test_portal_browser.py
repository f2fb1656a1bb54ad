"""The member portal in headless Chromium, as its users go through it: register, confirm the
e-mail, log in with the captcha, apply for membership with a document, be approved by staff, sign
up for a full training and be moved up when someone cancels; the forgotten-password round trip
through a real SMTP server; the lockout after five failures."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from chanye.config import Settings
from tests.conftest import browser_login, captcha_answer, open_page, run_cli, serving
from tests.mailbox import Mailbox, link_in
from tests.registry.factory import uscc
from tests.web.signin import PASSWORD, make_account

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Wx5$portal-renewed"


def register_enterprise(
    page: Any, base: str, username: str, email: str, number: int, code: str | None = None
) -> None:
    """Register an enterprise account through the form, with ``uscc(number)`` or ``code``."""
    page.goto(f"{base}/register")
    page.check("input[name=kind][value=enterprise]")
    page.fill("input[name=username]", username)
    page.fill("input[name=display_name]", f"广州浏览器测试{number}号有限公司")
    page.fill("input[name=enterprise_uscc]", code or uscc(number))
    page.fill("input[name=contact_name]", "陈晓")
    page.fill("input[name=mobile]", f"139{number:08d}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_again]", PASSWORD)
    page.fill("input[name=captcha]", captcha_answer(page, base))
    page.get_by_role("button", name="注册").click()
    expect(page.locator("h1")).to_have_text("注册成功，请确认邮箱")


def confirm_by_mail(page: Any, mailbox: Mailbox, email: str) -> None:
    page.goto(link_in(mailbox.wait_for(email, "确认"), "/register/confirm"))
    expect(page.locator("h1")).to_have_text("邮箱已确认")


def quick_login(page: Any, base: str, account: str, password: str, remember: bool) -> None:
    """Log in with the box on the home page."""
    page.goto(f"{base}/")
    box = page.locator("form.quick-login")
    box.locator("input[name=account]").fill(account)
    box.locator("input[name=password]").fill(password)
    box.locator("input[name=captcha]").fill(captcha_answer(page, base))
    if remember:
        box.locator("input[name=remember]").check()
    with page.expect_navigation():
        box.get_by_role("button", name="登录", exact=True).click()


def test_register_confirm_and_log_in_with_the_captcha(
    browser: Any, live_server: str, mailbox: Mailbox
) -> None:
    page, problems = open_page(browser, f"{live_server}/")
    register_enterprise(page, live_server, "browserent", "browser@ent.example", 501)
    confirm_by_mail(page, mailbox, "browser@ent.example")
    # A captcha that cannot be read is replaced by another (换一张).
    page.goto(f"{live_server}/")
    first = page.locator("#captcha-image").get_attribute("src")
    page.get_by_role("button", name="换一张").click()
    expect(page.locator("#captcha-image")).not_to_have_attribute("src", first or "")
    quick_login(page, live_server, "browserent", PASSWORD, remember=True)
    expect(page.locator("#current-user")).to_have_text("广州浏览器测试501号有限公司")
    # 记住账号: after logging out, the box offers the account name (and never the password).
    with page.expect_navigation():  # the logout's answer lands before the next page is asked
        page.get_by_role("button", name="退出").click()
    page.goto(f"{live_server}/login")
    expect(page.locator("form.quick-login input[name=account]")).to_have_value("browserent")
    expect(page.locator("form.quick-login input[name=password]")).to_have_value("")
    # The session cookie comes with the captcha image, which loads after the page.
    expect(page.locator("#captcha-image")).to_have_js_property("naturalWidth", 160)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert PASSWORD not in str(cookies) and cookies["chanye_session"]["httpOnly"]
    assert problems == [], problems
    page.close()


def test_forgot_password_round_trip(browser: Any, live_server: str, mailbox: Mailbox) -> None:
    page, problems = open_page(browser, f"{live_server}/")
    register_enterprise(page, live_server, "forgetful", "forgetful@ent.example", 502)
    confirm_by_mail(page, mailbox, "forgetful@ent.example")
    page.goto(f"{live_server}/login")
    page.get_by_role("link", name="忘记密码?").click()
    page.fill("input[name=account]", "forgetful@ent.example")
    page.fill("input[name=captcha]", captcha_answer(page, live_server))
    page.get_by_role("button", name="发送重置链接").click()
    expect(page.locator("#message")).to_contain_text("重置密码的链接已发送")
    link = link_in(mailbox.wait_for("forgetful@ent.example", "重置密码"), "/password/reset")
    page.goto(link)
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=new_password_again]", NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    expect(page.locator("h1")).to_have_text("密码已重置")
    page.goto(link)  # the link works once
    expect(page.locator("#message")).to_contain_text("已使用")
    browser_login(page, live_server, "forgetful", NEW_PASSWORD)
    expect(page.locator("#current-user")).to_be_visible()
    # The only failed load is the spent link's page, answered 400 on purpose.
    assert [p for p in problems if "status of 400" not in p] == [], problems
    page.close()


@pytest.fixture(scope="module")
def lockout_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[str]:
    """A server of its own: locking out 127.0.0.1 must not lock the other browser tests out."""
    data_dir = tmp_path_factory.mktemp("lockout")
    made = run_cli(
        "account",
        "create",
        "lockme",
        "--role",
        "individual",
        "--email",
        "lock@me.example",
        data_dir=data_dir,
    )
    assert made.returncode == 0, made.stderr
    (data_dir / "password").write_text(made.stdout.split("one-time password: ")[1].split()[0])
    with serving(data_dir, mailbox) as base:
        yield base


def test_lockout_after_five_failures(browser: Any, lockout_server: str) -> None:
    page, _problems = open_page(browser, f"{lockout_server}/login")
    for attempt in range(5):
        browser_login(page, lockout_server, "lockme", f"Wrong-password-{attempt}")
        expect(page.locator("#login-error")).to_have_text("账号或密码错误")
    browser_login(page, lockout_server, "lockme", "Wrong-password-again")
    expect(page.locator("#login-error")).to_contain_text("已暂时锁定")
    expect(page.locator("#login-error")).to_contain_text("（北京时间）后重试")
    page.close()


def _beijing_tomorrow(hour: int) -> str:
    moment = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=1)
    return moment.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def test_member_journey_from_registration_to_a_training_place(
    browser: Any, live_server: str, live_settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    # An enterprise registers, confirms its e-mail and logs in with the captcha.
    joiner, problems = open_page(browser, f"{live_server}/")
    register_enterprise(joiner, live_server, "joiner", "joiner@ent.example", 503)
    confirm_by_mail(joiner, mailbox, "joiner@ent.example")
    quick_login(joiner, live_server, "joiner", PASSWORD, remember=False)
    # It applies for membership with its business licence.
    licence = tmp_path / "营业执照.pdf"
    licence.write_bytes(
        b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    joiner.goto(f"{live_server}/members/apply")
    form = joiner.locator("#apply-form")
    form.locator("input[name=legal_representative]").fill("陈大文")
    form.locator("input[name=address]").fill("广州市天河区珠江新城 1 号")
    form.locator("select[name=industry_id]").select_option("icv-nev")
    form.locator("input[name=licence]").set_input_files(str(licence))
    form.get_by_role("button", name="提交申请").click()
    expect(joiner.locator("#application-status")).to_contain_text("已提交")
    mailbox.wait_for("joiner@ent.example", "已收到")

    # Staff review and approve it.
    analyst = make_account(live_settings, "analyst")
    staff, staff_problems = open_page(browser, f"{live_server}/")
    browser_login(staff, live_server, analyst.username, PASSWORD, analyst.totp_secret)
    staff.goto(f"{live_server}/members/review")
    staff.get_by_role("link", name="广州浏览器测试503号有限公司").click()
    staff.get_by_role("button", name="开始审核").click()
    expect(staff.locator("#application-status")).to_contain_text("审核中")
    staff.get_by_role("button", name="批准").click()
    expect(staff.locator("#application-status")).to_contain_text("已批准")
    mailbox.wait_for("joiner@ent.example", "已批准")
    joiner.goto(f"{live_server}/account")
    expect(joiner.locator(".user-box .role")).to_have_text("会员企业")

    # Staff publish a training with one place; another member takes it.
    staff.goto(f"{live_server}/trainings/new")
    staff.fill("input[name=title]", "浏览器测试：专精特新申报辅导")
    staff.fill("input[name=location]", "广州市天河区产业协会 3 楼")
    staff.fill("input[name=organizer]", "产业协会秘书处")
    staff.fill("input[name=starts_at]", _beijing_tomorrow(9))
    staff.fill("input[name=ends_at]", _beijing_tomorrow(11))
    staff.fill("input[name=capacity]", "1")
    staff.get_by_role("button", name="发布").click()
    staff.wait_for_url(re.compile(r".*/trainings/\d+.*"))
    training_url = staff.url.split("?")[0]
    first = make_account(live_settings, "member", enterprise_uscc=uscc(504))
    other, other_problems = open_page(browser, f"{live_server}/")
    browser_login(other, live_server, first.username, PASSWORD)
    other.goto(training_url)
    other.get_by_role("button", name="报名", exact=True).click()
    expect(other.locator("#signup-status")).to_contain_text("已报名（已确认）")

    # The new member signs up for the full training and is wait-listed ...
    joiner.goto(training_url)
    joiner.get_by_role("button", name="报名", exact=True).click()
    expect(joiner.locator("#signup-status")).to_contain_text("候补第 1 位")
    # ... someone cancels, and the new member is moved up and told by e-mail.
    other.get_by_role("button", name="取消报名").click()
    expect(other.locator("#signup-status")).to_contain_text("已取消报名")
    joiner.goto(training_url)
    expect(joiner.locator("#signup-status")).to_contain_text("已报名（已确认）")
    mailbox.wait_for("joiner@ent.example", "候补成功")
    # Staff see the attendee list and can export it.
    staff.goto(f"{training_url}/attendees")
    expect(staff.locator("main")).to_contain_text("广州浏览器测试503号有限公司")
    assert problems == staff_problems == other_problems == [], (problems, staff_problems)
    for page in (joiner, staff, other):
        page.close()
