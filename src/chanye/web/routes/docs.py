"""Interactive API docs (Swagger UI) served from local assets, with no inline script."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from chanye.web.areas import Area
from chanye.web.auth import open_access
from chanye.web.templating import templates

router = APIRouter(tags=["API 文档"], dependencies=[open_access()])
AREA = Area("api-docs", router, None, docs="routes.md")


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {"active": None})


@router.get("/openapi.json", include_in_schema=False)
def openapi_description(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
