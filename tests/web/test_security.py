"""The security suite: CSRF, injection, XSS, path traversal, oversized payloads, session fixation
and open redirects, sent at every form of the app. Each must be refused (or rendered harmless)
with nothing stored or executed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from chanye.config import Settings
from chanye.portal.sessions import open_session
from chanye.store.database import engine_for, session_scope
from chanye.store.models import Base
from chanye.web.access import allows, roles
from chanye.web.auth import SESSION_COOKIE, OpenAccess
from chanye.web.paths import TEMPLATES_DIR
from tests.conftest import migrated_client
from tests.web.portal_client import captcha, form_token, login, settings_of
from tests.web.signin import PASSWORD, make_account
from tests.web.test_access_matrix import _flatten, _path, app_routes

# Tables a refused request may still touch: its own session, the audit of the refusal, the
# captcha it was shown, the login attempt it made.
BOOKKEEPING = {"web_sessions", "audit_log", "captcha_challenges", "login_attempts"}
SQL_INJECTION = "x' OR '1'='1'; DROP TABLE accounts; --"
XSS = "<script>alert('chanye-xss')</script>"
TRAVERSAL = "../../../../etc/passwd"


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("security"), warm_up=False)
    with migrated_client(settings) as client:
        yield client


def _counts(settings: Settings) -> dict[str, int]:
    with session_scope(settings.resolved_database_url) as db:
        return {
            t.name: db.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
            if t.name not in BOOKKEEPING
        }


def _session_for(client: TestClient, settings: Settings, account_id: int | None) -> str:
    client.cookies.clear()
    with session_scope(settings.resolved_database_url) as db:
        token, row = open_session(db, "security", account_id=account_id)
        csrf = row.csrf_token
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    return csrf


def _post_routes(client: TestClient) -> list[tuple[str, Any, Any]]:
    routes = []
    for method, path, need in app_routes(client.app):
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            route = next(
                r
                for r in _flatten(client.app.routes)
                if getattr(r, "path", None) == path and method in getattr(r, "methods", ())
            )
            routes.append((path, need, route))
    return routes


def _role_granted(need: Any) -> str:
    if isinstance(need, OpenAccess):
        return "public"
    return next(r for r in roles() if allows(r, need.obj, need.act))


def _fields(route: Any) -> list[str]:
    return [
        p.alias
        for p in _body_params(route.dependant)
        if "UploadFile" not in repr(p.field_info.annotation)
    ]


def _body_params(dependant: Any) -> list[Any]:
    """Form fields of a route, including those its dependencies read (e.g. a shared form)."""
    found = list(dependant.body_params)
    for sub in dependant.dependencies:
        found += _body_params(sub)
    return found


def test_every_post_form_in_the_templates_carries_the_csrf_token() -> None:
    missing = []
    for template in TEMPLATES_DIR.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for form in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r'method="post"', form.group(0), re.I) and "_csrf.html" not in form.group(
                1
            ):
                missing.append(f"{template.name}: {form.group(0)[:80]}")
    assert not missing, missing


def test_requests_without_or_with_a_foreign_csrf_token_are_refused(app_client: TestClient) -> None:
    settings = settings_of(app_client)
    before = _counts(settings)
    other_token = _session_for(app_client, settings, None)  # someone else's session and token
    accounts: dict[str, int] = {}
    posted = 0
    for path, need, route in _post_routes(app_client):
        role = _role_granted(need)
        if role != "public" and role not in accounts:
            accounts[role] = make_account(settings, role).id
        before = _counts(settings)
        for token in (None, other_token):
            _session_for(app_client, settings, accounts.get(role))
            headers = {"X-CSRF-Token": token} if token else {}
            data = dict.fromkeys(_fields(route), "value")
            response = app_client.post(
                _path(path), data=data, headers=headers, follow_redirects=False
            )
            assert response.status_code == 403 and "CSRF" in response.text, (path, token)
            posted += 1
        assert _counts(settings) == before, path
    assert posted >= 20


def test_injection_and_script_payloads_in_every_form_field(app_client: TestClient) -> None:
    settings = settings_of(app_client)
    accounts: dict[str, int] = {}
    for path, need, route in _post_routes(app_client):
        role = _role_granted(need)
        if role != "public" and role not in accounts:
            accounts[role] = make_account(settings, role).id
        for payload in (SQL_INJECTION, XSS, TRAVERSAL):
            csrf = _session_for(app_client, settings, accounts.get(role))
            data = dict.fromkeys(_fields(route), payload)
            response = app_client.post(
                _path(path), data=data, headers={"X-CSRF-Token": csrf}, follow_redirects=False
            )
            assert response.status_code < 500, (path, payload, response.text[:300])
            assert XSS not in response.text, (path, "script echoed unescaped")
    tables = set(inspect(engine_for(settings.resolved_database_url)).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables  # nothing dropped


def test_query_string_payloads_on_every_page(app_client: TestClient) -> None:
    settings = settings_of(app_client)
    admin = make_account(settings, "admin").id
    for method, path, _need in app_routes(app_client.app):
        if method != "GET" or path.startswith("/testing"):
            continue
        _session_for(app_client, settings, admin)
        for payload in (SQL_INJECTION, XSS):
            params = {
                "q": payload,
                "next": payload,
                "page": payload,
                "category": payload,
                "status": payload,
                "token": payload,
                "cluster": payload,
            }
            response = app_client.get(_path(path), params=params, follow_redirects=False)
            assert response.status_code < 500, (path, payload)
            assert XSS not in response.text, (path, "script echoed unescaped")


@pytest.mark.parametrize(
    "path",
    [
        "/static/../chanye.db",
        "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/static/..%2f..%2fconfig.py",
        "/static/vendor/../../web/app.py",
        "/registry/enterprises/..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_path_traversal_reads_nothing(app_client: TestClient, path: str) -> None:
    response = app_client.get(path)
    assert response.status_code in (303, 400, 404)
    assert "def create_app" not in response.text and "[project]" not in response.text


def test_oversized_bodies_are_refused_before_anything_is_read(app_client: TestClient) -> None:
    settings = settings_of(app_client)
    before = _counts(settings)
    csrf = _session_for(app_client, settings, None)
    big = {"csrf_token": csrf, "account": "x" * (2 << 20), "password": "y"}
    for path in ("/login", "/register", "/password/forgot"):
        response = app_client.post(path, data=big)
        assert response.status_code == 413 and "上限" in response.text, path
    too_long = app_client.post("/register", data={"csrf_token": csrf, "username": "u" * 300})
    assert too_long.status_code == 422 and "username" in too_long.text
    assert _counts(settings) == before


def test_a_fixated_session_is_worthless_after_login(portal: TestClient) -> None:
    settings = settings_of(portal)
    account = make_account(settings, "individual")
    form_token(portal, "/login")  # the form and its captcha: the session is opened here
    planted = portal.cookies.get(SESSION_COOKIE)  # an attacker's id, given to the victim
    assert planted
    assert login(portal, account.username, PASSWORD).status_code == 303
    assert portal.cookies.get(SESSION_COOKIE) != planted
    attacker = TestClient(portal.app, base_url="https://testserver.local")
    attacker.cookies.set(SESSION_COOKIE, planted or "", domain="testserver.local")
    assert attacker.get("/account", follow_redirects=False).status_code == 303  # not logged in
    made_up = TestClient(portal.app, base_url="https://testserver.local")
    made_up.cookies.set(SESSION_COOKIE, "attacker-chosen-id", domain="testserver.local")
    made_up.get("/login")
    assert made_up.cookies.get(SESSION_COOKIE) != "attacker-chosen-id"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "\t//evil.example",
    ],
)
def test_login_never_redirects_off_site(portal: TestClient, target: str) -> None:
    account = make_account(settings_of(portal), "individual")
    response = login(portal, account.username, PASSWORD, next=target)
    assert response.status_code == 303 and response.headers["location"] == "/workbench"


def test_captcha_and_password_never_appear_in_responses(portal: TestClient, tmp_path: Path) -> None:
    token = form_token(portal, "/login")
    answer = captcha(portal)
    response = portal.post(
        "/login",
        data={
            "csrf_token": token,
            "account": "nobody",
            "password": "Secret-pass-123",
            "captcha": answer,
        },
    )
    assert "Secret-pass-123" not in response.text and answer not in response.text
