"""Pages in headless Chromium (Debian's chromium, driven by Playwright) against `chanye serve`."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from chanye.system.loader import load_default_system
from tests.conftest import open_page

pytestmark = pytest.mark.browser
SYSTEM = load_default_system()


def test_overview_chart_renders_the_fifteen_clusters(browser: Any, live_server: str) -> None:
    page, problems = open_page(browser, f"{live_server}/system")
    page.wait_for_selector("#system-chart[data-rendered='true'] svg")
    labels = set(page.locator("#system-chart svg text").all_text_contents())
    missing = [c.name for c in SYSTEM.clusters if c.name not in labels]
    assert missing == [], f"clusters not drawn by the chart: {missing}"
    assert {"新兴支柱产业", "战略先导产业", "特色优势产业"} <= labels
    assert problems == [], problems  # includes CSP violations, which Chromium logs as errors
    page.close()


def test_clicking_a_cluster_in_the_chart_opens_its_chain(browser: Any, live_server: str) -> None:
    page, problems = open_page(browser, f"{live_server}/system")
    page.wait_for_selector("#system-chart[data-rendered='true'] svg")
    page.locator("#system-chart svg text", has_text="人工智能").first.click()
    page.wait_for_url("**/industries/ai")
    page.wait_for_selector("#chain-chart[data-rendered='true'] svg")
    chain_labels = set(page.locator("#chain-chart svg text").all_text_contents())
    ai = SYSTEM.industry("ai")
    assert ai is not None
    assert {"上游", "中游", "下游"} <= chain_labels
    assert {link.name for link in ai.links} <= chain_labels
    assert problems == [], problems
    page.close()


def test_tier_filter_swaps_the_table_with_htmx(browser: Any, live_server: str) -> None:
    page, problems = open_page(browser, f"{live_server}/system")
    assert page.locator("#cluster-rows tr").count() == 15
    page.get_by_role("button", name="特色优势产业（4）").click()
    expect(page.locator("#cluster-rows tr")).to_have_count(4)
    rows = page.locator("#cluster-rows tr td:first-child").all_text_contents()
    assert rows == ["时尚消费品", "轨道交通", "船舶与海洋工程", "智能建造与工业化建筑"]
    assert problems == [], problems
    page.close()


def test_api_docs_load_from_local_assets(browser: Any, live_server: str) -> None:
    page, problems = open_page(browser, f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "chanye" in page.locator(".swagger-ui .info .title").inner_text()
    assert problems == [], problems
    page.close()
