"""Error pages: Chinese HTML for people, JSON for API clients."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chanye.web.auth import LoginRequiredError, RedirectRequiredError
from chanye.web.security import NO_STORE, SECURITY_HEADERS
from chanye.web.templating import templates

TITLES = {400: "请求有误", 403: "无权访问", 404: "页面不存在", 405: "不支持的请求方法",
          413: "提交的内容过大", 422: "提交的内容不符合要求", 500: "服务器内部错误"}  # fmt: skip


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def register_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "请先登录 / login required"}, status_code=401)
        viewer = getattr(request.state, "viewer", None)
        expired = "&expired=1" if viewer is not None and viewer.notice else ""
        return RedirectResponse(f"/login?next={quote(exc.next_path)}{expired}", status_code=303)

    @app.exception_handler(RedirectRequiredError)
    async def redirect_required(request: Request, exc: RedirectRequiredError) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "请先在网页上完成账户安全设置 / finish account "
                                 f"security steps first: {exc.location}"}, status_code=403)  # fmt: skip
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [_describe(error) for error in exc.errors()]
        if wants_json(request):
            return JSONResponse({"detail": problems}, status_code=422)
        return templates.TemplateResponse(
            request, "error.html",
            {"status": 422, "title": TITLES[422], "detail": "；".join(problems), "active": None},
            status_code=422,
        )  # fmt: skip

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

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> Response:
        # Answered outside every middleware (Starlette's ServerErrorMiddleware): the headers the
        # middleware would add are set here. The exception is still logged by Starlette.
        headers = {**SECURITY_HEADERS, "Cache-Control": NO_STORE}
        if wants_json(request):
            return JSONResponse({"detail": "服务器内部错误，请稍后重试"}, status_code=500,
                                headers=headers)  # fmt: skip
        return HTMLResponse(_UNHANDLED_PAGE, status_code=500, headers=headers)


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
    }.get(kind, error.get("msg", "不符合要求"))
    return f"字段 {where}：{reason} / {error.get('msg', '')}"
