"""工作台: after login every role lands here, on the cards of what it acts on first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep, SystemDep
from chanye.web.templating import templates
from chanye.web.workbench import CardInput, cards_for, shown

SELF = Permission("workbench", "use")  # every logged-in account has one
PATH = "/workbench"

router = APIRouter(prefix=PATH, tags=["工作台"])
AREA = Area("workbench", router, SELF, docs="routes.md", nav=NavEntry("工作台", "我的待办。"))


@router.get("", response_class=HTMLResponse, summary="My workbench: the cards of my role")
def workbench(
    request: Request,
    db: SessionDep,
    system: SystemDep,
    viewer: Annotated[Viewer, requires(SELF.obj, SELF.act)],
) -> HTMLResponse:
    cards = cards_for(request.app.state.areas, viewer.role)
    context = {
        "active": "workbench",
        "cards": shown(cards, CardInput(request, db, viewer, system)),
        "role": viewer.role,
    }
    return templates.TemplateResponse(request, "workbench/workbench.html", context)
