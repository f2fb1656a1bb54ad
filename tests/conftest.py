"""Shared fixtures: a fresh data directory and database per test, real servers where needed.

PostgreSQL is used for real when ``CHANYE_TEST_DATABASE_URL`` points at one (``.ci/run`` sets it
when 127.0.0.1:5432 answers); each test then gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.store.database import scratch_schema
from chanye.store.migrate import upgrade
from chanye.web.app import create_app
from tests.mailbox import Mailbox
from tests.oidc_provider import OidcProvider

POSTGRES_URL = os.environ.get("CHANYE_TEST_DATABASE_URL")
CHANYE_BIN = str(Path(sys.executable).with_name("chanye"))
DEMO_ENTERPRISES = 3000


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema; skipped without a server."""
    if not POSTGRES_URL:
        pytest.skip("CHANYE_TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    with scratch_schema(POSTGRES_URL, "chanye_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chanye.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data directory with its own SQLite database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Settings(data_dir=data_dir)


@contextmanager
def migrated_client(settings: Settings) -> Iterator[TestClient]:
    """A test client of the app on ``settings``, its database migrated first."""
    upgrade(settings.resolved_database_url)
    # HTTPS, because session cookies are Secure (browsers treat localhost as secure too).
    with TestClient(create_app(settings), base_url="https://testserver.local") as test_client:
        yield test_client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with migrated_client(settings) as test_client:
        yield test_client


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for running the ``chanye`` command as a process on its own data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANYE_")}
    env["CHANYE_DATA_DIR"] = str(data_dir)
    env["CHANYE_DEMO_ENTERPRISES"] = str(DEMO_ENTERPRISES)  # a small demo city keeps tests fast
    env.update(extra)
    return env


def run_cli(*args: str, data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHANYE_BIN, *args],
        capture_output=True,
        text=True,
        env=cli_env(data_dir),
        timeout=timeout,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server the live server sends its mail to."""
    box = Mailbox().start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[OidcProvider]:
    """A real OpenID Connect provider (统一身份认证 stand-in) on a free local port."""
    provider = OidcProvider().start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def oidc_provider(identity_provider: OidcProvider) -> OidcProvider:
    """The provider, behaving again as a good one, for this test."""
    identity_provider.reset()
    return identity_provider


@pytest.fixture
def portal(tmp_path: Path, mailbox: Mailbox) -> Iterator[TestClient]:
    """The app with the captcha testing setting on and mail going to a real SMTP server."""
    settings = Settings(
        data_dir=tmp_path,
        warm_up=False,
        testing_expose_captcha=True,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        public_url="https://testserver.local",
    )
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings), base_url="https://testserver.local") as client:
        yield client


@pytest.fixture(scope="session")
def live_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("live")
    prepared = run_cli("demo", "--no-serve", data_dir=data_dir)
    assert prepared.returncode == 0, prepared.stderr
    return data_dir


@pytest.fixture(scope="session")
def live_settings(live_data_dir: Path) -> Settings:
    """Settings pointing at the live server's data (to arrange accounts and read state)."""
    return Settings(data_dir=live_data_dir)


def _variable(name: str) -> str:
    return name if name.startswith("CHANYE_") else f"CHANYE_{name.upper()}"


@contextmanager
def serving(data_dir: Path, mailbox: Mailbox, *args: str, **extra_env: str) -> Iterator[str]:
    """``chanye serve`` on ``data_dir`` as a real process on a free port, sending mail to
    ``mailbox`` and (testing setting) serving the captcha answer to tests; yields its URL.
    ``args`` go to ``chanye serve`` (``--workers 2``), ``extra_env`` to its environment: settings
    by their variable (``CHANYE_WARM_UP``) or field name (``oidc_issuer``)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = cli_env(
        data_dir,
        CHANYE_TESTING_EXPOSE_CAPTCHA="true",
        CHANYE_SMTP_HOST="127.0.0.1",
        CHANYE_SMTP_PORT=str(mailbox.port),
        CHANYE_PUBLIC_URL=base,
        **{_variable(name): value for name, value in extra_env.items()},
    )
    # Its messages go to a file: a pipe nobody reads would fill up and stop the server.
    with tempfile.TemporaryFile() as errors:
        server = subprocess.Popen(
            [CHANYE_BIN, "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    errors.seek(0)
                    raise RuntimeError(f"chanye serve did not start: {errors.read()!r}")
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


@pytest.fixture(scope="session")
def live_server(live_data_dir: Path, mailbox: Mailbox) -> Iterator[str]:
    """``chanye demo`` prepared, then served (see ``serving``)."""
    with serving(live_data_dir, mailbox) as base:
        yield base


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("SKIPPED browser tests: no chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A page at ``url`` and the list its console errors and uncaught exceptions go to (CSP
    violations show up there too)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    return page, problems


def captcha_answer(page: Any, base: str) -> str:
    """The answer to the captcha this page's session was shown, from the server's testing
    endpoint (only there when CHANYE_TESTING_EXPOSE_CAPTCHA is on)."""
    from playwright.sync_api import expect

    # Wait for this page's image: until it has loaded, the session's captcha may be an older one.
    expect(page.locator("#captcha-image")).to_have_js_property("naturalWidth", 160)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = page.request.get(f"{base}/testing/captcha-answer").json()["answer"]
        if answer:
            return str(answer)
        time.sleep(0.1)
    raise AssertionError("the live server exposes no captcha answer")


def browser_login(
    page: Any, base: str, account: str, password: str, totp_secret: str | None = None
) -> None:
    """Log in through the login page as a person would (with the second factor for staff)."""
    page.goto(f"{base}/login")
    answer = captcha_answer(page, base)
    page.fill("input[name=account]", account)
    page.fill("input[name=password]", password)
    page.fill("input[name=captcha]", answer)
    with page.expect_navigation():
        page.get_by_role("button", name="登录", exact=True).click()
    if totp_secret is not None:
        from tests.web.signin import fresh_code

        page.wait_for_url("**/login/totp**")
        page.fill("input[name=code]", fresh_code(totp_secret))
        with page.expect_navigation():
            page.get_by_role("button", name="验证").click()


# The slowest files first: ``--dist loadfile`` hands the files out in collection order, so a long
# file collected last would leave one worker running alone at the end of the suite.
SLOW_FILES = (
    "_browser.py",
    "test_policy_competitors.py",
    "test_killed_import.py",
    "test_rematch.py",
    "test_undo.py",
    "test_import_cli.py",
    "test_facts_import.py",
    "test_load.py",
    "test_page_wording.py",
    "tests/test_cli.py",
    "tests/policy/test_cli.py",
    "test_as_of.py",
    "test_ledger.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.split("::")[0].endswith(SLOW_FILES))
