"""In headless Chromium, each role logs in through the login page (staff with the second factor)
and lands on its own workbench (工作台), its cards drawn without a console error."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from chanye.config import Settings
from tests.conftest import browser_login, open_page
from tests.registry.factory import uscc
from tests.web.signin import PASSWORD, make_account
from tests.web.test_workbench import CARDS

pytestmark = pytest.mark.browser


def test_each_role_lands_on_its_workbench(
    browser: Any, live_server: str, live_settings: Settings
) -> None:
    for role, cards in CARDS.items():
        extra: dict[str, Any] = {}
        if role == "chain_leader":
            extra = {"scope_clusters": ["icv-nev"]}
        elif role in ("enterprise", "member"):
            extra = {"enterprise_uscc": uscc(1)}
        account = make_account(live_settings, role, **extra)
        page, problems = open_page(browser, f"{live_server}/")
        browser_login(page, live_server, account.username, PASSWORD, account.totp_secret)
        page.wait_for_url(f"{live_server}/workbench")
        expect(page.locator("h1")).to_have_text("工作台")
        expect(page.locator("[data-role]")).to_have_attribute("data-role", role)
        shown = page.locator("[data-card]")
        expect(shown).to_have_count(len(cards))
        assert [shown.nth(i).get_attribute("data-card") for i in range(len(cards))] == cards
        expect(page.locator("nav .nav a.active")).to_have_text("工作台")
        assert not problems, f"{role}: {problems}"
        page.close()
