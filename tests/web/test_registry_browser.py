"""企业库 in headless Chromium: search with filters, open a profile, import a file with a bad row,
download the error report, undo the import (after its consequence is stated), redo it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from chanye.config import Settings
from chanye.store.models import Account
from tests.conftest import browser_login, open_page
from tests.registry.factory import row, uscc, write_csv
from tests.web.signin import PASSWORD, make_account

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def analyst(live_settings: Settings) -> Account:
    return make_account(live_settings, "analyst")


def _as_analyst(
    browser: Any, live_server: str, analyst: Account, path: str
) -> tuple[Any, list[str]]:
    page, problems = open_page(browser, f"{live_server}/")
    browser_login(page, live_server, analyst.username, PASSWORD, analyst.totp_secret)
    page.goto(f"{live_server}{path}")
    return page, problems


def test_search_filters_and_profile(browser: Any, live_server: str, analyst: Account) -> None:
    page, problems = _as_analyst(browser, live_server, analyst, "/registry")
    total = int(page.locator("#result-count").get_attribute("data-total"))
    assert total > 0
    page.select_option("select[name=cluster]", "icv-nev")
    # The page's CSP forbids eval, so wait with locators rather than JavaScript strings.
    expect(page.locator("#link-select option[value='icv-nev-battery']")).to_have_count(1)
    page.get_by_role("button", name="检索").click()
    expect(page.locator("#result-count")).not_to_have_attribute("data-total", str(total))
    assert "cluster=icv-nev" in page.url
    first = page.locator("#result-table tbody tr").first
    assert "智能网联与新能源汽车" in first.inner_text()
    first.locator("a").first.click()
    page.wait_for_url("**/registry/enterprises/**")
    assert page.locator("#classification tr[data-industry='icv-nev']").count() == 1
    assert (
        "行业代码" in page.locator("#classification").inner_text()
        or "关键词" in page.locator("#classification").inner_text()
    )
    assert problems == [], problems
    page.close()


def _pending_pushes(settings: Settings, of: str) -> int:
    """Undecided pushes of published policies to one enterprise (the policies re-match after
    every import, so the demo's policies may push to a new enterprise)."""
    from chanye.policy import workflow
    from chanye.store.database import session_scope

    with session_scope(settings.resolved_database_url) as db:
        return workflow.pending_push_usccs(db).count(of)


def test_import_with_a_bad_row_then_undo(
    browser: Any, live_server: str, live_settings: Settings, analyst: Account, tmp_path: Path
) -> None:
    upload = write_csv(tmp_path / "新企业.csv", [row(900001), row(900002, **{"所属区": "火星区"})])
    page, problems = _as_analyst(browser, live_server, analyst, "/registry/imports")
    page.set_input_files("input[type=file]", str(upload))
    page.get_by_role("button", name="开始导入").click()
    page.wait_for_selector("[data-done='true']", timeout=60_000)
    summary = page.locator(".import-summary").inner_text()
    assert "不合格 1 行" in summary.replace(" ", "") or "不合格 1" in summary
    with page.expect_download() as download:
        page.locator("#errors-download").click()
    report = tmp_path / "errors.xlsx"
    download.value.save_as(report)
    sheet = load_workbook(report).active
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert cells[1][:3] == [3, "所属区", "火星区"]

    page.goto(f"{live_server}/registry?q={uscc(900001)}")
    assert page.locator("#result-count").get_attribute("data-total") == "1"

    # 撤销 first states the consequence, counted; nothing is done until it is confirmed.
    page.goto(f"{live_server}/registry/imports")
    newest = page.locator("#history tbody tr").first
    change = newest.get_attribute("data-change")
    newest.get_by_role("button", name="撤销").click()
    pushes = _pending_pushes(live_settings, uscc(900001))
    expect(page.locator("#consequence")).to_contain_text(
        f"将撤销第 {change} 次变更：删除 1 家企业，恢复 0 家，撤回 {pushes} 条待确认推送"
    )
    page.get_by_role("link", name="取消，返回").click()
    page.goto(f"{live_server}/registry?q={uscc(900001)}")
    assert page.locator("#result-count").get_attribute("data-total") == "1"  # still there

    page.goto(f"{live_server}/registry/imports")
    page.locator(f"#history tr[data-change='{change}']").get_by_role("button", name="撤销").click()
    page.get_by_role("button", name="确认撤销").click()
    page.wait_for_selector("#message")
    assert f"已撤销第 {change} 次变更" in page.locator("#message").inner_text()
    page.goto(f"{live_server}/registry?q={uscc(900001)}")
    assert page.locator("#result-count").get_attribute("data-total") == "0"

    # The undo is in the history and can itself be undone (重做): the enterprise is back.
    page.goto(f"{live_server}/registry/imports")
    undo = page.locator("#history tbody tr").first
    expect(undo).to_contain_text(f"撤销第 {change} 次变更")
    undo.get_by_role("button", name="重做").click()
    expect(page.locator("#consequence")).to_contain_text("删除 0 家企业，恢复 1 家")
    expect(page.locator("#consequence")).to_contain_text(f"第 {change} 次变更重新生效")
    page.get_by_role("button", name="确认重做").click()
    page.wait_for_selector("#message")
    expect(page.locator(f"#history tr[data-change='{change}']")).to_contain_text("已生效")
    page.goto(f"{live_server}/registry?q={uscc(900001)}")
    assert page.locator("#result-count").get_attribute("data-total") == "1"

    # Undo the redo: the registry is left as the demo made it.
    page.goto(f"{live_server}/registry/imports")
    page.locator("#history tbody tr").first.get_by_role("button", name="撤销").click()
    page.get_by_role("button", name="确认撤销").click()
    page.wait_for_selector("#message")
    page.goto(f"{live_server}/registry?q={uscc(900001)}")
    assert page.locator("#result-count").get_attribute("data-total") == "0"
    assert problems == [], problems
    page.close()
