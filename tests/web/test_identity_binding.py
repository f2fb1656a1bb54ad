"""统一身份认证: binding through a real OpenID Connect provider (tests/oidc_provider.py, Authlib's
server) over real HTTP. A token carrying the account's USCC binds at once; a forged, expired,
misaddressed or claimless token, another enterprise's USCC and a replayed state bind nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chanye.config import Settings
from chanye.portal.binding import verified_uscc
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account, AuditEntry, EnterpriseBinding
from chanye.web.app import create_app
from tests.oidc_provider import OidcProvider
from tests.registry.factory import uscc
from tests.web.signin import make_account, sign_in

FIRM = uscc(21)
SITE = "https://testserver.local"


@pytest.fixture
def settings(tmp_path: Path, oidc_provider: OidcProvider) -> Settings:
    """Settings pointing at the local provider, which knows chanye's callback address."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    oidc_provider.client.redirect_uris = [f"{SITE}/account/binding/oidc/callback"]
    return Settings(data_dir=data_dir, warm_up=False, public_url=SITE, **oidc_provider.settings())  # type: ignore[arg-type]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings), base_url=SITE) as test_client:
        yield test_client


def claimant(client: TestClient, settings: Settings) -> Account:
    account = make_account(settings, "enterprise", verified=False, enterprise_uscc=FIRM)
    sign_in(client, account)
    return account


def to_provider_and_back(client: TestClient) -> str:
    """Press the button, let the provider log the person in; the callback address it sends the
    browser back to (not yet followed)."""
    page = client.get("/account/binding").text
    assert 'id="oidc-button"' in page and "粤商通登录" in page
    started = client.get("/account/binding/oidc", follow_redirects=False)
    assert started.status_code == 303, started.text
    authorize = started.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["state"] and query["nonce"] and query["response_type"] == ["code"]
    answer = httpx.get(authorize, follow_redirects=False)  # the browser at the provider
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(f"{SITE}/account/binding/oidc/callback?")
    return back.removeprefix(SITE)


def bound(settings: Settings, account: Account) -> str | None:
    with session_scope(settings.resolved_database_url) as db:
        return verified_uscc(db, db.get_one(Account, account.id))


def refusals(settings: Settings) -> list[str]:
    with session_scope(settings.resolved_database_url) as db:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.action == "binding.identity"))
        return [r.after or "" for r in rows if r.result == "refused"]


def test_a_token_with_the_accounts_uscc_binds_at_once(
    client: TestClient, settings: Settings, oidc_provider: OidcProvider
) -> None:
    account = claimant(client, settings)
    oidc_provider.user = {"sub": "ysz-10001", "name": "王强", "uscc": FIRM.lower()}
    callback = to_provider_and_back(client)
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account/binding?done=verified"
    page = client.get(done.headers["location"]).text
    assert 'data-state="verified">已核验' in page and "统一身份认证" in page
    assert "企业管理员" in page  # the enterprise's first verified account
    assert bound(settings, account) == FIRM
    with session_scope(settings.resolved_database_url) as db:
        binding = db.scalars(select(EnterpriseBinding)).one()
        assert (binding.method, binding.subject) == ("identity_provider", "ysz-10001")
    mail = next(settings.outbox_dir.glob("*.eml")).read_text(encoding="utf-8", errors="replace")
    assert account.email in mail

    # The same answer again (a replayed state) is refused, and audited.
    replay = client.get(callback)
    assert replay.status_code == 400 and "已失效或已使用" in replay.text
    assert any("state" in r for r in refusals(settings))


@pytest.mark.parametrize(
    ("misbehave", "expected"),
    [
        ({"token_issuer": "https://impostor.example"}, "未通过校验"),
        ({"token_audience": "another-client"}, "未通过校验"),
        ({"sign_with_rogue_key": True}, "未通过校验"),
        ({"lifetime_seconds": -600}, "未通过校验"),
    ],
    ids=["wrong-issuer", "wrong-audience", "bad-signature", "expired"],
)
def test_a_token_that_does_not_check_out_binds_nothing(
    client: TestClient,
    settings: Settings,
    oidc_provider: OidcProvider,
    misbehave: dict[str, object],
    expected: str,
) -> None:
    account = claimant(client, settings)
    oidc_provider.user = {"sub": "ysz-10002", "uscc": FIRM}
    for name, value in misbehave.items():
        setattr(oidc_provider, name, value)
    refused = client.get(to_provider_and_back(client))
    assert refused.status_code == 400 and expected in refused.text
    assert 'data-state="pending"' in refused.text
    assert bound(settings, account) is None
    assert any("id token refused" in r for r in refusals(settings))


def test_a_token_without_the_claim_or_of_another_enterprise_binds_nothing(
    client: TestClient, settings: Settings, oidc_provider: OidcProvider
) -> None:
    account = claimant(client, settings)
    oidc_provider.user = {"sub": "ysz-10003", "name": "无代码的人"}
    missing = client.get(to_provider_and_back(client))
    assert missing.status_code == 400 and "未提供企业的统一社会信用代码" in missing.text
    oidc_provider.user = {"sub": "ysz-10004", "uscc": uscc(22)}
    other = client.get(to_provider_and_back(client))
    assert other.status_code == 400 and "不一致" in other.text and uscc(22) in other.text
    assert bound(settings, account) is None
    audited = refusals(settings)
    assert len(audited) == 2 and uscc(22) in audited[1]


def test_a_cancelled_login_or_a_state_of_another_session_binds_nothing(
    client: TestClient, settings: Settings, oidc_provider: OidcProvider
) -> None:
    account = claimant(client, settings)
    oidc_provider.user = None  # the person cancels at the provider
    cancelled = client.get(to_provider_and_back(client))
    assert cancelled.status_code == 400 and "未完成" in cancelled.text

    oidc_provider.user = {"sub": "ysz-10005", "uscc": FIRM}
    stolen = to_provider_and_back(client)
    sign_in(client, account)  # the same account, another browser session
    refused = client.get(stolen)
    assert refused.status_code == 400 and "已失效或已使用" in refused.text
    assert client.get("/account/binding/oidc/callback?state=made-up&code=x").status_code == 400
    assert bound(settings, account) is None
