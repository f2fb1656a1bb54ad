"""Policies that read the past, at city scale: 100 policies of which half read history or
qualifications, beside the same 100 reading only current fields, matched as users match them.

On the 3,600,000-enterprise synthetic city with its past imported as users import it (five years
of annual revenue, 18 million facts, and the dated qualifications behind the list's tags), both
sets are matched by ``chanye policy match`` as a process, as of 2026-01-01, taking turns which
runs first, best of three. The history set is the current set with one more condition on every
other policy, each a clause of the kind real documents write: growth over the year before,
the year before's figure, 首次超过 (the highest before), a first recognition in a window, a
renewal, 首次升规 within three years. Figures go to ``benchmarks/results/history.json``; the goal
is the history set in at most 1.5× the time of the current set.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.bench_facts import write_files
from benchmarks.bench_registry import (
    CHANYE,
    DATA,
    ENTERPRISES,
    city_file,
    run_measured,
    write_results,
)
from benchmarks.policy.generate import generate_policies, to_policy_yaml

AS_OF = "2026-01-01"
ROUNDS = 3
GOAL = 1.5
# One clause of each kind, as real documents write them (text, CEL), taken in turn.
HISTORY_CLAUSES = (
    ("上年度营业收入较前一年增长5%以上（第二条）", "growth(enterprise.revenue) >= 0.05"),
    ("前一年度营业收入不低于1000万元（第二条）", "prior(enterprise.revenue) >= 10000000.0"),
    (
        "营业收入首次突破2000万元（第二条）",
        "enterprise.revenue >= 20000000.0 && peak_before(enterprise.revenue) < 20000000.0",
    ),
    (
        "2023年以来首次认定的高新技术企业（第二条）",
        'first_recognised_between("high_tech", "2023-01-01", "2025-12-31")',
    ),
    (
        "2024年以来重新认定的高新技术企业（第二条）",
        'renewed_between("high_tech", "2024-01-01", "2025-12-31")',
    ),
    ("首次纳入规上统计3年内（第二条）", 'first_recognised_within("above_scale", 3)'),
)


def _env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CHANYE_DATA_DIR": str(data_dir)}
    env.pop("CHANYE_DATABASE_URL", None)  # the data directory's own SQLite database
    return env


def write_qualifications(data_dir: Path, folder: Path) -> Path:
    """The dated qualifications behind the list's tags: 高新 recognised in a year from 2016 and
    renewed every three years up to 2025; 规上 entered in a year from 2015; 专精特新 from 2019.
    Years spread by the USCC's hash, so the windows of the clauses hold some firms and not
    others."""
    import duckdb

    from benchmarks.bench_facts import _snapshot_records

    records = _snapshot_records(data_dir)
    path = folder / "资质认定.csv"
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE firms AS SELECT uscc, tags, hash(uscc) AS h FROM read_parquet('{records}')"
    )
    rows = """
        SELECT uscc, '高新技术企业' AS kind, make_date(2016 + CAST(h % 4 AS INT) + 3 * r, 11, 20) AS day
          FROM firms, range(0, 4) AS t(r)
         WHERE list_contains(tags, 'high_tech') AND 2016 + h % 4 + 3 * r <= 2025
        UNION ALL
        SELECT uscc, '规上工业企业', make_date(2015 + CAST(h % 11 AS INT), 1, 1)
          FROM firms WHERE list_contains(tags, 'above_scale')
        UNION ALL
        SELECT uscc, '专精特新中小企业', make_date(2019 + CAST(h % 7 AS INT), 6, 1)
          FROM firms WHERE list_contains(tags, 'specialized_sme')
    """
    con.execute(
        f"""COPY (SELECT uscc AS 统一社会信用代码, kind AS 资质, day AS 认定日期 FROM ({rows})
                  ORDER BY uscc, kind, day) TO '{path}' (HEADER)"""
    )
    con.close()
    return path


def policy_sets(folder: Path) -> tuple[list[str], list[str]]:
    """The current set's files and the history set's (every other policy one clause more)."""
    current, history = folder / "current", folder / "history"
    current.mkdir()
    history.mkdir()
    for index, policy in enumerate(generate_policies(100, seed=1)):
        text = to_policy_yaml(policy)
        (current / f"{policy.id}.yaml").write_text(text, encoding="utf-8")
        data = yaml.safe_load(text)
        if index % 2:
            clause, when = HISTORY_CLAUSES[(index // 2) % len(HISTORY_CLAUSES)]
            data["conditions"].append({"id": "history", "text": clause, "when": when})
        (history / f"{policy.id}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return sorted(map(str, current.glob("*.yaml"))), sorted(map(str, history.glob("*.yaml")))


def _match(files: list[str], out: Path, data_dir: Path) -> dict[str, Any]:
    command = [CHANYE, "policy", "match", *files, "--as-of", AS_OF, "--out", str(out)]
    return run_measured(command, env=_env(data_dir))


def _imported(data_dir: Path, path: Path) -> dict[str, Any]:
    done = run_measured([CHANYE, "registry", "import", str(path)], env=_env(data_dir))
    if done["exit_code"] != 0:
        raise RuntimeError(f"import of {path.name} failed: {done['stderr_tail']}")
    return done


def main() -> None:
    DATA.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="history-", dir=DATA))
    try:
        data_dir = work / "data"
        imports = {"registry": _imported(data_dir, city_file())}
        annual = write_files(data_dir, work)[0]
        imports["annual"] = _imported(data_dir, annual)
        imports["qualifications"] = _imported(data_dir, write_qualifications(data_dir, work))
        current, history = policy_sets(work)
        runs: dict[str, list[dict[str, Any]]] = {"current": [], "history": []}
        for round_ in range(ROUNDS):  # taking turns which runs first
            order = ("current", "history") if round_ % 2 == 0 else ("history", "current")
            for name in order:
                files = current if name == "current" else history
                runs[name].append(_match(files, work / f"{name}.parquet", data_dir))
        best = {name: min(r["seconds"] for r in found) for name, found in runs.items()}
        results = {
            "benchmark": "history",
            "enterprises": ENTERPRISES,
            "policies": 100,
            "reading_history": 50,
            "as_of": AS_OF,
            "machine": {"cpus": os.cpu_count(), "memory_gb": 24},
            "imports_seconds": {k: v["seconds"] for k, v in imports.items()},
            "imported": {k: v["stderr_tail"][-1:] for k, v in imports.items()},
            "clauses": [when for _text, when in HISTORY_CLAUSES],
            "current_seconds": best["current"],
            "history_seconds": best["history"],
            "peak_memory_mb": {n: max(r["peak_memory_mb"] for r in f) for n, f in runs.items()},
            "runs_seconds": {n: [r["seconds"] for r in f] for n, f in runs.items()},
            "ratio": round(best["history"] / best["current"], 2),
            "goal": f"the history set in at most {GOAL}x the time of the current set",
            "command": "chanye policy match <100 files> --as-of 2026-01-01 --out <file>",
        }
        print(json.dumps(results, ensure_ascii=False))
        write_results("history", results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
