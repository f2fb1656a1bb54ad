"""The load benchmark: the real ``chanye serve`` process under many concurrent clients.

Two set-ups, each on a demo city (``chanye demo --no-serve``, 200,000 enterprises):
- SQLite with 1 worker process;
- PostgreSQL with 4 worker processes (a fresh schema of ``CHANYE_BENCH_DATABASE_URL``, by default
  the local server's database ``test``).
Each is served by ``chanye serve --workers N`` as users run it, then loaded by locust (headless,
on loopback) with 200 clients for 60 s: half read the public pages (/, /system, /policies) without
logging in, half are analysts searching the registry in sessions of their own. Recorded: requests,
errors (any answer but 200), p50/p95/p99 latency, requests per second, and the memory of the
serving processes (RSS and USS per worker: what each worker holds alone, the shared search
columns not counted in it). Figures go to ``benchmarks/results/load.json``.

Bounded by construction: locust stops itself after the run time, every process has a timeout, and
the server is stopped whatever happens. ``CHANYE_BENCH_LOAD_USERS``, ``CHANYE_BENCH_LOAD_SECONDS``
and ``CHANYE_BENCH_LOAD_ENTERPRISES`` make a short smoke run possible.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from chanye.store.database import scratch_schema

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "load.json"
BIN = Path(sys.executable).parent
USERS = int(os.environ.get("CHANYE_BENCH_LOAD_USERS", "200"))
SECONDS = int(os.environ.get("CHANYE_BENCH_LOAD_SECONDS", "60"))
ENTERPRISES = int(os.environ.get("CHANYE_BENCH_LOAD_ENTERPRISES", "200000"))
POSTGRES = os.environ.get(
    "CHANYE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START_TIMEOUT = 120
SETUP_TIMEOUT = 1800


@dataclass(frozen=True)
class Setup:
    name: str
    workers: int
    database: str  # "sqlite" or "postgresql"


SETUPS = (Setup("sqlite-1-worker", 1, "sqlite"), Setup("postgresql-4-workers", 4, "postgresql"))
# A comma-separated subset of the set-ups' names, to measure one again (all by default).
ONLY = {n for n in os.environ.get("CHANYE_BENCH_LOAD_SETUPS", "").split(",") if n}


def main() -> dict[str, Any]:
    figures: dict[str, Any] = {
        "clients": USERS,
        "seconds": SECONDS,
        "enterprises": ENTERPRISES,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "setups": {},
    }
    for setup in [s for s in SETUPS if not ONLY or s.name in ONLY]:
        with tempfile.TemporaryDirectory(prefix="chanye-load-") as folder, _database(setup) as url:
            figures["setups"][setup.name] = measure(setup, Path(folder), url)
        print(json.dumps({setup.name: figures["setups"][setup.name]["all"]}, ensure_ascii=False))
    if ONLY:  # a partial run is printed, never written over the figures of a whole one
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return figures
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return figures


def measure(setup: Setup, folder: Path, database_url: str | None) -> dict[str, Any]:
    data_dir = folder / "data"
    env = _environment(data_dir, database_url)
    _run([str(BIN / "chanye"), "demo", "--no-serve"], env, SETUP_TIMEOUT)
    sessions = folder / "sessions.txt"
    sessions.write_text("\n".join(_analyst_sessions(env, USERS)) + "\n", encoding="utf-8")
    log = folder / "server.log"
    with _serving(setup, env, log) as (base, server):
        _warm_up(base, sessions.read_text(encoding="utf-8").split()[0], setup.workers)
        stats = _locust(base, folder / "stats", sessions)
        memory = _memory(server)
        healthy = httpx.get(f"{base}/healthz", timeout=30).json()["status"] == "ok"
    text = log.read_text(encoding="utf-8", errors="replace")
    if os.environ.get("CHANYE_BENCH_LOAD_KEEP_LOG"):
        Path(os.environ["CHANYE_BENCH_LOAD_KEEP_LOG"]).write_text(text, encoding="utf-8")
    errors = _server_errors(text)
    return {**stats, "server_errors": errors, "memory": memory, "healthy_after": healthy}


def _server_errors(log: str) -> dict[str, int]:
    """The last line of every traceback the server logged (the exception), with its count."""
    counts: dict[str, int] = {}
    for trace in log.split("Traceback (most recent call last):")[1:]:
        lines = [line for line in trace.splitlines() if line and not line.startswith(" ")]
        if lines:
            counts[lines[0][:300]] = counts.get(lines[0][:300], 0) + 1
    return counts


def _environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANYE_")}
    env.update(
        CHANYE_DATA_DIR=str(data_dir),
        CHANYE_DEMO_ENTERPRISES=str(ENTERPRISES),
        CHANYE_COOKIE_SECURE="false",
    )
    if database_url:
        env["CHANYE_DATABASE_URL"] = database_url
    return env


@contextmanager
def _database(setup: Setup) -> Iterator[str | None]:
    """None for SQLite (in the data directory); for PostgreSQL a schema dropped afterwards."""
    if setup.database == "sqlite":
        yield None
        return
    with scratch_schema(POSTGRES, "chanye_load") as url:
        yield url


ANALYST_SESSIONS = r"""
import sys
from chanye.config import Settings
from chanye.portal import totp
from chanye.portal.accounts import create_account
from chanye.portal.sessions import open_session
from chanye.store.audit import Actor
from chanye.store.database import session_scope

with session_scope(Settings().resolved_database_url) as db:
    account, _ = create_account(db, username="loadanalyst", email="load@example.cn",
                                display_name="压测分析员", role="analyst",
                                actor=Actor("benchmark", "admin"), password="Zq8!chanye-load")
    account.totp_secret = totp.new_secret()
    db.flush()
    for _ in range(int(sys.argv[1])):
        print(open_session(db, "benchmark", account_id=account.id)[0])
"""


def _analyst_sessions(env: dict[str, str], count: int) -> list[str]:
    """Logged-in sessions of one analyst (made in the database, as a login would make them)."""
    made = _run([sys.executable, "-c", ANALYST_SESSIONS, str(count)], env, 120)
    return made.stdout.split()


@contextmanager
def _serving(
    setup: Setup, env: dict[str, str], log_path: Path
) -> Iterator[tuple[str, psutil.Process]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    command = [str(BIN / "chanye"), "serve", "--port", str(port), "--workers", str(setup.workers)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            _wait_until_up(base, server)
            yield base, psutil.Process(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"chanye serve did not start on {base}")


def _warm_up(base: str, session: str, workers: int) -> None:
    """Searches before measuring, many at once so that every worker gets some and has opened its
    registry reader (a worker doing that during the run would stall its share of the clients)."""

    def search(_: int) -> None:
        with httpx.Client(cookies={"chanye_session": session}, timeout=120) as client:
            for _ in range(4):
                client.get(f"{base}/registry", headers={"Connection": "close"}).raise_for_status()

    with ThreadPoolExecutor(8 * workers) as pool:
        list(pool.map(search, range(8 * workers)))


def _locust(base: str, prefix: Path, sessions: Path) -> dict[str, Any]:
    command = [
        str(BIN / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--host",
        base,
        "--users",
        str(USERS),
        "--spawn-rate",
        str(USERS),
        "--run-time",
        f"{SECONDS}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "CHANYE_LOAD_SESSIONS": str(sessions)}
    # Exit code 1 only says some requests failed: the figures say how many.
    subprocess.run(command, env=env, capture_output=True, timeout=SECONDS + 120, check=False)
    return _figures(prefix)


def _figures(prefix: Path) -> dict[str, Any]:
    stats = prefix.with_name(prefix.name + "_stats.csv")
    rows = list(csv.DictReader(stats.open(encoding="utf-8")))
    by_name = {("all" if r["Name"] == "Aggregated" else r["Name"]): _row(r) for r in rows}
    return {"all": by_name.pop("all"), "by_page": by_name, "failures": _failures(prefix)}


def _failures(prefix: Path) -> list[dict[str, Any]]:
    """What the failed requests got (status or connection error), as locust counted them."""
    failures = prefix.with_name(prefix.name + "_failures.csv")
    if not failures.exists():
        return []
    return [
        {"page": r["Name"], "error": r["Error"], "count": int(r["Occurrences"])}
        for r in csv.DictReader(failures.open(encoding="utf-8"))
    ]


def _row(row: dict[str, str]) -> dict[str, Any]:
    return {
        "requests": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
        "requests_per_second": round(float(row["Requests/s"]), 1),
    }


def _memory(server: psutil.Process) -> dict[str, Any]:
    """RSS and USS (memory no other process shares) of each worker, in MB."""
    workers = [
        p
        for p in server.children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ]
    workers = workers or [server]
    per_worker = []
    for process in workers:
        info = process.memory_full_info()
        per_worker.append(
            {
                "rss_mb": round(info.rss / 2**20),
                "uss_mb": round(info.uss / 2**20),
                "pss_mb": round(info.pss / 2**20),
            }
        )
    return {"workers": per_worker, "total_pss_mb": sum(w["pss_mb"] for w in per_worker)}


def _run(command: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return done
