"""An area added through the contract alone (``chanye.web.areas``) is routed, permission-checked,
documented and in the navigation of exactly the roles that may use it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.portal.roles import STAFF_ROLES
from chanye.store.migrate import upgrade
from chanye.web.access import roles
from chanye.web.app import AREAS, create_app
from chanye.web.areas import Area, AreaContractError, NavEntry, Permission, check_areas
from chanye.web.auth import Viewer, requires
from chanye.web.templating import templates
from tests.test_docs import DOCS, area_docs_problems
from tests.web.signin import make_account, sign_in

WRITE_NEWS = Permission("news", "write")  # a need of the policy file: analysts and admins


def sandbox_area() -> Area:
    router = APIRouter(prefix="/sandbox", tags=["沙盒"])
    area = Area(
        "sandbox",
        router,
        WRITE_NEWS,
        docs="sandbox.md",
        nav=NavEntry("沙盒", "只为测试而设的模块。"),
    )

    @router.get("", response_class=HTMLResponse, summary="The sandbox's page")
    def page(
        request: Request, viewer: Annotated[Viewer, requires(WRITE_NEWS.obj, WRITE_NEWS.act)]
    ) -> HTMLResponse:
        return templates.TemplateResponse(request, "area.html", {"area": area, "active": "sandbox"})

    return area


SANDBOX = sandbox_area()


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("sandbox"), warm_up=False)
    upgrade(settings.resolved_database_url)
    app = create_app(settings, areas=(*AREAS, SANDBOX))
    with TestClient(app, base_url="https://testserver.local") as client:
        yield client


def _nav_labels(html: str) -> list[str]:
    bar = html[html.index('<ul class="nav">') : html.index("</ul>")]
    return re.findall(r">([^<>]+)</a>", bar)


@pytest.mark.parametrize("role", roles())
def test_the_sandbox_for_each_role(sandboxed: TestClient, role: str) -> None:
    sandboxed.cookies.clear()
    settings: Settings = sandboxed.app.state.settings  # type: ignore[attr-defined]
    if role != "public":
        sign_in(sandboxed, make_account(settings, role))
    may = SANDBOX.open_to(role)
    assert may == (role in ("analyst", "admin"))
    response = sandboxed.get("/sandbox", follow_redirects=False)
    if may:
        assert response.status_code == 200 and "只为测试而设的模块" in response.text
    elif role == "public":
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/sandbox"
    else:
        assert response.status_code == 403
    labels = _nav_labels(sandboxed.get("/news").text)
    assert ("沙盒" in labels) == may, f"{role}: 沙盒 in the navigation: {labels}"
    # Every area's entry, not only the sandbox's: exactly those the role's permissions open.
    expected = [a.nav.label for a in (*AREAS, SANDBOX) if a.nav is not None and a.open_to(role)]
    assert labels == expected
    assert ("企业库" in labels) == (role in STAFF_ROLES)


def test_the_sandbox_is_documented_or_the_docs_test_fails(tmp_path: Path) -> None:
    assert area_docs_problems(SANDBOX) == [
        "areas.md: no `sandbox`",
        "sandbox: docs/sandbox.md does not exist",
    ]
    (tmp_path / "areas.md").write_text(
        (DOCS / "areas.md").read_text(encoding="utf-8") + "| `sandbox` | 沙盒 |\n",
        encoding="utf-8",
    )
    (tmp_path / "sandbox.md").write_text("# 沙盒\n\n| `GET /sandbox` | 沙盒 |\n", "utf-8")
    assert area_docs_problems(SANDBOX, tmp_path) == []


def test_areas_that_would_shadow_each_other_are_refused() -> None:
    inside = Area("inside", APIRouter(prefix="/registry/sandbox", tags=["x"]), None, "x.md")
    with pytest.raises(AreaContractError, match="overlaps registry"):
        check_areas((*AREAS, inside))
    root = APIRouter(tags=["x"])
    root.add_api_route("/{anything}", lambda: None)
    with pytest.raises(AreaContractError, match="has a parameter"):
        check_areas((*AREAS, Area("root", root, None, "x.md")))
    untagged = Area("untagged", APIRouter(prefix="/untagged"), None, "x.md")
    with pytest.raises(AreaContractError, match="no tags"):
        check_areas((*AREAS, untagged))


def _fixed_words(area: Area) -> set[str]:
    """The fixed first words under an area's prefix that sit beside a parameter route there."""
    firsts = {
        r.path.removeprefix(area.prefix).split("/")[1]
        for r in area.routes()
        if r.path != area.prefix
    }
    return {w.split(".")[0] for w in firsts if not w.startswith("{")}


def test_the_words_the_domain_reserves_are_the_areas_fixed_words() -> None:
    """Within an area a fixed word and a parameter share a place (``/policies/manage`` and
    ``/policies/{policy_id}``): the domain refuses exactly those words as ids."""
    from chanye.policy.workflow import RESERVED_IDS
    from chanye.portal.news import RESERVED_SLUGS
    from chanye.web.routes import news, policies

    assert _fixed_words(policies.AREA) == RESERVED_IDS
    assert _fixed_words(news.AREA) == RESERVED_SLUGS
