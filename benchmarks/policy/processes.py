"""The product's figures, measured as users meet them: whole processes and the workflow.

- ``chanye policy match`` of the benchmark's policies over a registry (the real command, as a
  process, from nothing loaded), beside a plain pyarrow + numpy script and the OpenFisca model,
  each a process reading the same snapshot's Parquet and writing the same Parquet file (the
  outputs are compared row by row);
- publishing the demo policies (``seed_demo_policies``: what ``chanye demo`` runs, each policy
  published through the 免申即享 workflow with its pushes and evidence), beside evaluating the
  same policies alone;
- the resident memory of ``chanye serve`` with that registry loaded, after a registry page and
  after policy pages.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from benchmarks.policy.generate import Policy, to_policy_yaml
from benchmarks.policy.population import AS_OF, CHANYE, DATA

BIN = Path(sys.executable).parent
REPOSITORY = Path(__file__).resolve().parents[2]
PROCESS_REPEATS = 2  # each process: the best of this many runs (the machine is shared)


def registry_dir(n: int, seed: int) -> Path:
    """The benchmark's registry data directory (built by ``population.population_file``)."""
    return DATA / f"policy-registry-{n}-seed{seed}"


def snapshot_dir(data_dir: Path) -> Path:
    from benchmarks.policy.population import _snapshot_in_force

    found = _snapshot_in_force(data_dir)
    assert found is not None, f"no registry in {data_dir}"
    return found


def environment(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CHANYE_DATA_DIR": str(data_dir)}
    env.pop("CHANYE_DATABASE_URL", None)  # the data directory's own SQLite database
    return env


def measured(command: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall seconds and peak resident memory of one process run to its end (GNU time's
    maximum RSS: the process's own, not that of the benchmark it was started from)."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "peak-rss-kb %M", *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr[-2000:]}")
    lines = done.stderr.strip().splitlines()
    peak = next(int(line.split()[1]) for line in reversed(lines) if line.startswith("peak-rss"))
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak / 1024),
        "said": [line for line in said if not line.startswith("peak-rss")][-1:],
    }


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = min(runs, key=lambda r: r["seconds"])
    return {**chosen, "runs_seconds": [r["seconds"] for r in runs]}


def same_rows(a: Path, b: Path) -> dict[str, Any]:
    """Whether two match files hold the same rows in the same order (amounts to a cent)."""
    left, right = pq.read_table(a), pq.read_table(b)
    same = (
        left.num_rows == right.num_rows
        and left["policy_id"].equals(right["policy_id"])
        and left["uscc"].equals(right["uscc"])
    )
    if same:
        x = np.nan_to_num(left["amount"].to_numpy(zero_copy_only=False), nan=-1.0)
        y = np.nan_to_num(right["amount"].to_numpy(zero_copy_only=False), nan=-1.0)
        same = bool(np.allclose(x, y, rtol=0, atol=0.01))
    return {"agree": same, "rows": [left.num_rows, right.num_rows]}


def match_processes(
    policies: Sequence[Policy], data_dir: Path, seed: int, repeats: int = PROCESS_REPEATS
) -> dict[str, Any]:
    """``chanye policy match`` beside the plain script and OpenFisca, each as a process."""
    snapshot = snapshot_dir(data_dir)
    env = environment(data_dir)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        files = []
        for policy in policies:
            path = folder / f"{policy.id}.yaml"
            path.write_text(to_policy_yaml(policy), encoding="utf-8")
            files.append(str(path))
        outs = {name: folder / f"{name}.parquet" for name in ("chanye", "script", "openfisca")}
        script = [sys.executable, "-m", "benchmarks.policy.plain_script", str(snapshot)]
        counted = [str(len(policies)), str(seed)]
        day = AS_OF.isoformat()
        commands = {
            "chanye": [
                CHANYE,
                "policy",
                "match",
                *files,
                "--as-of",
                day,
                "--out",
                str(outs["chanye"]),
            ],
            "script": [*script, str(outs["script"]), *counted],
            "openfisca": [*script, str(outs["openfisca"]), *counted, "--openfisca"],
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
        for _ in range(repeats):  # interleaved: a busy moment of the machine hits all three
            for name, command in commands.items():
                print(f"  {name} process ...", flush=True)
                runs[name].append(measured(command, env))
        figures: dict[str, Any] = {name: best(found) for name, found in runs.items()}
        figures["agreement"] = {
            "chanye_vs_script": same_rows(outs["chanye"], outs["script"]),
            "openfisca_vs_script": same_rows(outs["openfisca"], outs["script"]),
        }
    chanye = figures["chanye"]["seconds"]
    figures["chanye_over_script"] = round(chanye / figures["script"]["seconds"], 2)
    figures["openfisca_over_chanye"] = round(figures["openfisca"]["seconds"] / chanye, 2)
    figures["setup"] = (
        "each a process from nothing loaded, best of the runs: `chanye policy match FILES "
        "--out x.parquet` (the command users run: settings, migrated database, the registry in "
        "force through RegistryView, columnar engine, file ordered by policy and USCC); the "
        "script: pyarrow reads the same snapshot's columns, numpy evaluates (plain numpy "
        "competitor), same file written; OpenFisca: the same script with the OpenFisca model"
    )
    return figures


@contextlib.contextmanager
def scratch_copy(data_dir: Path) -> Iterator[Path]:
    """A data directory sharing the registry's files but with its own database, so that what a
    benchmark publishes stays out of the cached registry's database."""
    with tempfile.TemporaryDirectory(dir=DATA) as scratch:
        copy = Path(scratch)
        shutil.copy2(data_dir / "chanye.db", copy / "chanye.db")
        (copy / "registry").symlink_to((data_dir / "registry").resolve())
        yield copy


PUBLISHING_ROUNDS = 5  # publishing and evaluating: each the best of this many processes


def publishing(data_dir: Path, rounds: int = PUBLISHING_ROUNDS) -> dict[str, Any]:
    """Publishing the demo policies through the workflow, against evaluating them alone: each a
    process of its own (``python -m benchmarks.policy.processes publish|evaluate COPY``) on a
    fresh copy of the database, taking turns which runs first (the registry's files are shared
    through the page cache, which the machine reclaims when it likes), the best of the rounds."""
    seconds: dict[str, list[float]] = {"publish": [], "evaluate": []}
    found: dict[str, Any] = {}
    for round_ in range(rounds):
        order = ("evaluate", "publish") if round_ % 2 == 0 else ("publish", "evaluate")
        for step in order:
            with scratch_copy(data_dir) as copy:
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.policy.processes", step, str(copy)],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=REPOSITORY,
                )
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                seconds[step].append(figures.pop("seconds"))
                found.update(figures)
    publish, evaluate = min(seconds["publish"]), min(seconds["evaluate"])
    return {
        **found,
        "publish_seconds": round(publish, 2),
        "evaluate_seconds": round(evaluate, 2),
        "publish_runs": [round(s, 2) for s in seconds["publish"]],
        "evaluate_runs": [round(s, 2) for s in seconds["evaluate"]],
        "publish_over_evaluate": round(publish / max(evaluate, 1e-9), 2),
        "setup": "publish: seed_demo_policies (what `chanye demo` runs: each demo policy added, "
        "approved, published and matched, its pushes and their evidence written to the "
        "database); evaluate: the same policies on the columnar engine alone; each a process "
        f"with the modules imported and a registry view not loaded yet, as of today; best of "
        f"{rounds} rounds, taking turns which runs first",
    }


def _publish_or_evaluate(step: str, copy: Path) -> dict[str, Any]:
    """One side of ``publishing``, in this process: its seconds, and what it found."""
    import chanye.policy.workflow  # noqa: F401 - imported before the clock starts, as in a server
    from chanye.beijing import today_in_beijing
    from chanye.config import Settings
    from chanye.policy.population import Population, match_all
    from chanye.policy.service import demo_policies, seed_demo_policies
    from chanye.registry.context import RegistryContext
    from chanye.registry.view import RegistryView

    url = f"sqlite:///{(copy / 'chanye.db').resolve()}"
    context = RegistryContext.from_settings(Settings(data_dir=copy, database_url=url))
    policies = demo_policies()
    began = time.perf_counter()
    if step == "evaluate":
        snapshot, overrides = context.state()
        fresh = Population(RegistryView(context.paths, snapshot, overrides), today_in_beijing())
        found = match_all(fresh, policies)
        seconds = time.perf_counter() - began
        return {"seconds": seconds, "eligible": sum(len(e.rows) for e in found)}
    published = seed_demo_policies(context)  # its own registry view, not loaded yet
    seconds = time.perf_counter() - began
    pushes = _count_pushes(url)
    return {"seconds": seconds, "policies": len(policies), "published": published, "pushes": pushes}


def _count_pushes(url: str) -> int:
    from sqlalchemy import func, select

    from chanye.store.database import session_scope
    from chanye.store.models import PolicyPush

    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(PolicyPush)) or 0)


def web_memory(copy: Path) -> dict[str, Any]:
    """``chanye serve`` over the registry: resident memory once started, after the registry
    page, and after the policy pages (simulation and near misses of a demo policy)."""
    from benchmarks.load.run import ANALYST_SESSIONS

    env = {**environment(copy), "CHANYE_WARM_UP": "false"}
    session = subprocess.run(
        [sys.executable, "-c", ANALYST_SESSIONS, "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, Any] = {}
    # Twice: the first server writes the registry's search columns (once per registry state);
    # the second maps them, as every later server start and every other worker does.
    for start in ("first_start", "later_start"):
        figures[start] = _served(base, port, env, session)
    figures["setup"] = (
        "`chanye serve` (one process) over the registry; VmRSS from /proc/PID/status, RssFile "
        "the part that is memory-mapped files (the page cache, shared between processes)"
    )
    return figures


def _served(base: str, port: int, env: dict[str, str], session: str) -> dict[str, Any]:
    import httpx

    from benchmarks.load.run import _wait_until_up

    figures: dict[str, Any] = {}
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [str(BIN / "chanye"), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            _wait_until_up(base, server)
            figures["started"] = _memory(server.pid)
            pages = {
                "after_registry_page": ["/registry"],
                "after_policy_pages": [
                    "/policies/demo-rd-subsidy/simulate",
                    "/policies/demo-rd-subsidy/near-misses",
                ],
                "after_both_again": ["/registry", "/policies/demo-rd-subsidy/simulate"],
            }
            with httpx.Client(cookies={"chanye_session": session}, timeout=600) as client:
                for stage, paths in pages.items():
                    began = time.perf_counter()
                    for path in paths:
                        client.get(base + path).raise_for_status()
                    figures[stage] = {
                        **_memory(server.pid),
                        "seconds": round(time.perf_counter() - began, 2),
                    }
        finally:
            server.terminate()
            server.wait(timeout=60)
    return figures


def _memory(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            found[f"{key}_mb"] = round(int(value.split()[0]) / 1024)
    return found


def product_figures(
    policies: Sequence[Policy], n: int, seed: int, repeats: int = PROCESS_REPEATS
) -> dict[str, Any]:
    """Every figure of this module, in one run. ``repeats`` below the benchmark's own (a test's
    small run) also takes publishing once rather than the best of its rounds."""
    data_dir = registry_dir(n, seed)
    print("processes: chanye policy match, plain script, OpenFisca ...", flush=True)
    figures: dict[str, Any] = {"match_process": match_processes(policies, data_dir, seed, repeats)}
    with scratch_copy(data_dir) as copy:
        print("publishing the demo policies ...", flush=True)
        rounds = PUBLISHING_ROUNDS if repeats >= PROCESS_REPEATS else repeats
        figures["publishing"] = publishing(data_dir, rounds)
        _publish_or_evaluate("publish", copy)  # the policy pages below read the demo policies
        print("chanye serve: resident memory ...", flush=True)
        figures["web_memory"] = web_memory(copy)
    return figures


if __name__ == "__main__":  # one side of ``publishing``: python -m benchmarks.policy.processes
    print(json.dumps(_publish_or_evaluate(sys.argv[1], Path(sys.argv[2]))))
