"""``chanye policy`` as a process, over a small demo city."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from chanye.config import Settings
from chanye.policy import columnar
from chanye.policy.engine import decisions_sql
from chanye.policy.history import HistoryField
from chanye.policy.loader import load_policy_text
from chanye.policy.model import Policy
from chanye.policy.population import Population
from chanye.policy.service import demo_policies
from chanye.registry.context import RegistryContext
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
    demo = tmp_path / "demo.csv"
    every = run_cli("policy", "match", "--as-of", "2026-06-30", "--out", str(demo), data_dir=city)
    assert every.returncode == 0, every.stderr  # every demo policy; most read recognition dates,
    # which the synthetic city does not hold (待补充), so the contract is checked on GOOD
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "matches.csv"
    result = run_cli(
        "policy", "match", str(good), "--as-of", "2026-06-30", "--out", str(out), data_dir=city
    )
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["policy_id", "uscc", "eligible", "amount", "needs_data", "failed"]
    assert rows and all(r["eligible"] == "true" and r["failed"] == "" for r in rows)
    assert f"符合条件 {len(rows)} 项" in result.stdout
    first = rows[0]
    explained = run_cli(
        "policy",
        "explain",
        str(good),
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
    result, table = _match_all(city, out, "demo-ai-genai-filing-reward")
    assert len(table) == DEMO_ENTERPRISES
    assert f"符合条件 {sum(r['eligible'] for r in table)} 项" in result.stdout
    failing = [r for r in table if not r["eligible"]]
    assert failing and all(r["failed"] for r in failing)
    assert "ai" in {f for r in failing for f in r["failed"].split(";")}
    outside = tmp_path / "outside.csv"
    run_cli(
        "policy",
        "match",
        "demo-ai-genai-filing-reward",
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
        "demo-rd-subsidy",
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
    unknown = run_cli("policy", "simulate", "demo-rd-subsidy", "--set", "nope=1", data_dir=city)
    assert unknown.returncode == 2 and "没有参数 nope" in unknown.stderr


# --- the product's engine against the portable path -------------------------------------------


def _sql_decisions(city: Path, policies: list[Policy], as_of: dt.date) -> list[dict[str, Any]]:
    """Every decision of ``policies`` through the portable path (Ibis-compiled SQL in DuckDB,
    over the registry as of the date, with the history calls the policies make), for
    comparison with the product's engine."""
    context = RegistryContext.from_settings(_settings(city))
    held = Population.of(context, as_of).sql()
    held.prepare(policies)
    union = " UNION ALL ".join(f"({decisions_sql(p, True, as_of)})" for p in policies)
    return held.con.execute(f"{union} ORDER BY policy_id, uscc").to_arrow_table().to_pylist()


def _matched_all(city: Path, out: Path, *policies: str) -> list[dict[str, Any]]:
    return _match_all(city, out, *policies)[1]


def _match_all(
    city: Path, out: Path, *policies: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``chanye policy match --all`` as a process: what it said and the rows it wrote."""
    result = run_cli(
        "policy",
        "match",
        *policies,
        "--all",
        "--as-of",
        "2026-06-30",
        "--out",
        str(out),
        data_dir=city,
    )
    assert result.returncode == 0, result.stderr
    return result, pq.read_table(out).to_pylist()


def _settings(city: Path) -> Settings:
    return Settings(data_dir=city, database_url=f"sqlite:///{city / 'chanye.db'}")


def _rounded(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["policy_id"],
            r["uscc"],
            r["eligible"],
            None if r["amount"] is None else round(r["amount"], 2),
            r["failed"],
        )
        for r in rows
    ]


def test_match_agrees_with_the_portable_sql_path_on_the_demo_city(
    tmp_path: Path, city: Path
) -> None:
    """Every demo policy (history functions and the kinds held on the date among them), and
    GOOD, which pays enterprises of the demo city: the SQL path sees the registry as of the date
    as the columnar engine does."""
    good = tmp_path / "good.yaml"
    good.write_text(GOOD.replace("id: demo-rd-subsidy", "id: good-rd-reward"), encoding="utf-8")
    demo = demo_policies()
    assert any(any(map(HistoryField.parse, p.fields_read())) for p in demo)
    found = _matched_all(city, tmp_path / "all.parquet", str(good), *(p.id for p in demo))
    policies = [load_policy_text(good.read_text(encoding="utf-8"), good.name), *demo]
    expected = _sql_decisions(city, policies, dt.date(2026, 6, 30))
    assert len(found) == len(policies) * DEMO_ENTERPRISES
    assert sum(r["eligible"] for r in found) > 0
    assert _rounded(found) == _rounded(expected)


def test_the_shipped_and_the_benchmark_policies_run_on_the_columnar_engine(city: Path) -> None:
    from benchmarks.policy.generate import generate_policies, to_policy_yaml

    context = RegistryContext.from_settings(_settings(city))
    population = Population.of(context, dt.date(2026, 6, 30))
    generated = [
        load_policy_text(to_policy_yaml(p), f"{p.id}.yaml") for p in generate_policies(100, 1)
    ]
    for policy in [*demo_policies(), *generated]:
        columnar.eligible_rows(population.columns([policy]), policy)  # raises Unsupported if not


def test_a_policy_the_columnar_engine_cannot_run_is_matched_through_sql(
    tmp_path: Path, city: Path
) -> None:
    text = GOOD.replace(
        'enterprise.status == "active"', "enterprise.district_code != enterprise.industry_code"
    )
    assert text != GOOD
    path = tmp_path / "two-text-fields.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy_text(text, path.name)
    population = Population.of(RegistryContext.from_settings(_settings(city)), dt.date(2026, 6, 30))
    with pytest.raises(columnar.Unsupported):
        columnar.eligible_rows(population.columns([policy]), policy)
    found = _matched_all(city, tmp_path / "fallback.parquet", str(path))
    assert sum(r["eligible"] for r in found) > 0
    assert _rounded(found) == _rounded(_sql_decisions(city, [policy], dt.date(2026, 6, 30)))


def test_check_refuses_one_id_in_two_files_and_one_cap_group_with_two_caps(
    tmp_path: Path, city: Path
) -> None:
    first, second, third = (tmp_path / f"{n}.yaml" for n in ("first", "second", "third"))
    capped = GOOD.replace(
        "conditions:", "cap_group: {id: innovation, cap: 10000000.0}\nconditions:"
    )
    first.write_text(capped, encoding="utf-8")
    second.write_text(capped, encoding="utf-8")
    third.write_text(
        capped.replace("id: demo-rd-subsidy", "id: other-reward").replace(
            "cap: 10000000.0", "cap: 5000000.0"
        ),
        encoding="utf-8",
    )
    result = run_cli("policy", "check", str(first), str(second), str(third), data_dir=city)
    assert result.returncode == 1
    assert f"{second}: 政策 id demo-rd-subsidy 已在 {first} 中使用" in result.stderr
    assert f"{third}: cap_group innovation 的上限 500万元 与 {first} 中的 1000万元 不同" in (
        result.stderr
    )
    assert run_cli("policy", "check", str(first), data_dir=city).returncode == 0
    out = tmp_path / "m.csv"
    matched = run_cli("policy", "match", str(first), str(third), "--out", str(out), data_dir=city)
    assert matched.returncode == 1 and "同一组只能有一个上限" in matched.stderr
    assert not out.exists()


def test_a_policy_not_in_force_says_why_it_matches_nobody(tmp_path: Path, city: Path) -> None:
    expired = tmp_path / "expired.yaml"
    expired.write_text(
        GOOD.replace("{from: 2025-01-01, to: 2027-12-31}", "{from: 2020-01-01, to: 2021-12-31}"),
        encoding="utf-8",
    )
    said = "政策 demo-rd-subsidy（研发投入后补助）在 2026-06-30 已失效（有效期 2020-01-01 至 2021-12-31）"
    near = run_cli("policy", "near", str(expired), "--as-of", "2026-06-30", "--json", data_dir=city)
    assert near.returncode == 0 and said in near.stderr
    assert json.loads(near.stdout) == []  # nobody is near what the policy would not pay
    out = tmp_path / "m.csv"
    matched = run_cli(
        "policy", "match", str(expired), "--as-of", "2026-06-30", "--out", str(out), data_dir=city
    )
    assert matched.returncode == 0 and said in matched.stderr and "符合条件 0 项" in matched.stdout
    early = run_cli("policy", "near", str(expired), "--as-of", "2019-06-30", data_dir=city)
    assert "在 2019-06-30 尚未施行" in early.stderr
    in_force = run_cli("policy", "near", "demo-rd-subsidy", "--as-of", "2026-06-30", data_dir=city)
    assert "有效期" not in in_force.stderr
    far = tmp_path / "far.yaml"  # nobody reaches 5000亿: each is short of it by an amount
    far.write_text(
        GOOD.replace("id: demo-rd-subsidy", "id: far-off").replace(
            "min_revenue: 20000000.0", "min_revenue: 500000000000.0"
        ),
        encoding="utf-8",
    )
    short = run_cli("policy", "near", str(far), "--as-of", "2026-06-30", data_dir=city)
    assert "亿元" in short.stdout  # how far off, as people read money


def test_payout_says_what_would_actually_be_paid(city: Path, tmp_path: Path) -> None:
    result = run_cli("policy", "payout", "--json", "--as-of", "2026-06-30", data_dir=city)
    assert result.returncode == 0, result.stderr
    found = {p["policy_id"]: p for p in json.loads(result.stdout)}
    assert set(found) == {p.id for p in demo_policies()}
    matched = _matched_all(city, tmp_path / "all.parquet")
    for policy_id, payout in found.items():
        mine = [r for r in matched if r["policy_id"] == policy_id]
        assert payout["eligible"] == sum(r["eligible"] for r in mine), policy_id
        assert payout["needs_data"] == sum(r["needs_data"] for r in mine), policy_id
        assert payout["payable_total"] <= payout["formula_total"] + 0.01, policy_id
    assert found["demo-tech-upgrade-equipment"]["needs_data"] > 0  # 快申: until it is applied for
    shown = run_cli("policy", "payout", "--as-of", "2026-06-30", data_dir=city)
    assert "实际应付合计" in shown.stdout and "待补充" in shown.stdout
