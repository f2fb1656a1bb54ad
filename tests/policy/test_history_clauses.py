"""Clauses of real subsidy documents that read an enterprise's past, each encoded as the policy
office would write it (paraphrased, numbers real), run as users run them (``chanye policy match``
and ``explain`` as processes) over a registry with yearly figures and dated qualifications."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.registry.factory import arrange_registry, row, uscc, write_csv

# Enterprise 1 grew 20% and 25%; 2 grew 20% then 10%; 3 first passed 5亿 in 2024, 4 had passed it
# in 2021 and fallen back; 5 has no figures before 2024.
ANNUAL = {
    1: {2022: 10000, 2023: 12000, 2024: 15000},
    2: {2022: 10000, 2023: 12000, 2024: 13200},
    3: {2021: 30000, 2022: 38000, 2023: 45000, 2024: 52000},
    4: {2021: 55000, 2022: 48000, 2023: 47000, 2024: 53000},
    5: {2024: 60000},
}
QUALIFICATIONS = [
    (1, "高新技术企业", "2024-12-01"),  # first recognised in 2024
    (2, "高新技术企业", "2021-11-20"),
    (2, "高新技术企业", "2024-11-20"),  # recognised again in 2024
    (3, "规上企业", "2023-01-01"),  # entered the 规上 statistics in 2023
    (4, "规上企业", "2015-01-01"),
]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    data = folder / "d"
    listing = write_csv(folder / "list.csv", [row(n) for n in ANNUAL])
    years = sorted({y for figures in ANNUAL.values() for y in figures})
    annual = folder / "annual.csv"
    annual.write_text(
        "统一社会信用代码,"
        + ",".join(f"{y}年营业收入（万元）" for y in years)
        + "\n"
        + "".join(
            f"{uscc(n)}," + ",".join(str(figures.get(y, "")) for y in years) + "\n"
            for n, figures in ANNUAL.items()
        ),
        encoding="utf-8",
    )
    dated = folder / "zizhi.csv"
    dated.write_text(
        "统一社会信用代码,资质,认定日期\n"
        + "".join(f"{uscc(n)},{kind},{day}\n" for n, kind, day in QUALIFICATIONS),
        encoding="utf-8",
    )
    arrange_registry(data, listing, annual, dated)
    return data


def _policy(folder: Path, name: str, conditions: str, amount: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"""id: {name}
title: 测试政策
issuer: 广州市工业和信息化局
valid: {{from: 2025-01-01, to: 2027-12-31}}
conditions:
{conditions}
benefit:
  amount: {amount}
""",
        encoding="utf-8",
    )
    return path  # ``match`` checks it as ``check`` does


def _paid(city: Path, policy: Path, tmp_path: Path) -> dict[str, float]:
    out = tmp_path / "out.csv"
    result = run_cli(
        "policy", "match", str(policy), "--as-of", "2025-06-30", "--out", str(out), data_dir=city
    )
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        return {r["uscc"]: float(r["amount"]) for r in csv.DictReader(handle)}


def test_growth_in_each_of_two_consecutive_years(city: Path, tmp_path: Path) -> None:
    """广州市促进工业和信息化产业高质量发展若干政策措施：营业收入连续两年增长15%以上的企业，奖励50万元."""
    policy = _policy(
        tmp_path,
        "growth-two-years",
        """  - id: growth
    text: 营业收入连续两年增速均不低于15%
    when: growth(enterprise.revenue) >= 0.15 && growth(enterprise.revenue, 1) >= 0.15""",
        "500000",
    )
    assert _paid(city, policy, tmp_path) == {uscc(1): 500_000.0, uscc(3): 500_000.0}
    explained = run_cli(
        "policy", "explain", str(policy), uscc(2), "--as-of", "2025-06-30", "--json", data_dir=city
    )
    values = json.loads(explained.stdout)["conditions"][0]["values"]
    assert values["growth:revenue:0"] == pytest.approx(0.1)
    assert values["growth:revenue:1"] == pytest.approx(0.2)
    text = run_cli(
        "policy", "explain", str(policy), uscc(2), "--as-of", "2025-06-30", data_dir=city
    ).stdout
    assert "营业收入增速（最近年度）" in text and "营业收入增速（前1个年度）" in text


def test_reward_on_the_increment_over_the_prior_year(city: Path, tmp_path: Path) -> None:
    """对营业收入较上年增量部分按1%给予奖励，最高100万元."""
    policy = _policy(
        tmp_path,
        "increment",
        """  - id: grew
    text: 营业收入较上年增长
    when: enterprise.revenue > prior(enterprise.revenue)""",
        "min((enterprise.revenue - prior(enterprise.revenue)) * 0.01, 1000000)",
    )
    paid = _paid(city, policy, tmp_path)
    assert paid[uscc(1)] == pytest.approx(300_000.0)  # (1.5亿 − 1.2亿) × 1%
    assert paid[uscc(4)] == pytest.approx(600_000.0)
    assert uscc(5) not in paid  # no figure for the year before: waits for data, is not paid
    arithmetic = json.loads(
        run_cli(
            "policy",
            "explain",
            str(policy),
            uscc(1),
            "--as-of",
            "2025-06-30",
            "--json",
            data_dir=city,
        ).stdout
    )["arithmetic"]
    assert "前一年度营业收入[1.2亿元]" in arithmetic


def test_first_time_above_a_threshold(city: Path, tmp_path: Path) -> None:
    """营业收入首次突破5亿元的企业，一次性奖励100万元 (4 passed it before and is not paid again)."""
    policy = _policy(
        tmp_path,
        "first-above",
        """  - id: first-time
    text: 营业收入首次超过5亿元
    when: enterprise.revenue >= 500000000.0 && peak_before(enterprise.revenue) < 500000000.0""",
        "1000000",
    )
    assert set(_paid(city, policy, tmp_path)) == {uscc(3)}


def test_new_recognition_and_renewal_pay_different_amounts(city: Path, tmp_path: Path) -> None:
    """对首次认定的高新技术企业给予20万元奖励，重新认定的给予10万元（2024年度认定批次）."""
    first = _policy(
        tmp_path,
        "high-tech-first",
        """  - id: first
    text: 2024年度首次认定为高新技术企业
    when: first_recognised_between("high_tech", "2024-01-01", "2024-12-31")""",
        "200000",
    )
    again = _policy(
        tmp_path,
        "high-tech-renewed",
        """  - id: renewed
    text: 2024年度重新认定为高新技术企业
    when: renewed_between("high_tech", "2024-01-01", "2024-12-31")""",
        "100000",
    )
    assert _paid(city, first, tmp_path) == {uscc(1): 200_000.0}
    assert _paid(city, again, tmp_path) == {uscc(2): 100_000.0}


def test_within_years_of_first_entering_the_statistics(city: Path, tmp_path: Path) -> None:
    """首次纳入规上工业统计3年内的企业（新升规企业）."""
    policy = _policy(
        tmp_path,
        "new-above-scale",
        """  - id: new
    text: 首次纳入规模以上工业统计未满3年
    when: first_recognised_within("above_scale", 3)""",
        "100000",
    )
    assert set(_paid(city, policy, tmp_path)) == {uscc(3)}


def test_a_history_function_used_wrongly_is_refused_with_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """id: bad
title: 测试
issuer: 测试
valid: {from: 2025-01-01}
conditions:
  - id: c
    text: 测试
    when: growth(enterprise.name) > 0.1 && first_recognised_between("high_tech", "2024-12-31", "2024-01-01")
""",
        encoding="utf-8",
    )
    result = run_cli("policy", "check", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 1
    assert "growth() 的第一个参数为年度指标，如 growth(enterprise.revenue)" in result.stderr
    assert "截止日期早于起始日期" in result.stderr
