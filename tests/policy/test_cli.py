"""``chanye policy`` as a process, over a small demo city."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import DEMO_ENTERPRISES, run_cli
from tests.policy.test_loader import GOOD


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("policy-city")
    prepared = run_cli("demo", "--no-serve", data_dir=data_dir)
    assert prepared.returncode == 0, prepared.stderr
    return data_dir


def test_check_reports_every_bad_file_and_exits_1(tmp_path: Path, city: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(
        GOOD.replace("enterprise.revenue >=", "enterprise.turnover >="), encoding="utf-8"
    )
    result = run_cli("policy", "check", str(good), str(bad), data_dir=city)
    assert result.returncode == 1
    assert f"{bad}:9:22: 未知的企业字段 enterprise.turnover" in result.stderr
    assert "demo-rd-subsidy" in result.stdout and "免申即享" in result.stdout
    assert run_cli("policy", "check", str(good), data_dir=city).returncode == 0


def test_match_writes_the_contract_columns_and_agrees_with_explain(
    tmp_path: Path, city: Path
) -> None:
    out = tmp_path / "matches.csv"
    result = run_cli("policy", "match", "--as-of", "2026-06-30", "--out", str(out), data_dir=city)
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["policy_id", "uscc", "eligible", "amount", "failed"]
    assert rows and all(r["eligible"] == "true" and r["failed"] == "" for r in rows)
    assert f"符合条件 {len(rows)} 项" in result.stdout
    first = rows[0]
    explained = run_cli(
        "policy",
        "explain",
        first["policy_id"],
        first["uscc"],
        "--as-of",
        "2026-06-30",
        "--json",
        data_dir=city,
    )
    decision = json.loads(explained.stdout)
    assert decision["eligible"] is True
    assert decision["amount"] == pytest.approx(float(first["amount"]))
    assert all(c["outcome"] == "holds" for c in decision["conditions"])


def test_match_all_lists_the_failed_conditions(tmp_path: Path, city: Path) -> None:
    out = tmp_path / "all.parquet"
    result = run_cli(
        "policy",
        "match",
        "demo-ai-compute-voucher",
        "--all",
        "--as-of",
        "2026-06-30",
        "--out",
        str(out),
        data_dir=city,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out).to_pylist()
    assert len(table) == DEMO_ENTERPRISES
    assert f"符合条件 {sum(r['eligible'] for r in table)} 项" in result.stdout
    failing = [r for r in table if not r["eligible"]]
    assert failing and all(r["failed"] for r in failing)
    assert "ai" in {f for r in failing for f in r["failed"].split(";")}
    outside = tmp_path / "outside.csv"
    run_cli(
        "policy",
        "match",
        "demo-ai-compute-voucher",
        "--all",
        "--as-of",
        "2030-01-01",
        "--out",
        str(outside),
        data_dir=city,
    )
    with outside.open(encoding="utf-8") as handle:
        assert {r["failed"] for r in csv.DictReader(handle)} == {"valid"}


def test_simulate_before_and_after(city: Path) -> None:
    result = run_cli(
        "policy",
        "simulate",
        "demo-ai-compute-voucher",
        "--set",
        "min_rd_expense=0.0",
        "--as-of",
        "2026-06-30",
        "--json",
        data_dir=city,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["after"]["eligible"] >= figures["before"]["eligible"]
    assert (
        figures["gained"]
        == figures["after"]["eligible"] - figures["before"]["eligible"] + figures["lost"]
    )
    assert sum(d["after_eligible"] for d in figures["by_district"]) == figures["after"]["eligible"]
    unknown = run_cli(
        "policy", "simulate", "demo-ai-compute-voucher", "--set", "nope=1", data_dir=city
    )
    assert unknown.returncode == 2 and "没有参数 nope" in unknown.stderr
