"""Uploads are refused before their body is read (a real server, a raw socket).

Each request declares 600 MB (50 MB for a membership application, whose cap is lower) and sends
only its first 64 KiB; the answer arrives all the same, which it could not if the server waited
for the rest of the body before refusing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from chanye.config import Settings
from chanye.portal.sessions import open_session
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry
from chanye.web.auth import SESSION_COOKIE
from tests.conftest import run_cli, serving
from tests.mailbox import Mailbox
from tests.web.signin import make_account

DECLARED = 600 << 20
APPLICATION = 50 << 20
BOUNDARY = "chanye-probe"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[tuple[str, Settings]]:
    data_dir = tmp_path_factory.mktemp("gate")
    assert run_cli("db", "upgrade", data_dir=data_dir).returncode == 0
    with serving(
        data_dir,
        mailbox,
        CHANYE_COOKIE_SECURE="false",
        CHANYE_WARM_UP="false",
        CHANYE_MAX_UPLOAD_MB="1024",
    ) as base:
        yield base, Settings(data_dir=data_dir)


def _body_start(csrf: str | None) -> bytes:
    fields = b""
    if csrf is not None:
        fields = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        ).encode()
    file_head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    return fields + file_head + b"a,b,c\r\n" * ((64 << 10) // 7)


def _status_before_the_body(
    base: str, path: str, *, cookie: str = "", csrf: str | None = None, declared: int = DECLARED
) -> int:
    """The status the server answers with while most of the declared body is still unsent."""
    address = urlsplit(base)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nAccept: application/json\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {declared}\r\n"
        + (f"Cookie: {SESSION_COOKIE}={cookie}\r\n" if cookie else "")
        + "\r\n"
    )
    with socket.create_connection((address.hostname, address.port)) as sock:
        sock.settimeout(60)  # only so that a server waiting for the body fails the test
        sock.sendall(head.encode() + _body_start(csrf))
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1])


def _session_of(settings: Settings, role: str) -> tuple[str, str]:
    account = make_account(settings, role)
    with session_scope(settings.resolved_database_url) as db:
        token, row = open_session(db, "127.0.0.1", account_id=account.id)
        return token, row.csrf_token


def _refusals(settings: Settings) -> list[tuple[str, str | None]]:
    with session_scope(settings.resolved_database_url) as db:
        rows = db.execute(
            select(AuditEntry.action, AuditEntry.object_id).where(AuditEntry.result == "refused")
        ).all()
    return [(action, object_id) for action, object_id in rows]


def test_anonymous_uploads_are_refused_before_the_body(server: tuple[str, Settings]) -> None:
    base, settings = server
    assert _status_before_the_body(base, "/registry/imports") == 403  # no CSRF token at all
    assert _status_before_the_body(base, "/members/apply", declared=APPLICATION) == 403
    assert ("csrf.refused", "POST /registry/imports") in _refusals(settings)


def test_a_valid_token_without_the_permission_is_refused_before_the_body(
    server: tuple[str, Settings],
) -> None:
    base, settings = server
    cookie, csrf = _session_of(settings, "individual")
    assert _status_before_the_body(base, "/registry/imports", cookie=cookie, csrf=csrf) == 403
    assert ("access.denied", "POST /registry/imports") in _refusals(settings)
    anonymous_cookie, anonymous_csrf = _session_of_anonymous(settings)
    refused = _status_before_the_body(
        base, "/members/apply", cookie=anonymous_cookie, csrf=anonymous_csrf, declared=APPLICATION
    )
    assert refused == 401  # an anonymous visitor must log in first


def _session_of_anonymous(settings: Settings) -> tuple[str, str]:
    with session_scope(settings.resolved_database_url) as db:
        token, row = open_session(db, "127.0.0.1")
        return token, row.csrf_token


def test_staff_without_the_token_are_refused_before_the_body(server: tuple[str, Settings]) -> None:
    base, settings = server
    cookie, _csrf = _session_of(settings, "analyst")
    assert _status_before_the_body(base, "/registry/imports", cookie=cookie) == 403
    assert _status_before_the_body(base, "/registry/imports", cookie=cookie, csrf="forged") == 403


def test_an_upload_over_the_cap_is_refused_before_the_body(server: tuple[str, Settings]) -> None:
    base, settings = server
    cookie, csrf = _session_of(settings, "analyst")
    over = (1024 << 20) + 1
    assert (
        _status_before_the_body(base, "/registry/imports", cookie=cookie, csrf=csrf, declared=over)
        == 413
    )


def test_the_analyst_with_the_token_is_let_through(
    server: tuple[str, Settings], tmp_path: Path
) -> None:
    """The gate opens for the right session: the server then waits for the body (as it should),
    so the request is sent whole here, small."""
    import httpx

    base, settings = server
    cookie, csrf = _session_of(settings, "analyst")
    with httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}) as client:
        answer = client.post(
            "/registry/imports",
            data={"csrf_token": csrf},
            files={"file": ("firms.csv", b"uscc,name\n", "text/csv")},
            follow_redirects=False,
        )
    assert answer.status_code not in (401, 403, 413)
