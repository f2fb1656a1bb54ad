"""分期拨付 in headless Chromium: a policy paid in two instalments is published, the enterprise
reads its schedule on its push and confirms, and the policy office records the first instalment on
the disbursement list (the second is not yet due: no form for it)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from chanye.beijing import today_in_beijing, years_later
from chanye.config import Settings
from chanye.units import format_yuan
from tests.conftest import browser_login, open_page
from tests.web.signin import PASSWORD, make_account
from tests.web.test_policy_browser import POLICY, _eligible_uscc

pytestmark = pytest.mark.browser

SCHEDULED = (
    POLICY.replace("id: e2e-scale-reward", "id: e2e-schedule-reward")
    .replace("浏览器测试：规上企业稳增长奖励", "浏览器测试：分期拨付奖励")
    .replace("测试〔2026〕9号", "测试〔2026〕10号")
    + """\
  schedule:
    - share: 60%
      text: 首年拨付60%（第四条）
    - share: 40%
      after_years: 1
      text: 次年拨付40%，须营业收入不低于上年（第四条）
      when: enterprise.revenue >= prior(enterprise.revenue)
"""
)


def test_the_schedule_is_shown_and_the_first_instalment_recorded(
    browser: Any, live_server: str, live_settings: Settings
) -> None:
    today = today_in_beijing()
    officers = [make_account(live_settings, "policy_office") for _ in range(2)]
    office, office_problems = open_page(browser, f"{live_server}/")
    browser_login(office, live_server, officers[0].username, PASSWORD, officers[0].totp_secret)
    office.goto(f"{live_server}/policies/manage")
    office.fill("#policy-text", SCHEDULED)
    office.get_by_role("button", name="保存为草稿").click()
    expect(office.locator("#policy-message")).to_contain_text("草稿已保存")
    office.close()
    office, office_problems = open_page(browser, f"{live_server}/")
    browser_login(office, live_server, officers[1].username, PASSWORD, officers[1].totp_secret)
    office.goto(f"{live_server}/policies/e2e-schedule-reward")
    office.get_by_role("button", name="复核并发布").click()
    expect(office.locator("#policy-schedule")).to_contain_text("分 2 期拨付")
    uscc, amount = _eligible_uscc(live_settings, policy_id="e2e-schedule-reward")

    owner = make_account(live_settings, "enterprise", enterprise_uscc=uscc)
    firm, firm_problems = open_page(browser, f"{live_server}/")
    browser_login(firm, live_server, owner.username, PASSWORD)
    firm.goto(f"{live_server}/my/policies")
    push = firm.locator("article[data-policy='e2e-schedule-reward']")
    later = push.locator(".instalment[data-number='2']")
    expect(push.locator(".instalment[data-number='1']")).to_contain_text(
        f"确认享受后 {format_yuan(round(amount * 0.6, 2))}"
    )
    expect(later).to_contain_text(f"预计{years_later(today, 1).strftime('%Y-%m')}")
    expect(later).to_contain_text("须营业收入不低于上年")
    push.get_by_role("button", name="确认享受").click()
    expect(firm.locator("#push-message")).to_contain_text("已确认享受")

    office.goto(f"{live_server}/policies/e2e-schedule-reward")
    office.get_by_role("link", name="拨付清单").click()
    row = office.locator(f"#disbursement-rows tr[data-uscc='{uscc}']")
    expect(row.locator(".instalment[data-number='2']")).to_contain_text("未到期")
    expect(row.get_by_role("button", name="登记第2期拨付")).to_have_count(0)
    row.get_by_role("button", name="登记第1期拨付").click()
    row = office.locator(f"#disbursement-rows tr[data-uscc='{uscc}']")
    expect(row.locator(".instalment[data-number='1']")).to_contain_text(f"已拨付 {today}")

    firm.goto(f"{live_server}/my/policies")
    expect(push.locator(".instalment[data-number='1']")).to_contain_text("已拨付")
    assert office_problems == firm_problems == [], (office_problems, firm_problems)
    office.close()
    firm.close()
