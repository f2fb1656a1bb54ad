"""The portal's home page: the quick-login box, recent trainings, news and the 12218 at a glance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chanye.portal import news, trainings
from chanye.web.areas import Area, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep, SystemDep
from chanye.web.templating import templates

router = APIRouter(tags=["首页"])
AREA = Area("home", router, Permission("site", "read"), docs="routes.md")


@router.get("/", response_class=HTMLResponse, summary="Home: login box, trainings, news")
def home(
    request: Request,
    db: SessionDep,
    system: SystemDep,
    viewer: Annotated[Viewer, requires("site", "read")],
) -> HTMLResponse:
    context = {
        "active": None,
        "system": system,
        "upcoming": trainings.upcoming(db, limit=5),
        "articles": news.latest(db, limit=6),
        "hide_header_login": True,
    }
    return templates.TemplateResponse(request, "home.html", context)
