"""Rendering a page of an area: the template, the navigation's active area, a status code."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse

from chanye.web.templating import templates


class PageRenderer(Protocol):
    def __call__(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HTMLResponse: ...


def area_renderer(active: str | None, **common: Any) -> PageRenderer:
    """A ``page(request, template, context, status)`` function for one area's router; ``common``
    goes into every page's context."""

    def page(
        request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
    ) -> HTMLResponse:
        values = {"active": active, **common, **(context or {})}
        return templates.TemplateResponse(request, template, values, status_code=status)

    return page
