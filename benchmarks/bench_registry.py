"""Registry at city scale: import, classification and search, chanye beside a plain baseline.

On one 3,600,000-row synthetic city (``chanye synth city --seed 1``, about 700 MB of CSV):
- import with full validation and classification: ``chanye registry import`` as a process,
  beside the baseline of ``pandas.read_csv`` + a per-row python-stdnum check + a per-row loop over
  the system file's keywords (the way one would write it without chanye);
- classification alone: ``chanye registry classify`` over the imported registry;
- search: 200 mixed searches through chanye's reader, beside the same filters as plain DuckDB
  SQL over the Parquet snapshot (a count and a sorted page).
Wall time and peak memory (PSS of the whole process tree, sampled every 250 ms) are measured for
the processes. Figures go to ``benchmarks/results/registry.json``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
RESULTS = HERE / "results"
ENTERPRISES = int(os.environ.get("CHANYE_BENCH_ENTERPRISES", "3600000"))
SEARCHES = 200
CHANYE = str(Path(sys.executable).with_name("chanye"))

BASELINE = r"""
import sys, time
import pandas as pd
from stdnum.cn import uscc
from chanye.system.loader import load_default_system

system = load_default_system()
keywords = [(kw, ind.id) for _, ind in system.industries() for kw in ind.all_keywords]
started = time.perf_counter()
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
valid = [uscc.is_valid(code) for code in frame["统一社会信用代码"]]
placed = []
for name, scope in zip(frame["企业名称"], frame["经营范围"]):
    text = name + "\n" + scope
    placed.append({industry for kw, industry in keywords if kw in text})
print(sum(valid), sum(1 for p in placed if p), round(time.perf_counter() - started, 2))
"""


class PeakMemory:
    """Samples the summed PSS (proportional set size) of a process and its children until
    stopped. PSS, not RSS: forked workers share the parent's pages, and summing their RSS would
    count those pages once per process."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_full_info().pss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.25)  # reading smaps costs CPU: sample sparingly

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    memory = PeakMemory(process.pid)
    out, err = process.communicate()
    peak = memory.stop()
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_memory_mb": round(peak / 2**20),
        "exit_code": process.returncode,
        "stdout_tail": out.strip().splitlines()[-1:] if out.strip() else [],
        "stderr_tail": err.strip().splitlines()[-3:] if err.strip() else [],
    }


def write_results(name: str, results: dict[str, Any]) -> None:
    """The figures of one benchmark, as ``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def city_file() -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"city-{ENTERPRISES}-seed1.csv"
    if not path.exists():
        subprocess.run(
            [
                CHANYE,
                "synth",
                "city",
                "--enterprises",
                str(ENTERPRISES),
                "--seed",
                "1",
                "--out",
                str(path),
            ],
            check=True,
        )
    return path


def mixed_queries(system: Any, count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    clusters = [c.id for c in system.clusters]
    links = [link.id for c in system.clusters for link in c.links]
    districts = [d.code for d in system.districts]
    words = ["科技", "智能", "电子", "广州", "材料", "生物", "贸易", "汽车", "软件", "新能源"]
    tags = ["high_tech", "above_scale", "specialized_sme"]
    queries = []
    for _ in range(count):
        q: dict[str, Any] = {}
        kind = rng.randrange(6)
        if kind == 0:
            q["text"] = rng.choice(words)
        elif kind == 1:
            q["cluster"] = rng.choice(clusters)
        elif kind == 2:
            q["chain_link"] = rng.choice(links)
        elif kind == 3:
            q.update(cluster=rng.choice(clusters), district=rng.choice(districts))
        elif kind == 4:
            q.update(tag=rng.choice(tags), min_revenue=rng.choice([1e7, 1e8]))
        else:
            q.update(district=rng.choice(districts), page=rng.randint(1, 50))
        queries.append(q)
    return queries


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def bench_search(data_dir: Path) -> dict[str, Any]:
    import duckdb

    from chanye.config import Settings
    from chanye.registry.context import RegistryContext
    from chanye.registry.queries import SearchQuery, where_clause

    context = RegistryContext.from_settings(Settings(data_dir=data_dir))
    started = time.perf_counter()
    reader = context.reader()
    open_seconds = time.perf_counter() - started
    queries = mixed_queries(context.system, SEARCHES)
    chanye_times = []
    for q in queries:
        t = time.perf_counter()
        reader.search(SearchQuery(**q))
        chanye_times.append(time.perf_counter() - t)
    reader.close()
    # The straightforward way: the same filters as plain SQL over the Parquet snapshot, a count
    # and a sorted page as two queries.
    con = duckdb.connect()
    snapshot = context.state()[0]
    assert snapshot is not None
    table = f"read_parquet('{context.paths.snapshot(snapshot)}/records-*.parquet')"
    plain_times = []
    for q in queries:
        where, params = where_clause(SearchQuery(**q))
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        offset = (q.get("page", 1) - 1) * 20
        t = time.perf_counter()
        con.execute(f"SELECT count(*) FROM {table} {condition}", params).fetchone()
        con.execute(
            f"SELECT uscc, name, revenue FROM {table} {condition} "
            f"ORDER BY revenue DESC NULLS LAST, uscc LIMIT 20 OFFSET {offset}",
            params,
        ).fetchall()
        plain_times.append(time.perf_counter() - t)
    return {
        "searches": SEARCHES,
        "chanye": {**percentiles(chanye_times), "reader_open_seconds": round(open_seconds, 2)},
        "duckdb_sql_over_parquet": percentiles(plain_times),
    }


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    source = city_file()
    size_mb = round(source.stat().st_size / 2**20)
    print(f"city file: {source} ({ENTERPRISES} rows, {size_mb} MB)")
    work = Path(tempfile.mkdtemp(prefix="chanye-bench-"))
    try:
        env = {**os.environ, "CHANYE_DATA_DIR": str(work / "data")}
        env.pop("CHANYE_DATABASE_URL", None)
        print("chanye registry import ...")
        chanye_import = run_measured([CHANYE, "registry", "import", str(source)], env)
        print(f"  {chanye_import['seconds']} s, {chanye_import['peak_memory_mb']} MB")
        print("chanye registry classify ...")
        classify = run_measured([CHANYE, "registry", "classify"], env)
        classify["enterprises_per_second"] = round(ENTERPRISES / classify["seconds"])
        print(f"  {classify['seconds']} s ({classify['enterprises_per_second']} enterprises/s)")
        print("search ...")
        search = bench_search(work / "data")
        print(f"  chanye p50 {search['chanye']['p50_ms']} ms, p95 {search['chanye']['p95_ms']} ms")
        print("baseline: pandas.read_csv + per-row stdnum + per-row keyword loop ...")
        baseline = run_measured([sys.executable, "-c", BASELINE, str(source)])
        print(f"  {baseline['seconds']} s, {baseline['peak_memory_mb']} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "registry",
        "enterprises": ENTERPRISES,
        "file_mb": size_mb,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30),
        },
        "import": {
            "chanye": chanye_import,
            "baseline_pandas_stdnum_keyword_loop": baseline,
            "speedup": round(baseline["seconds"] / chanye_import["seconds"], 1),
            "goal": "at most 20 s and 4 GB; at least 8x the baseline",
        },
        "classification_alone": classify,
        "search": search,
    }
    write_results("registry", results)
    print(json.dumps(results["import"], ensure_ascii=False))


if __name__ == "__main__":
    main()
