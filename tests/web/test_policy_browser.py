"""免申即享 in headless Chromium: the policy office uploads a policy, its drafter is refused and a
second officer approves and publishes it (双人复核), pushes are
made, the enterprise sees its push with the reasons and confirms it, the policy office opens the
disbursement list and downloads it as Excel. Also the simulation page's sliders and charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.store.models import PolicyPush, PolicyVersion
from chanye.units import format_yuan
from tests.conftest import browser_login, open_page
from tests.web.signin import PASSWORD, make_account

pytestmark = pytest.mark.browser

POLICY = """\
id: e2e-scale-reward
title: 浏览器测试：规上企业稳增长奖励
issuer: 广州市工业和信息化局
document: 测试〔2026〕9号
valid: {from: 2025-01-01, to: 2027-12-31}
parameters:
  min_revenue: 20000000.0
  rate: 0.001
  cap: 500000.0
conditions:
  - id: active
    text: 在广州市登记注册、处于存续状态的企业（第二条）
    when: enterprise.status == "active" && enterprise.district_code.startsWith("4401")
  - id: revenue
    text: 上年度营业收入不低于2000万元（第三条）
    when: enterprise.revenue >= params.min_revenue
benefit:
  amount: min(enterprise.revenue * params.rate, params.cap)
"""


def _eligible_uscc(
    settings: Settings, rank: int = 0, policy_id: str = "e2e-scale-reward"
) -> tuple[str, float]:
    """An enterprise the published policy pushed a benefit to (the largest, or the next ones)."""
    with session_scope(settings.resolved_database_url) as db:
        version = db.scalar(
            select(PolicyVersion).where(
                PolicyVersion.policy_id == policy_id, PolicyVersion.status == "published"
            )
        )
        assert version is not None
        push = db.scalar(
            select(PolicyPush)
            .where(PolicyPush.policy_version_id == version.id, PolicyPush.needs_data.is_(False))
            .order_by(PolicyPush.amount.desc(), PolicyPush.uscc)
            .offset(rank)
            .limit(1)
        )
        assert push is not None and push.amount
        return push.uscc, push.amount


def test_publish_push_confirm_and_disbursement(
    browser: Any, live_server: str, live_settings: Settings, tmp_path: Path
) -> None:
    officer = make_account(live_settings, "policy_office")
    office, office_problems = open_page(browser, f"{live_server}/")
    browser_login(office, live_server, officer.username, PASSWORD, officer.totp_secret)

    # Upload a policy with a mistake: every problem is shown with its place in the file.
    office.goto(f"{live_server}/policies/manage")
    office.fill("#policy-text", POLICY.replace("enterprise.revenue >=", "enterprise.turnover >="))
    office.get_by_role("button", name="保存为草稿").click()
    expect(office.locator("#policy-problems")).to_contain_text(
        "粘贴的文本.yaml:16:22: 未知的企业字段 enterprise.turnover"
    )
    office_problems.clear()  # the browser logs the refusal's status 400: expected here
    # The corrected file, uploaded as a file.
    path = tmp_path / "e2e-scale-reward.yaml"
    path.write_text(POLICY, encoding="utf-8")
    office.fill("#policy-text", "")
    office.set_input_files("#policy-file", str(path))
    office.get_by_role("button", name="保存为草稿").click()
    expect(office.locator("#policy-message")).to_contain_text("草稿已保存")
    expect(office.locator("#version-status")).to_have_text("草稿")

    # 双人复核: the policy pays money, so its drafter cannot publish it (refused, and audited).
    expect(office.locator("#two-person-note")).to_contain_text("您是起草人")
    office.get_by_role("button", name="复核并发布").click()
    expect(office.locator("#manage-error")).to_contain_text("起草人不能复核自己起草的版本")
    office_problems.clear()  # the browser logs the refusal's status 409: expected here
    office.goto(f"{live_server}/policies/e2e-scale-reward")
    expect(office.locator("#version-status")).to_have_text("草稿")
    office.close()

    # A second policy officer approves it: published, matching runs and pushes are made.
    reviewer = make_account(live_settings, "policy_office")
    office, office_problems = open_page(browser, f"{live_server}/")
    browser_login(office, live_server, reviewer.username, PASSWORD, reviewer.totp_secret)
    office.goto(f"{live_server}/policies/e2e-scale-reward")
    expect(office.locator("#two-person-note")).to_contain_text(f"由 {officer.display_name} 起草")
    office.get_by_role("button", name="复核并发布").click()
    expect(office.locator("#latest-run")).to_contain_text("本次匹配结果")
    eligible = int(office.locator("#run-eligible").inner_text().replace(",", ""))
    assert eligible > 0
    expect(office.locator("#version-status")).to_have_text("已发布")
    uscc, amount = _eligible_uscc(live_settings)

    # The enterprise logs in, sees the push with its reasons, and confirms it.
    owner = make_account(live_settings, "enterprise", enterprise_uscc=uscc)
    firm, firm_problems = open_page(browser, f"{live_server}/")
    browser_login(firm, live_server, owner.username, PASSWORD)
    firm.goto(f"{live_server}/my/policies")
    push = firm.locator("article[data-policy='e2e-scale-reward']")
    expect(push).to_contain_text("浏览器测试：规上企业稳增长奖励")
    expect(push).to_contain_text("上年度营业收入不低于2000万元（第三条）")
    expect(push.locator(".push-amount")).to_have_text(format_yuan(amount))
    expect(push.locator(".push-status")).to_have_text("待确认")
    push.get_by_role("button", name="确认享受").click()
    expect(firm.locator("#push-message")).to_contain_text("已确认享受")
    expect(firm.locator("article[data-policy='e2e-scale-reward'] .push-status")).to_have_text(
        "已确认享受"
    )

    # Another enterprise declines: it is asked first, and told that a decline is final.
    other_uscc, _other_amount = _eligible_uscc(live_settings, rank=1)
    other = make_account(live_settings, "enterprise", enterprise_uscc=other_uscc)
    second, second_problems = open_page(browser, f"{live_server}/")
    browser_login(second, live_server, other.username, PASSWORD)
    second.goto(f"{live_server}/my/policies")
    theirs = second.locator("article[data-policy='e2e-scale-reward']")
    theirs.get_by_role("button", name="放弃").click()
    expect(second.locator("#consequence")).to_contain_text("将放弃“浏览器测试：规上企业稳增长奖励”")
    expect(second.locator("#consequence")).to_contain_text("放弃后不能再确认享受")
    second.get_by_role("link", name="取消，返回").click()
    expect(theirs.locator(".push-status")).to_have_text("待确认")  # nothing was done
    theirs.get_by_role("button", name="放弃").click()
    second.get_by_role("button", name="确认放弃").click()
    expect(second.locator("#push-message")).to_contain_text("已放弃")
    expect(theirs.locator(".push-status")).to_have_text("已放弃")
    assert second_problems == [], second_problems
    second.close()

    # The policy office: the disbursement list, then the Excel file.
    office.get_by_role("link", name="拨付清单").click()
    expect(office.locator("#confirmed-count")).to_have_text("1")
    row = office.locator(f"#disbursement-rows tr[data-uscc='{uscc}']")
    expect(row).to_contain_text("已确认享受")
    with office.expect_download() as download:
        office.locator("#disbursement-xlsx").click()
    saved = tmp_path / "disbursement.xlsx"
    download.value.save_as(saved)
    rows = list(load_workbook(saved)["拨付清单"].iter_rows(values_only=True))
    assert rows[1][:4] == ("序号", "统一社会信用代码", "企业名称", "金额（元）")
    assert (rows[2][0], rows[2][1], rows[2][3], rows[2][4]) == (1, uscc, amount, "已确认享受")
    assert rows[-1][0] == "合计" and rows[-1][3] == amount

    # The simulation: moving a threshold redraws the figures and both charts.
    office.goto(f"{live_server}/policies/e2e-scale-reward/simulate")
    expect(office.locator("#sim-chart-district")).to_have_attribute("data-rendered", "true")
    expect(office.locator("#sim-chart-cluster")).to_have_attribute("data-rendered", "true")
    before = office.locator("#sim-after-count").inner_text()
    office.fill("#param-min_revenue", "100000000")
    expect(office.locator("#sim-figures h2")).to_contain_text("min_revenue = 100000000")
    expect(office.locator("#slider-min_revenue")).to_have_value("60000000")  # its end: 3 × 2000万
    after = int(office.locator("#sim-after-count").inner_text().replace(",", ""))
    assert after < int(before.replace(",", ""))
    expect(office.locator("#sim-lost")).not_to_have_text("−0")
    expect(office.locator("#sim-chart-district")).to_have_attribute("data-rendered", "true")
    expect(office.locator("#sim-chart-district svg")).to_have_count(1)

    assert office_problems == firm_problems == [], (office_problems, firm_problems)
    office.close()
    firm.close()


def _quick_application_push(settings: Settings) -> str:
    """An enterprise the demo's 快申 policy pushed to (meeting every condition it can check)."""
    with session_scope(settings.resolved_database_url) as db:
        uscc = db.scalar(
            select(PolicyPush.uscc)
            .where(PolicyPush.policy_id == "demo-tech-upgrade-equipment")
            .where(PolicyPush.status == "pushed", PolicyPush.needs_data.is_(True))
            .order_by(PolicyPush.uscc)
            .limit(1)
        )
        assert uscc is not None
        return uscc


def test_a_quick_application_is_filled_in_verified_and_decided(
    browser: Any, live_server: str, live_settings: Settings, tmp_path: Path
) -> None:
    """快申 in the demo: the 技术改造 policy asks the enterprise for its new equipment spend and
    the invoices; the policy office verifies them; only then is the push decided (20%)."""
    uscc = _quick_application_push(live_settings)
    owner = make_account(live_settings, "enterprise", enterprise_uscc=uscc)
    firm, firm_problems = open_page(browser, f"{live_server}/")
    browser_login(firm, live_server, owner.username, PASSWORD)
    firm.goto(f"{live_server}/my/policies")
    push = firm.locator("article[data-policy='demo-tech-upgrade-equipment']")
    expect(push).to_contain_text("待补充数据")
    expect(push.locator(".policy-application")).to_contain_text("新设备购置额（万元）")
    expect(push.get_by_role("button", name="确认享受")).to_have_count(0)
    invoices, filing = tmp_path / "发票清单.pdf", tmp_path / "备案证明.pdf"
    for path in (invoices, filing):
        path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    rows = push.locator(".application-item")
    expect(rows).to_have_count(3)  # one project per row, two of them blank
    push.get_by_role("button", name="再添加一个技术改造项目").click()
    expect(rows).to_have_count(4)
    expect(rows.nth(3).locator("h4")).to_have_text("技术改造项目 4")
    first = push.locator("[data-item-row='0']")
    first.locator("input[data-field='project_name']").fill("一号车间智能化改造")
    first.locator("input[data-field='equipment_spend']").fill("800")
    first.locator("select[data-field='in_investment_stats']").select_option("是")
    first.locator("input[data-attachment='设备购置发票清单']").set_input_files(str(invoices))
    first.locator("input[data-attachment='技术改造项目备案证明']").set_input_files(str(filing))
    push.get_by_role("button", name="提交申报").click()
    expect(firm.locator("#push-message")).to_contain_text("申报已提交")
    expect(push.locator(".application-status")).to_have_text("已提交，待核实")
    expect(push.locator(".application-values")).to_contain_text("800万元")

    officer = make_account(live_settings, "policy_office")
    office, office_problems = open_page(browser, f"{live_server}/")
    browser_login(office, live_server, officer.username, PASSWORD, officer.totp_secret)
    office.goto(f"{live_server}/policies/manage")
    office.locator("#applications-link").click()
    office.locator(f"#application-rows tr[data-uscc='{uscc}']").get_by_role("link").click()
    expect(office.locator("#application-items")).to_contain_text("800万元")
    expect(office.locator("#application-documents")).to_contain_text("设备购置发票清单")
    office.get_by_role("button", name="核实通过").click()
    expect(office.locator("#review-message")).to_contain_text("已核实")
    expect(office.locator("#push-amount")).to_have_text("160万元")

    firm.reload()
    expect(push.locator(".push-amount")).to_have_text("160万元")
    expect(push.locator(".policy-items")).to_contain_text("一号车间智能化改造")
    expect(push.locator(".application-status")).to_have_text("已核实")
    expect(push.get_by_role("button", name="确认享受")).to_have_count(1)
    assert firm_problems == [] and office_problems == [], (firm_problems, office_problems)
