"""HTTP security headers on every response (等保2.0: no inline script, no framing)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline <script> is never allowed. Inline *styles* are, because ECharts writes style attributes.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """The headers above on every response, and ``Cache-Control: no-store`` on private ones.

    It wraps everything else the app answers with, so that refusals made before the routes run
    (413 for an oversized body) carry the headers too; the error page of an unhandled exception,
    answered outside all middleware, adds them itself (``errors``). A response is private when
    the viewer is logged in, when its route's requirement is one anonymous visitors do not meet
    (``auth.Requirement`` marks the request), or when it sets a cookie: no shared cache, and no
    browser cache after logout, may keep it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Created here, so that what the routes record in request.state is seen below even when
        # an inner middleware passes a copy of the scope on.
        scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if is_private(scope, headers):
                    headers["Cache-Control"] = NO_STORE
            await send(message)

        await self.app(scope, receive, send_with_headers)


NO_STORE = "no-store"


def is_private(scope: Scope, headers: MutableHeaders) -> bool:
    state = scope.get("state") or {}
    viewer = state.get("viewer")
    logged_in = viewer is not None and getattr(viewer, "account", None) is not None
    return logged_in or bool(state.get("private")) or "set-cookie" in headers
