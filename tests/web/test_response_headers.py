"""Every response carries the security headers, the refusals made before any route runs (413)
and the error page of an unhandled exception (500) included; private responses are never
stored by a cache (``Cache-Control: no-store``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.web.app import create_app
from chanye.web.auth import open_access
from chanye.web.security import SECURITY_HEADERS
from tests.web.signin import sign_in_as


def _has_security_headers(headers: object) -> bool:
    return all(headers.get(name) == value for name, value in SECURITY_HEADERS.items())  # type: ignore[attr-defined]


def test_a_body_over_the_cap_is_refused_with_the_headers(client: TestClient) -> None:
    response = client.post(
        "/login",
        content=b"a=" + b"x" * (2 << 20),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert _has_security_headers(response.headers)


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[TestClient]:
    """The app with two routes that fail with an error nothing handles."""
    settings = Settings(data_dir=tmp_path, warm_up=False)
    app = create_app(settings)

    def fail() -> None:
        raise RuntimeError("sqlite: no such table (a fault of the kind nothing handles)")

    for path in ("/broken", "/api/broken"):
        app.add_api_route(path, fail, dependencies=[open_access()])
    with TestClient(app, base_url="https://testserver.local", raise_server_exceptions=False) as c:
        yield c


def test_an_unhandled_error_answers_500_with_the_headers(broken: TestClient) -> None:
    page = broken.get("/broken")
    assert page.status_code == 500 and "服务器内部错误" in page.text
    assert _has_security_headers(page.headers) and page.headers["cache-control"] == "no-store"
    assert "Traceback" not in page.text and "sqlite" not in page.text.lower()
    api = broken.get("/api/broken", headers={"Accept": "application/json"})
    assert api.status_code == 500 and api.json()["detail"].startswith("服务器内部错误")
    assert _has_security_headers(api.headers)


def test_every_response_of_a_logged_in_viewer_is_not_stored(client: TestClient) -> None:
    sign_in_as(client, "analyst")
    for path in ("/", "/system", "/registry", "/api/registry/stats", "/account"):
        response = client.get(path, follow_redirects=False)
        assert response.headers.get("cache-control") == "no-store", path
        assert _has_security_headers(response.headers), path


def test_a_private_route_is_not_stored_even_when_it_refuses(client: TestClient) -> None:
    refused = client.get("/registry", follow_redirects=False)  # anonymous: to the login page
    assert refused.status_code == 303 and refused.headers["cache-control"] == "no-store"
    api = client.get("/api/registry/stats")
    assert api.status_code == 401 and api.headers["cache-control"] == "no-store"


def test_public_files_stay_cacheable(client: TestClient) -> None:
    css = client.get("/static/css/chanye.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")
    assert _has_security_headers(css.headers)
