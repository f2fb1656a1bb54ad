"""Uploads are refused before their body is read.

FastAPI reads a multipart body (spooling the files to disk) before any dependency runs, so the
route's requirement and the CSRF check would only see a request once all of it had arrived: an
anonymous client could make the server take in gigabytes to be refused. This middleware decides
first, from the request's head and at most the first form field:

- the session cookie gives the viewer's role, and the route's own ``requires(obj, act)`` says
  whether that role may call it;
- the CSRF token comes from the ``X-CSRF-Token`` header or, for a plain HTML form, from the
  form's *first* field ``csrf_token`` (every upload form starts with it, ``_csrf.html``).

A request that passes goes on as it came. One that does not reaches the app with an empty body,
so the app's usual checks refuse it (login redirect or 401, 403, audit row, error page) without
a byte of the upload being read. The size cap per route is ``limits.BodyLimitMiddleware``'s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chanye.config import Settings
from chanye.portal.roles import ANONYMOUS
from chanye.portal.security_profile import profile_named
from chanye.portal.sessions import peek_session
from chanye.store.database import session_scope
from chanye.store.models import Account
from chanye.web.access import allows
from chanye.web.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Requirement

FIRST_FIELD_LIMIT = 16 << 10  # the first field (the token) arrives within the first 16 KiB


class UploadGateMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        boundary = _multipart_boundary(scope)
        requirement = _requirement_of(scope) if boundary else None
        if boundary is None or requirement is None:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = headers.get(CSRF_HEADER.lower(), "")
        head: list[Message] = []
        if not token:
            head = await _read_first_field(receive, boundary)
            token = _first_field_token(b"".join(m.get("body", b"") for m in head), boundary)
        settings: Settings = scope["app"].state.settings
        cookie = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        passes = await anyio.to_thread.run_sync(_may_send, settings, cookie, token, requirement)
        if passes:
            await self.app(scope, _replaying(head, receive), send)
        else:
            await self.app(_without_body(scope, token), _empty_body_receive(), send)


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _multipart_boundary(scope: Scope) -> bytes | None:
    if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
        return None
    content_type = _headers(scope).get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def _requirement_of(scope: Scope) -> Requirement | None:
    """The requirement the route answering this request declares."""
    for route in _api_routes(scope["app"].router.routes):
        if route.matches(scope)[0] == Match.FULL:
            return _find_requirement(route.dependant)
    return None


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included in the app
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def _find_requirement(dependant: Any) -> Requirement | None:
    if isinstance(dependant.call, Requirement):
        return dependant.call
    for sub in dependant.dependencies:
        found = _find_requirement(sub)
        if found is not None:
            return found
    return None


async def _read_first_field(receive: Receive, boundary: bytes) -> list[Message]:
    """The body's first messages: until its first field has ended, or 16 KiB have come."""
    head: list[Message] = []
    body = b""
    second_delimiter = b"\r\n--" + boundary
    while len(body) < FIRST_FIELD_LIMIT and second_delimiter not in body:
        message = await receive()
        head.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return head


def _first_field_token(body: bytes, boundary: bytes) -> str:
    """The value of the body's first part when it is the CSRF field, else ''."""
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    if start < 0:
        return ""
    part_start = start + len(delimiter) + 2  # past the boundary's CRLF
    part_end = body.find(b"\r\n" + delimiter, part_start)
    head_end = body.find(b"\r\n\r\n", part_start)
    if part_end < 0 or head_end < 0 or head_end > part_end:
        return ""
    part_headers = body[part_start:head_end].decode("latin-1").lower()
    if f'name="{CSRF_FIELD}"' not in part_headers or "filename=" in part_headers:
        return ""
    return body[head_end + 4 : part_end].decode("latin-1").strip()


def _cookie(header: str, name: str) -> str | None:
    for pair in header.split(";"):
        key, _, value = pair.strip().partition("=")
        if key == name:
            return value
    return None


def _may_send(settings: Settings, cookie: str | None, token: str, requirement: Requirement) -> bool:
    """True when this session may call the route and the token is its CSRF token."""
    idle = profile_named(settings.security_profile).idle_timeout_minutes
    with session_scope(settings.resolved_database_url) as db:
        row = peek_session(db, cookie, idle)
        if row is None or not token or not secrets.compare_digest(token, row.csrf_token):
            return False
        role = ANONYMOUS
        if row.account_id is not None and not row.second_factor_pending:
            account = db.get(Account, row.account_id)
            role = account.role if account is not None and account.status == "active" else role
        return allows(role, requirement.obj, requirement.act)


def _replaying(head: list[Message], receive: Receive) -> Receive:
    """``receive`` giving back the messages already read first."""
    pending = list(head)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _without_body(scope: Scope, token: str) -> Scope:
    """The request's head with no body: what the app needs to refuse it in its usual way."""
    dropped = {b"content-type", b"content-length", CSRF_HEADER.lower().encode()}
    headers = [(name, value) for name, value in scope["headers"] if name.lower() not in dropped]
    headers.append((b"content-length", b"0"))
    if token:  # a valid token from the first field keeps its effect: the refusal is the role's
        headers.append((CSRF_HEADER.lower().encode(), token.encode("latin-1")))
    return {**scope, "headers": headers}


def _empty_body_receive() -> Receive:
    given = False

    async def receive() -> Message:
        nonlocal given
        if given:  # only a wait for the client to go away asks again: it never needs the body
            await anyio.sleep_forever()
        given = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive
