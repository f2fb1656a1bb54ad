"""Error pages: Chinese HTML for people, JSON for API clients."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chanye.web.auth import LoginRequiredError, RedirectRequiredError
from chanye.web.security import NO_STORE, SECURITY_HEADERS
from chanye.web.templating import templates
from chanye.web.wording import chinese

TITLES = {
    400: "请求有误",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持的请求方法",
    413: "提交的内容过大",
    422: "提交的内容不符合要求",
    500: "服务器内部错误",
    503: "服务器繁忙",
}
BUSY = "服务器繁忙，请稍候片刻再试。"
BUSY_HEADERS = {"Retry-After": "5"}
log = logging.getLogger("chanye.web")
DETAILS = {
    401: "请先登录。",
    404: "您要找的页面不存在，请检查地址是否正确，或从首页进入。",
    405: "此地址不接受这种请求。",
    413: "提交的内容超过上限。",
    500: "服务器出了问题，请稍后再试。",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def register_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "请先登录"}, status_code=401)
        viewer = getattr(request.state, "viewer", None)
        expired = "&expired=1" if viewer is not None and viewer.notice else ""
        return RedirectResponse(f"/login?next={quote(exc.next_path)}{expired}", status_code=303)

    @app.exception_handler(RedirectRequiredError)
    async def redirect_required(request: Request, exc: RedirectRequiredError) -> Response:
        if wants_json(request):
            detail = f"请先在网页上完成账户安全设置：{exc.location}"
            return JSONResponse({"detail": detail}, status_code=403)
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [_describe(error) for error in exc.errors()]
        if wants_json(request):
            return JSONResponse({"detail": problems}, status_code=422)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": 422, "title": TITLES[422], "detail": "；".join(problems), "active": None},
            status_code=422,
        )

    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: Exception) -> Response:
        # No free connection within the pool timeout, a statement over its timeout, a lock not
        # granted, a database down: say so at once (never hang), and serve again when it passes.
        log.warning("database busy or unavailable on %s: %s", request.url.path, exc)
        return error_response(request, 503, BUSY, BUSY_HEADERS)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, _detail(exc), exc.headers)

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> Response:
        # Answered outside every middleware (Starlette's ServerErrorMiddleware): the headers the
        # middleware would add are set here. The exception is still logged by Starlette.
        headers = {**SECURITY_HEADERS, "Cache-Control": NO_STORE}
        if wants_json(request):
            return JSONResponse(
                {"detail": "服务器内部错误，请稍后重试"}, status_code=500, headers=headers
            )
        return HTMLResponse(_UNHANDLED_PAGE, status_code=500, headers=headers)


def error_response(
    request: Request, status: int, detail: Any, headers: Mapping[str, str] | None
) -> Response:
    """Chinese HTML for people, JSON for API clients."""
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "active": None,
            "status": status,
            "title": TITLES.get(status, "请求无法完成"),
            "detail": detail,
        },
        status_code=status,
        headers=headers,
    )


def _detail(exc: StarletteHTTPException) -> Any:
    """What went wrong, in Chinese: Starlette's own errors carry the English status phrase
    ("Not Found"), the domain's messages an English tail that only the CLI shows."""
    if not isinstance(exc.detail, str):
        return exc.detail
    if exc.detail == HTTPStatus(exc.status_code).phrase:
        return DETAILS.get(exc.status_code, "")
    return chinese(exc.detail)


# A plain page: the templates may be what failed, and the page must not fail too.
_UNHANDLED_PAGE = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>500 服务器内部错误'
    '</title><link rel="stylesheet" href="/static/css/chanye.css"></head><body><main class="panel">'
    "<h1>500 · 服务器内部错误</h1><p>处理请求时出错，已记录。请稍后重试；如果一再出现，请联系管理员。</p>"
    '<p><a href="/">返回首页</a></p></main></body></html>'
)


def _describe(error: Any) -> str:
    """One validation error as '字段 name: what is wrong'."""
    where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "请求"
    kind = error.get("type", "")
    reason = {
        "string_too_long": "内容过长",
        "string_too_short": "内容过短",
        "missing": "缺少此项",
        "string_pattern_mismatch": "格式不正确",
        "int_parsing": "应为整数",
        "int_from_float": "应为整数",
        "float_parsing": "应为数字",
        "bool_parsing": "应为“是”或“否”",
        "greater_than_equal": "数值过小",
        "less_than_equal": "数值过大",
        "date_from_datetime_parsing": "应为日期（如 2026-01-31）",
    }.get(kind, "不符合要求")
    return f"字段 {where}：{reason}"
