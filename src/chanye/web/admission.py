"""How many requests a worker process handles at once: no more than it has database connections.

Each request holds at most one pooled connection, but it holds it across several hops through
the thread pool (dependencies, the handler, the commit). Were more requests let in than there are
connections, threads would wait for connections held by requests that wait for threads, and
nothing would move until every wait timed out. Requests past the limit wait here instead, in the
event loop and without a thread; one that waits longer than the pool timeout is answered 503 with
the Chinese error page (JSON under /api), so the server never hangs and serves again as soon as
the load drops.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from chanye.web.errors import BUSY, BUSY_HEADERS, error_response

# Static files read no database, and the health check uses connections of its own (a load
# balancer must hear from it under load too): neither is held back.
EXEMPT_PREFIXES = ("/static/", "/healthz")


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, limit: int, wait_seconds: float) -> None:
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._slots: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the event loop that serves the requests
            self._slots = anyio.Semaphore(self.limit)
        admitted = False
        with anyio.move_on_after(self.wait_seconds):
            await self._slots.acquire()
            admitted = True
        if not admitted:
            busy = error_response(Request(scope), 503, BUSY, BUSY_HEADERS)
            await busy(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()
