"""Every route declares what it needs, and the app grants exactly what the policy file grants.

The matrix walks every role (and the anonymous visitor) against every route of the app. A route
without a declared need fails; so does any answer that disagrees with casbin's decision for that
role: a refusal where the policy grants, or anything but a refusal where it does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from chanye.config import Settings
from chanye.portal import binding, documents
from chanye.portal.documents import Upload
from chanye.portal.sessions import open_session
from chanye.registry.context import RegistryContext
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account, PolicyPush
from chanye.web.access import allows, roles
from chanye.web.app import AREAS, create_app
from chanye.web.areas import Area
from chanye.web.auth import SESSION_COOKIE, OpenAccess, Requirement
from tests.portal.test_documents import PDF
from tests.registry.factory import uscc
from tests.web.signin import make_account, sign_in
from tests.web.test_policy_pages import publish, registry

__all__ = ["registry"]  # the fixture: enterprises 1–6 in the registry

SAMPLE_PARAMS = {"industry_id": "icv-nev", "uscc": "91440101MA5CXXXX0X", "slug": "no-such"}


def _flatten(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flatten(included.routes) if included is not None else [route]


def _needs(dependant: Any) -> list[Any]:
    found = [dependant.call] if isinstance(dependant.call, Requirement | OpenAccess) else []
    for sub in dependant.dependencies:
        found += _needs(sub)
    return found


def need_of(route: APIRoute) -> Any:
    """The one need a route declares (a route declaring none, or two, fails)."""
    needs = {repr(n): n for n in _needs(route.dependant)}
    assert len(needs) == 1, f"{route.path} declares {len(needs)} needs: {list(needs)}"
    return next(iter(needs.values()))


def app_routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, path, declared need) for every route of every area of the app."""
    found = []
    for area in app.state.areas:
        for route in area.routes():
            need = need_of(route)
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, route.path, need))
    return found


def test_every_route_is_an_areas() -> None:
    app = create_app(Settings(warm_up=False))
    served = {r.path for r in _flatten(app.routes) if isinstance(r, APIRoute)}
    assert served == {path for _m, path, _n in app_routes(app)}


@pytest.mark.parametrize("area", AREAS, ids=[a.key for a in AREAS])
def test_area_entry_needs_the_areas_permission(area: Area) -> None:
    """The navigation shows an area to the roles its permission grants; its entry page must ask
    the same, or the bar would offer a page that refuses (or hide one that opens)."""
    entry = [r for r in area.routes() if r.path == area.entry and "GET" in r.methods]
    if area.nav is None and not entry:
        return  # an area without a page of its own at its prefix (JSON, forms)
    assert entry, f"{area.key}: no GET {area.entry}"
    need = need_of(entry[0])
    if area.permission is None:
        assert isinstance(need, OpenAccess)
    else:
        assert (need.obj, need.act) == (area.permission.obj, area.permission.act)


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    data_dir = tmp_path_factory.mktemp("matrix")
    settings = Settings(data_dir=data_dir, warm_up=False)
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings), base_url="https://testserver.local") as client:
        yield client, settings


ROLES = roles()


def test_every_route_declares_one_need() -> None:
    routes = app_routes(create_app(Settings(warm_up=False)))
    assert len(routes) > 30
    assert any(isinstance(need, Requirement) for _m, _p, need in routes)


def _path(path: str) -> str:
    for name, value in SAMPLE_PARAMS.items():
        path = path.replace(f"{{{name}}}", value)
    # Any other parameter (ids): a number that names nothing.
    while "{" in path:
        start = path.index("{")
        path = path[:start] + "1" + path[path.index("}", start) + 1 :]
    return path


def _refused(response: Any, anonymous: bool) -> bool:
    if response.status_code in (401, 403):
        return True
    location = response.headers.get("location", "")
    return anonymous and response.status_code == 303 and location.startswith("/login?next=")


@pytest.mark.parametrize("role", ROLES)
def test_role_against_every_route(matrix_app: tuple[TestClient, Settings], role: str) -> None:
    client, settings = matrix_app
    account = None if role == "public" else make_account(settings, role)
    disagreements = []
    for method, path, need in app_routes(client.app):
        client.cookies.clear()
        with session_scope(settings.resolved_database_url) as db:
            token, row = open_session(db, "matrix", account_id=account.id if account else None)
            csrf = row.csrf_token
        client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
        response = client.request(
            method, _path(path), headers={"X-CSRF-Token": csrf}, follow_redirects=False
        )
        granted = isinstance(need, OpenAccess) or allows(role, need.obj, need.act)
        if _refused(response, anonymous=account is None) == granted:
            disagreements.append(
                f"{method} {path}: policy {'grants' if granted else 'refuses'}"
                f" {need!r}, app answered {response.status_code}"
            )
    assert not disagreements, "\n".join(disagreements)


# --- binding states: who may act for an enterprise -----------------------------------------------

ENTERPRISE_DATA = {("registry", "own"), ("policies", "own")}
BINDING_STATES = ("unsubmitted", "pending", "verified", "rejected", "revoked")
LICENCE_AND_LETTER = [
    Upload(documents.LICENCE, "执照.pdf", PDF),
    Upload(documents.AUTHORISATION, "委托书.pdf", PDF),
]


def account_in(settings: Settings, state: str, uscc: str) -> Account:
    """An enterprise account claiming ``uscc`` whose binding is in ``state``."""
    account = make_account(
        settings, "enterprise", verified=state == "verified", enterprise_uscc=uscc
    )
    staff = Actor("analyst", "analyst")
    with session_scope(settings.resolved_database_url) as db:
        own = db.get_one(Account, account.id)
        if state in ("pending", "rejected"):
            binding.submit_documents(db, settings, own, LICENCE_AND_LETTER, Actor(own.username))
        if state == "rejected":
            binding.decide(db, settings, binding.binding_of(db, own), "reject", "材料不全", staff)  # type: ignore[arg-type]
        if state == "revoked":
            binding.verify_by_administrator(db, own, staff)
            binding.revoke(db, settings, binding.binding_of(db, own), "已离职", staff)  # type: ignore[arg-type]
    return account


def test_binding_states_against_enterprise_data_routes(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    """Every route that opens an enterprise's own data, for an account claiming that enterprise in
    each binding state: only a verified binding opens anything."""
    publish(client)
    firm = uscc(1)
    with session_scope(settings.resolved_database_url) as db:
        push_id = db.scalars(select(PolicyPush.id).where(PolicyPush.uscc == firm)).one()
    routes = sorted(
        (
            (m, p)
            for m, p, need in app_routes(client.app)
            if isinstance(need, Requirement) and (need.obj, need.act) in ENTERPRISE_DATA
        ),
        key=lambda route: route[0] == "POST",
    )
    # record, its JSON, the pushes, confirm, decline, and 快申's submission
    assert len(routes) == 6, routes
    opened = {}
    for state in BINDING_STATES:
        sign_in(client, account_in(settings, state, firm))
        for method, path in routes:
            if method == "POST" and path.endswith("/decline"):
                continue  # confirm opens or not the same way; declining would end the push
            url = re.sub(r"\{push_id[^}]*\}", str(push_id), path.replace("{uscc}", firm))
            response = client.request(method, url, follow_redirects=False)
            if path == "/my/policies":
                assert response.status_code == 200
                opened[state, path] = f'data-push="{push_id}"' in response.text
            else:
                # 400: the submission was let in and refused for its content (nothing asked here)
                assert response.status_code in (200, 303, 400, 404), (
                    state,
                    path,
                    response.status_code,
                )
                opened[state, path] = response.status_code != 404
    denied = [key for key, was_open in opened.items() if was_open != (key[0] == "verified")]
    assert not denied, f"opened (or refused) against its binding state: {denied}"


def test_the_policy_file_names_only_modules_that_exist() -> None:
    """The policy file's comments point readers to the code deciding what it cannot (row scope,
    bindings): each module named must exist."""
    import importlib
    import re as regex

    from chanye.web.access import POLICY_FILE

    named = set(regex.findall(r"chanye(?:\.\w+)+", POLICY_FILE.read_text(encoding="utf-8")))
    assert "chanye.registry.scope" in named
    for module in sorted(named):
        importlib.import_module(module)
