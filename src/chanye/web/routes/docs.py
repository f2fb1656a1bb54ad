"""Interactive API docs (Swagger UI) served from local assets, with no inline script."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from chanye.web.auth import open_access
from chanye.web.templating import templates

router = APIRouter(dependencies=[open_access()])


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {"active": None})


@router.get("/openapi.json", include_in_schema=False)
def openapi_description(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
