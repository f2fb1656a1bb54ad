"""Areas not built yet: each page says plainly what is coming (no placeholder data)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import requires
from chanye.web.templating import templates

OPEN = Permission("site", "read")


def coming_area(key: str, prefix: str, nav: NavEntry) -> Area:
    """An area whose one page says what it will offer; replaced by the real area when built."""
    router = APIRouter(prefix=prefix, tags=[nav.label], dependencies=[requires(OPEN.obj, OPEN.act)])
    area = Area(key, router, OPEN, docs="routes.md", nav=nav)

    def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "area.html", {"area": area, "active": key})

    router.add_api_route(
        "",
        page,
        methods=["GET"],
        response_class=HTMLResponse,
        summary=f"{nav.label} (coming)",
        name=f"area_{key}",
    )
    return area


PROJECTS = coming_area(
    "projects",
    "/projects",
    NavEntry(
        "项目",
        "重点项目、首试首用应用场景、产业园区与用地。",
        coming=("重点项目进度跟踪", "应用场景发布与对接", "园区与产业用地台账"),
    ),
)
