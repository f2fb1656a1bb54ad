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
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from chanye.config import Settings
from chanye.store.migrate import upgrade
from chanye.web.app import create_app

POSTGRES_URL = os.environ.get("CHANYE_TEST_DATABASE_URL")
CHANYE_BIN = str(Path(sys.executable).with_name("chanye"))
DEMO_ENTERPRISES = 3000


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema; skipped without a server."""
    if not POSTGRES_URL:
        pytest.skip("CHANYE_TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    schema = f"chanye_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings)) as test_client:
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
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``chanye demo`` prepared, then ``chanye serve`` running as a real process on a free port."""
    data_dir = tmp_path_factory.mktemp("live")
    prepared = run_cli("demo", "--no-serve", data_dir=data_dir)
    assert prepared.returncode == 0, prepared.stderr
    port = _free_port()
    server = subprocess.Popen(
        [CHANYE_BIN, "serve", "--port", str(port)],
        env=cli_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chanye serve did not start: {server.stderr!r}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


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
