"""The server under load: one database connection per request, nothing written for anonymous page
views, a Chinese 503 (never a hang) when the pool is exhausted, parallel posts of one login form,
`chanye serve --workers N` and a burst of concurrent requests against the real served process, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from chanye.config import Settings
from chanye.portal.sessions import open_session
from chanye.store.audit import Actor
from chanye.store.database import engine_for, session_scope
from chanye.store.models import AuditEntry, CaptchaChallenge, WebSession
from chanye.system.loader import default_system_text
from chanye.system.versions import load_into_database
from chanye.web.auth import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import CHANYE_BIN, cli_env, migrated_client, serving
from tests.mailbox import Mailbox
from tests.registry.factory import row, write_csv
from tests.web.signin import PASSWORD, make_account
from tests.web.test_access_matrix import _path, app_routes

PUBLIC_PAGES = ("/", "/system", "/policies")
# Tables a page view could write to: its browser session, a captcha, the audit log.
STATE_TABLES = (WebSession, CaptchaChallenge, AuditEntry)


def _settings(tmp_path: Path, database_url: str, **extra: object) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return Settings(data_dir=data_dir, database_url=database_url, warm_up=False, **extra)  # type: ignore[arg-type]


def _state_rows(settings: Settings) -> dict[str, int]:
    with session_scope(settings.resolved_database_url) as db:
        return {
            t.__tablename__: db.scalar(select(func.count()).select_from(t)) or 0
            for t in STATE_TABLES
        }


def _signed_in(client: TestClient, settings: Settings, role: str) -> None:
    account = make_account(settings, role)
    with session_scope(settings.resolved_database_url) as db:
        token, _row = open_session(db, "load-test", account_id=account.id)
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")


# --- one connection per request --------------------------------------------------------------


def test_every_page_is_served_with_a_single_database_connection(
    tmp_path: Path, database_url: str
) -> None:
    """With a pool of one connection, a request that needed a second would wait for itself and
    be answered 503: every page must answer without."""
    settings = _settings(
        tmp_path, database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=3
    )
    with migrated_client(settings) as client:
        for anonymous_page in PUBLIC_PAGES:
            assert client.get(anonymous_page).status_code == 200, anonymous_page
        _signed_in(client, settings, "admin")
        answered = 0
        for method, path, _need in app_routes(client.app):
            if method != "GET" or path.startswith("/testing"):
                continue
            response = client.get(_path(path), follow_redirects=False)
            assert response.status_code != 503, (path, response.text[:200])
            answered += 1
        search = client.get("/registry", params={"q": "科技"})
        assert search.status_code == 200
    assert answered >= 30


def test_the_cached_system_in_force_follows_a_new_version(
    tmp_path: Path, database_url: str
) -> None:
    settings = _settings(tmp_path, database_url)
    with migrated_client(settings) as client:
        assert client.get("/api/system").json()["system"]["name"] == "“12218”现代化产业体系"
        revised = default_system_text().replace(
            'name = "“12218”现代化产业体系"', 'name = "“12218”现代化产业体系（修订）"', 1
        )
        with session_scope(settings.resolved_database_url) as db:  # as `chanye system load` does
            load_into_database(db, revised, "revised.toml", Actor("test", "admin"))
        assert client.get("/api/system").json()["system"]["name"].endswith("（修订）")


def test_an_exhausted_pool_answers_503_in_chinese_and_the_app_recovers(
    tmp_path: Path, database_url: str
) -> None:
    settings = _settings(
        tmp_path, database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.5
    )
    with migrated_client(settings) as client:
        engine = engine_for(settings.resolved_database_url, settings.pool_options)
        with engine.connect():  # someone holds the only connection
            page = client.get("/policies")
            api = client.get("/api/system")
        assert page.status_code == 503 and "服务器繁忙" in page.text
        assert "<html" in page.text and "Traceback" not in page.text
        assert page.headers["retry-after"] and page.headers["x-frame-options"] == "DENY"
        assert api.status_code == 503 and "服务器繁忙" in api.json()["detail"]
        assert client.get("/policies").status_code == 200  # the connection is back: served again


def test_a_statement_over_its_timeout_answers_503(tmp_path: Path, postgres_url: str) -> None:
    settings = _settings(tmp_path, postgres_url, db_statement_timeout_seconds=0.5)
    with migrated_client(settings) as client:
        assert client.get("/").status_code == 200
        with engine_for(postgres_url).begin() as holder:  # a long migration, say, holds the table
            holder.execute(text("LOCK TABLE news_articles IN ACCESS EXCLUSIVE MODE"))
            blocked = client.get("/")
        assert blocked.status_code == 503 and "服务器繁忙" in blocked.text
        assert client.get("/").status_code == 200


def test_requests_past_the_limit_wait_their_turn_then_get_503(
    tmp_path: Path, postgres_url: str
) -> None:
    """One request in, stuck on a lock: the next waits its turn, is answered 503 in time, and
    both kinds of page work again once the lock is gone."""
    settings = _settings(
        tmp_path, postgres_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.5
    )
    with migrated_client(settings) as client, ThreadPoolExecutor(1) as pool:
        assert client.get("/").status_code == 200
        with engine_for(postgres_url).begin() as holder:
            holder.execute(text("LOCK TABLE news_articles IN ACCESS EXCLUSIVE MODE"))
            stuck = pool.submit(client.get, "/")
            while not holder.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND "
                    "relation = 'news_articles'::regclass"
                )
            ):
                assert not stuck.done(), stuck.result().status_code
                time.sleep(0.02)
            turned_away = client.get("/system")
        assert turned_away.status_code == 503 and "服务器繁忙" in turned_away.text
        assert stuck.result().status_code == 200
        assert client.get("/system").status_code == 200


# --- anonymous page views --------------------------------------------------------------------


def test_anonymous_page_views_write_nothing(tmp_path: Path, database_url: str) -> None:
    settings = _settings(tmp_path, database_url)
    with migrated_client(settings) as client:
        before = _state_rows(settings)
        for page in PUBLIC_PAGES * 3:
            response = client.get(page)
            assert response.status_code == 200 and 'name="csrf_token"' in response.text
        assert _state_rows(settings) == before
        assert client.cookies.get(SESSION_COOKIE) is None
        assert client.cookies.get(CSRF_COOKIE)  # the forms' token, kept by the browser


def test_a_form_shown_before_the_session_existed_still_posts(portal: TestClient) -> None:
    """The quick-login box is drawn without a session; fetching its captcha opens one, which
    takes over the token the form already carries."""
    settings: Settings = portal.app.state.settings  # type: ignore[attr-defined]
    account = make_account(settings, "individual")
    home = portal.get("/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home)
    assert token is not None
    assert portal.get("/captcha.png").status_code == 200  # the image the box shows
    answer = portal.get("/testing/captcha-answer").json()["answer"]
    response = portal.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "account": account.username,
            "password": PASSWORD,
            "captcha": answer,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert portal.get("/account").status_code == 200


def test_a_post_without_a_session_or_token_is_still_refused(client: TestClient) -> None:
    client.get("/")  # the visitor has the CSRF cookie, but sends no token
    response = client.post("/login", data={"account": "a", "password": "b"})
    assert response.status_code == 403 and "CSRF" in response.text
    forged = client.post("/login", data={"csrf_token": "x" * 43, "account": "a"})
    assert forged.status_code == 403


def test_an_import_started_on_one_worker_is_followed_on_another(
    tmp_path: Path, database_url: str
) -> None:
    """Two apps on one database stand for two worker processes: the progress page of an import
    started through one answers through the other, as the import runs in a process of its own."""
    settings = _settings(tmp_path, database_url)
    with migrated_client(settings) as first, migrated_client(settings) as second:
        _signed_in(first, settings, "analyst")
        second.cookies = first.cookies
        job = _upload(first, tmp_path)
        progress = _finished(second, job)
        assert "新增 5 家" in progress
        assert second.get("/api/registry/search").json()["total"] == 5


def test_an_import_process_that_dies_leaves_its_job_failed(
    client: TestClient, tmp_path: Path
) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    _signed_in(client, settings, "analyst")
    job = _upload(client, tmp_path)
    runner = next(
        p for p in psutil.Process().children() if "import_runner" in " ".join(p.cmdline())
    )
    runner.kill()  # still starting up: nothing imported yet
    assert "导入进程异常退出" in _finished(client, job)
    assert client.get("/api/registry/search").json()["total"] == 0


def _upload(client: TestClient, tmp_path: Path) -> str:
    """Upload five enterprises on the import page; the job's address."""
    path = write_csv(tmp_path / "名录.csv", [row(i) for i in range(1, 6)])
    with path.open("rb") as handle:
        started = client.post(
            "/registry/imports",
            files={"file": ("名录.csv", handle)},
            headers={"X-CSRF-Token": _csrf(client)},
            follow_redirects=False,
        )
    assert started.status_code == 303
    return str(started.headers["location"])


def _finished(client: TestClient, job: str) -> str:
    """The job's progress fragment once it says it is done."""
    deadline = time.monotonic() + 120
    while 'data-done="true"' not in (progress := client.get(f"{job}/progress").text):
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.1)
    return progress


def _csrf(client: TestClient) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").text)
    assert token is not None
    return token.group(1)


# --- the real server: parallel logins, workers, a burst of requests --------------------------


@contextmanager
def _served(
    tmp_path: Path, database_url: str, mailbox: Mailbox, *args: str
) -> Iterator[tuple[str, Settings]]:
    settings = _settings(tmp_path, database_url)
    env = {
        "CHANYE_DATABASE_URL": database_url,
        "CHANYE_COOKIE_SECURE": "false",
        "CHANYE_WARM_UP": "false",
    }
    migrated = subprocess.run(
        [CHANYE_BIN, "db", "upgrade"],
        env=cli_env(settings.data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    with serving(settings.data_dir, mailbox, *args, **env) as base:
        yield base, settings


def _login_form(client: httpx.Client, base: str) -> dict[str, str]:
    """What a person's browser holds before pressing 登录: the form's token and the captcha."""
    page = client.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert client.get(f"{base}/captcha.png").status_code == 200
    answer = client.get(f"{base}/testing/captcha-answer").json()["answer"]
    assert answer
    return {"csrf_token": token.group(1), "captcha": answer}


def test_a_login_form_posted_four_times_at_once_gives_no_error(
    tmp_path: Path, database_url: str, mailbox: Mailbox
) -> None:
    with _served(tmp_path, database_url, mailbox) as (base, settings):
        account = make_account(settings, "individual")
        with httpx.Client() as browser:
            form = {**_login_form(browser, base), "account": account.username, "password": PASSWORD}
            cookies = dict(browser.cookies)

        def post(_: int) -> int:
            with httpx.Client(cookies=cookies) as tab:
                return tab.post(f"{base}/login", data=form).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = sorted(pool.map(post, range(4)))
        assert all(status < 500 for status in statuses), statuses
        # The captcha is single-use: one post logs in, the others are told to enter a new one.
        assert statuses.count(303) == 1 and statuses.count(400) == 3, statuses


def test_serve_with_two_workers_runs_two_processes_sharing_logins(
    tmp_path: Path, database_url: str, mailbox: Mailbox
) -> None:
    with _served(tmp_path, database_url, mailbox, "--workers", "2") as (base, settings):
        port = base.rsplit(":", 1)[1]
        server = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and "serve" in p.info["cmdline"] and port in p.info["cmdline"]
        )
        workers = [p for p in server.children() if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2, [p.cmdline() for p in server.children()]
        account = make_account(settings, "individual")
        for _ in range(6):  # each step on a new connection: any worker may answer it
            with httpx.Client(headers={"Connection": "close"}) as browser:
                form = {
                    **_login_form(browser, base),
                    "account": account.username,
                    "password": PASSWORD,
                }
                assert browser.post(f"{base}/login", data=form).status_code == 303
                assert browser.get(f"{base}/account").status_code == 200


async def _burst(base: str, session_token: str, count: int) -> list[int]:
    """``count`` requests sent at once, a quarter of them by a logged-in analyst searching."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(limits=limits, timeout=120) as anonymous,
        httpx.AsyncClient(
            limits=limits, timeout=120, cookies={SESSION_COOKIE: session_token}
        ) as analyst,
    ):
        requests = [
            analyst.get(f"{base}/registry", params={"q": f"科技{i}"})
            if i % 4 == 3
            else anonymous.get(f"{base}{PUBLIC_PAGES[i % 3]}")
            for i in range(count)
        ]
        responses = await asyncio.gather(*requests)
    return [r.status_code for r in responses]


def test_a_burst_of_concurrent_requests_gives_no_5xx_and_the_app_stays_healthy(
    tmp_path: Path, database_url: str, mailbox: Mailbox
) -> None:
    with _served(tmp_path, database_url, mailbox) as (base, settings):
        analyst = make_account(settings, "analyst")
        with session_scope(settings.resolved_database_url) as db:
            token, _row = open_session(db, "load-test", account_id=analyst.id)
        # In a thread of its own: the browser tests' Playwright keeps an event loop running in
        # this one for the whole session.
        with ThreadPoolExecutor(1) as runner:
            statuses = runner.submit(asyncio.run, _burst(base, token, 100)).result()
        assert [s for s in statuses if s >= 500] == [] and statuses.count(200) == 100
        with httpx.Client(cookies={SESSION_COOKIE: token}) as after:
            account_page = after.get(f"{base}/account")
            assert account_page.status_code == 200 and analyst.display_name in account_page.text
            assert after.get(f"{base}/healthz").json()["status"] == "ok"
