"""Error pages: Chinese HTML for people, JSON for API clients."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chanye.web.templating import templates

TITLES = {404: "页面不存在", 405: "不支持的请求方法", 500: "服务器内部错误"}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def register_error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "status": exc.status_code,
                "title": TITLES.get(exc.status_code, "请求无法完成"),
                "detail": exc.detail,
                "active": None,
            },
            status_code=exc.status_code,
        )
