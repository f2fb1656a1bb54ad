"""Who may act for an enterprise, in headless Chromium against ``chanye serve`` on the demo city:
an impostor registers with a real firm's USCC and nothing of that firm opens; staff verification
of the uploaded documents then opens it; a login at the identity provider (a real local OIDC
provider) whose token carries the USCC binds another firm at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.store.models import Account, PolicyPush
from tests.conftest import browser_login, open_page, serving
from tests.mailbox import Mailbox
from tests.oidc_provider import OidcProvider
from tests.portal.test_documents import PDF, png
from tests.web.signin import PASSWORD, make_account
from tests.web.test_portal_browser import confirm_by_mail, register_enterprise

pytestmark = pytest.mark.browser


@pytest.fixture
def site(live_data_dir: Path, mailbox: Mailbox, identity_provider: OidcProvider) -> Iterator[str]:
    """The demo served with the identity provider configured (粤商通登录)."""
    identity_provider.reset()
    with serving(live_data_dir, mailbox, **identity_provider.settings()) as base:
        identity_provider.client.redirect_uris = [f"{base}/account/binding/oidc/callback"]
        yield base


def open_pushes(settings: Settings, count: int) -> list[tuple[str, int]]:
    """Firms of the demo city with an undecided push and no account of their own. The push may
    wait for data (待补充): the demo's policies read recognition dates (首次认定, 首次升规), which the
    synthetic city does not hold, so most of its pushes are 待补充; the firm sees them all the same."""
    with session_scope(settings.resolved_database_url) as db:
        claimed = set(
            db.scalars(select(Account.enterprise_uscc).where(Account.enterprise_uscc.is_not(None)))
        )
        pushes = db.execute(
            select(PolicyPush.uscc, PolicyPush.id)
            .where(PolicyPush.status == "pushed")
            .order_by(PolicyPush.id)
        ).all()
    found = [(u, i) for u, i in pushes if u not in claimed]
    firms = list(dict.fromkeys(u for u, _ in found))[:count]
    assert len(firms) == count, "the demo city has too few open pushes"
    return [next((u, i) for u, i in found if u == firm) for firm in firms]


def csrf(page: Any) -> str:
    return str(page.locator("input[name=csrf_token]").first.get_attribute("value"))


def test_an_impostor_sees_nothing_until_verified_and_the_identity_provider_binds_at_once(
    browser: Any,
    site: str,
    live_settings: Settings,
    mailbox: Mailbox,
    identity_provider: OidcProvider,
    tmp_path: Path,
) -> None:
    (firm, push_id), (other_firm, other_push) = open_pushes(live_settings, 2)

    # An impostor registers under any name with the firm's USCC; registration says it opens nothing.
    page, problems = open_page(browser, f"{site}/register")
    expect(page.locator("#binding-notice")).to_contain_text("核验通过前看不到该企业的任何信息")
    register_enterprise(page, site, "suibian", "suibian@impostor.example", 901, code=firm)
    expect(page.locator("#message")).to_contain_text("企业绑定核验")
    confirm_by_mail(page, mailbox, "suibian@impostor.example")
    browser_login(page, site, "suibian", PASSWORD)

    # Nothing of the firm opens: its record, its JSON, its pushes; it cannot decline them.
    response = page.goto(f"{site}/registry/enterprises/{firm}")
    assert response is not None and response.status == 404
    assert page.request.get(f"{site}/api/registry/enterprises/{firm}").status == 404
    page.goto(f"{site}/my/policies")
    expect(page.locator("#binding-unverified")).to_be_visible()
    expect(page.locator("article[data-push]")).to_have_count(0)
    declined = page.request.post(
        f"{site}/my/policies/{push_id}/decline", headers={"X-CSRF-Token": csrf(page)}
    )
    assert declined.status == 404
    page.goto(f"{site}/account")
    expect(page.locator("#binding-state")).to_have_text("待核验")
    problems.clear()  # the refused pages above are logged as 404s by the browser: expected

    # It uploads the business licence and the authorisation letter.
    page.locator("#binding-link").click()
    licence, letter = tmp_path / "营业执照.pdf", tmp_path / "授权委托书.png"
    licence.write_bytes(PDF)
    letter.write_bytes(png())
    page.set_input_files("#documents-form input[name=licence]", str(licence))
    page.set_input_files("#documents-form input[name=authorisation]", str(letter))
    page.get_by_role("button", name="提交核验材料").click()
    expect(page.locator("#message")).to_contain_text("核验材料已提交")
    expect(page.locator("#binding-state")).to_have_text("待核验")

    # An analyst opens the documents and approves.
    analyst = make_account(live_settings, "analyst")
    staff, staff_problems = open_page(browser, f"{site}/")
    browser_login(staff, site, analyst.username, PASSWORD, analyst.totp_secret)
    staff.goto(f"{site}/members")
    staff.locator("#bindings-link").click()
    staff.locator(f"#queue tr[data-uscc='{firm}'] a").first.click()
    expect(staff.locator("#documents tr[data-document]")).to_have_count(2)
    with staff.expect_download() as download:
        staff.locator("#documents a", has_text="营业执照.pdf").click()
    assert download.value.suggested_filename == "营业执照.pdf"
    staff.locator("#approve-button").click()
    expect(staff.locator("#message")).to_contain_text("已核验通过")
    expect(staff.locator("#binding-state")).to_have_text("已核验")

    # Now the firm opens to the account: its record and its push.
    page.goto(f"{site}/my/policies")
    expect(page.locator(f"article[data-push='{push_id}']")).to_be_visible()
    page.goto(f"{site}/registry/enterprises/{firm}")
    expect(page.locator("body")).to_contain_text(firm)
    page.goto(f"{site}/account/binding")
    expect(page.locator("#binding-role")).to_have_text("企业管理员")

    # Another firm's account binds through the identity provider at once.
    owner = make_account(live_settings, "enterprise", verified=False, enterprise_uscc=other_firm)
    identity_provider.user = {"sub": "ysz-browser-1", "name": "李明", "uscc": other_firm}
    firm_page, firm_problems = open_page(browser, f"{site}/")
    browser_login(firm_page, site, owner.username, PASSWORD)
    firm_page.goto(f"{site}/account/binding")
    expect(firm_page.locator("#binding-state")).to_have_text("待核验")
    firm_page.get_by_role("link", name="粤商通登录").click()
    expect(firm_page.locator("#message")).to_contain_text("统一身份认证已确认贵企业")
    expect(firm_page.locator("#binding-state")).to_have_text("已核验")
    expect(firm_page.locator("#binding-method")).to_have_text("统一身份认证")
    firm_page.goto(f"{site}/my/policies")
    expect(firm_page.locator(f"article[data-push='{other_push}']")).to_be_visible()

    assert problems == staff_problems == firm_problems == [], (
        problems,
        staff_problems,
        firm_problems,
    )
    for opened in (page, staff, firm_page):
        opened.close()
