"""Facts over time at city scale: five years of annual figures and a year of 快报, imported the way
users import them (``chanye registry import`` as a process), beside a plain baseline.

On the 3,600,000-enterprise synthetic city (imported first, as ``bench_registry`` does):
- annual: one wide file, ``统一社会信用代码`` and ``2020年营业收入（千元）`` … ``2024年营业收入（千元）``,
  3.6 million rows, 18 million facts;
- monthly: the 快报 of the 规上 enterprises, twelve periods of 2025 (``2025年1-2月`` together, then
  ``2025年1-3月`` …), 营业收入 本月 and 累计.
The baseline is what one writes without chanye: ``pandas.read_csv``, then a per-row loop that
checks the USCC (python-stdnum), looks it up among the registry's enterprises, converts each cell
from 千元 to yuan and appends one fact per cell, then writes the facts as Parquet. Wall time and
peak memory of each process. Figures go to ``benchmarks/results/facts.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench_registry import (
    CHANYE,
    DATA,
    ENTERPRISES,
    city_file,
    run_measured,
    write_results,
)

YEARS = (2020, 2021, 2022, 2023, 2024)
GROWTH = 1.075  # each year's figure is the next one's divided by this

BASELINE = r"""
import glob, sys, time
import pandas as pd
import pyarrow as pa, pyarrow.parquet as pq
from stdnum.cn import uscc

started = time.perf_counter()
parts = [pq.read_table(f, columns=["uscc"]) for f in sorted(glob.glob(sys.argv[2]))]
known = set(pa.concat_tables(parts)["uscc"].to_pylist())
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
value_columns = [c for c in frame.columns if c != "统一社会信用代码"]
facts = {"uscc": [], "indicator": [], "period": [], "measure": [], "value": []}
rejected = 0
for row in frame.itertuples(index=False):
    code = row[0]
    if not uscc.is_valid(code) or code not in known:
        rejected += 1
        continue
    for header, cell in zip(value_columns, row[1:]):
        if cell == "":
            continue
        period, measure = header.split("|")
        facts["uscc"].append(code)
        facts["indicator"].append("revenue")
        facts["period"].append(period)
        facts["measure"].append(measure)
        facts["value"].append(float(cell.replace(",", "")) * 1000.0)
pq.write_table(pa.table(facts), sys.argv[3])
print(len(facts["uscc"]), rejected, round(time.perf_counter() - started, 2))
"""


def _registry(data_dir: Path) -> dict[str, Any]:
    """The city imported as users import it (the facts need their enterprises)."""
    return run_measured([CHANYE, "registry", "import", str(city_file())], env=_env(data_dir))


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "CHANYE_DATA_DIR": str(data_dir)}


def _snapshot_records(data_dir: Path) -> str:
    found = sorted((data_dir / "registry" / "snapshots").glob("registry-*/records-*.parquet"))
    return str(found[0].parent / "records-*.parquet")


def write_files(data_dir: Path, folder: Path) -> tuple[Path, Path, Path, Path, int]:
    """The annual and monthly files (chanye's headers, and the baseline's plain ones), written
    from the registry's own revenue with DuckDB. Returns them and the number of 规上 firms."""
    import duckdb

    con = duckdb.connect()
    records = _snapshot_records(data_dir)
    con.execute(
        f"CREATE TABLE firms AS SELECT uscc, coalesce(revenue, 0) / 1000.0 AS k, "
        f"list_contains(tags, 'above_scale') AS above FROM read_parquet('{records}')"
    )
    years = ", ".join(
        f'round(k / power({GROWTH}, {YEARS[-1] - y}), 1) AS "{y}年营业收入（千元）"' for y in YEARS
    )
    annual, plain_annual = folder / "annual.csv", folder / "annual-plain.csv"
    con.execute(
        f"COPY (SELECT uscc AS 统一社会信用代码, {years} FROM firms) TO '{annual}' (HEADER)"
    )
    plain_years = ", ".join(
        f'round(k / power({GROWTH}, {YEARS[-1] - y}), 1) AS "{y}|year"' for y in YEARS
    )
    con.execute(
        f"COPY (SELECT uscc AS 统一社会信用代码, {plain_years} FROM firms) TO '{plain_annual}' (HEADER)"
    )
    monthly, plain_monthly = folder / "monthly.csv", folder / "monthly-plain.csv"
    # 1–2月 together, then every month: 累计 grows by a twelfth of 2025's revenue a month.
    months = [(2, "2025年1-2月")] + [(m, f"2025年1-{m}月") for m in range(3, 13)]
    periods = " UNION ALL ".join(
        f"SELECT uscc, '{label}' AS period, {m} AS m, k * 1.075 * {m} / 12.0 AS ytd, "
        f"k * 1.075 * {2 if m == 2 else 1} / 12.0 AS month FROM firms WHERE above"
        for m, label in months
    )
    con.execute(
        f"""COPY (SELECT uscc AS 统一社会信用代码, period AS 期间,
                         round(month, 1) AS "本月营业收入（千元）", round(ytd, 1) AS "营业收入累计（千元）"
                  FROM ({periods}) ORDER BY uscc, m) TO '{monthly}' (HEADER)"""
    )
    wide = ", ".join(
        f'round(k * 1.075 * {m} / 12.0, 1) AS "2025-{m:02d}|ytd", '
        f'round(k * 1.075 * {2 if m == 2 else 1} / 12.0, 1) AS "2025-{m:02d}|month"'
        for m, _ in months
    )
    con.execute(
        f"""COPY (SELECT uscc AS 统一社会信用代码, {wide} FROM firms WHERE above)
            TO '{plain_monthly}' (HEADER)"""
    )
    above = int(con.execute("SELECT count(*) FROM firms WHERE above").fetchone()[0])  # type: ignore[index]
    con.close()
    return annual, monthly, plain_annual, plain_monthly, above


def main() -> None:
    DATA.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="facts-", dir=DATA))
    try:
        data_dir = work / "data"
        registry = _registry(data_dir)
        annual, monthly, plain_annual, plain_monthly, above = write_files(data_dir, work)
        records = _snapshot_records(data_dir)
        results: dict[str, Any] = {
            "benchmark": "facts",
            "enterprises": ENTERPRISES,
            "above_scale": above,
            "machine": {"cpus": os.cpu_count(), "memory_gb": 24},
            "registry_import_seconds": registry["seconds"],
        }
        for name, path, plain in (
            ("annual", annual, plain_annual),
            ("monthly", monthly, plain_monthly),
        ):
            chanye = run_measured([CHANYE, "registry", "import", str(path)], env=_env(data_dir))
            script = work / "baseline.py"
            script.write_text(BASELINE, encoding="utf-8")
            baseline = run_measured(
                [sys.executable, str(script), str(plain), records, str(work / f"{name}.parquet")]
            )
            results[name] = {
                "file_mb": round(path.stat().st_size / 2**20),
                "chanye": chanye,
                "baseline_pandas_row_loop": baseline,
                "speedup": round(baseline["seconds"] / chanye["seconds"], 1),
            }
            print(name, json.dumps(results[name], ensure_ascii=False))
        results["goal"] = "at least 10x the pandas per-row loop"
        write_results("facts", results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
