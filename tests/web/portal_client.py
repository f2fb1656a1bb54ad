"""A test client of the app with the captcha testing setting on and mail going to a real SMTP
server, and helpers to fill its forms as a person would."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from chanye.config import Settings


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


def form_token(client: TestClient, path: str) -> str:
    """Open a page with a form (and its captcha image); the form's CSRF token."""
    page = client.get(path).text
    if 'id="captcha-image"' in page:
        assert client.get("/captcha.png").headers["content-type"] == "image/png"
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"{path} has no CSRF field"
    return match.group(1)


def captcha(client: TestClient) -> str:
    answer = client.get("/testing/captcha-answer").json()["answer"]
    assert answer
    return str(answer)


def login(client: TestClient, account: str, password: str, **extra: str) -> Any:
    token = form_token(client, "/login")
    data = {
        "csrf_token": token,
        "account": account,
        "password": password,
        "captcha": captcha(client),
        **extra,
    }
    return client.post("/login", data=data, follow_redirects=False)
