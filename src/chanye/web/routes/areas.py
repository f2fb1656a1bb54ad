"""Areas not built yet: each page says plainly what is coming (no placeholder data)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chanye.web.auth import requires
from chanye.web.navigation import NAVIGATION, Area
from chanye.web.templating import templates

router = APIRouter(dependencies=[requires("site", "read")])


def _page_for(area: Area) -> None:
    def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "area.html", {"area": area, "active": area.key})

    router.add_api_route(
        area.path,
        page,
        methods=["GET"],
        response_class=HTMLResponse,
        summary=f"{area.label} (coming)",
        name=f"area_{area.key}",
    )


for _area in NAVIGATION:
    if not _area.ready:
        _page_for(_area)
