"""``--as-of`` is time-true: each enterprise as it stood on the day — founded by then, the
qualifications it held that day, the financials of the latest full year before it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.registry.factory import arrange_registry, row, uscc, write_csv

POLICY = """\
id: high-tech-revenue-reward
title: 高新技术企业营收奖励
issuer: 广州市工业和信息化局
valid: {from: 2020-01-01, to: 2027-12-31}
parameters: {min_revenue: 20000000}
conditions:
  - id: revenue
    text: 上年度营业收入不低于2000万元
    when: enterprise.revenue >= params.min_revenue
  - id: high-tech
    text: 有效期内的高新技术企业
    when: '"high_tech" in enterprise.tags'
benefit:
  amount: 100000
"""


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three enterprises, all listed today with 5000万 revenue and the 高新技术企业 tag; the
    third founded in 2025. Yearly figures and dated qualifications for the first two."""
    tmp_path = tmp_path_factory.mktemp("as-of")
    data = tmp_path / "d"
    listing = write_csv(
        tmp_path / "list.csv", [row(1), row(2), row(3, **{"成立日期": "2025-06-01"})]
    )
    annual = tmp_path / "annual.csv"
    annual.write_text(
        "统一社会信用代码,2023年营业收入（万元）,2024年营业收入（万元）\n"
        f"{uscc(1)},1000,3000\n{uscc(2)},3000,1000\n",
        encoding="utf-8",
    )
    dated = tmp_path / "zizhi.csv"
    dated.write_text(
        "统一社会信用代码,资质,认定日期,有效期至\n"
        f"{uscc(1)},高新技术企业,2019-01-01,2021-12-31\n"
        f"{uscc(1)},高新技术企业,2024-03-01,\n"
        f"{uscc(2)},高新技术企业,2020-01-01,\n",
        encoding="utf-8",
    )
    arrange_registry(data, listing, annual, dated)
    return data


def _eligible(city: Path, policy: Path, day: str, out: Path) -> set[str]:
    result = run_cli(
        "policy", "match", str(policy), "--as-of", day, "--out", str(out), data_dir=city
    )
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        return {r["uscc"] for r in csv.DictReader(handle) if r["eligible"] == "true"}


def test_each_day_sees_the_registry_as_it_stood(tmp_path: Path, city: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    out = tmp_path / "out.csv"
    # Mid-2024: the latest full year is 2023. The first had 1000万; the second had 3000万 but
    # its recognition of 2020 ran out in 2022; the third did not exist yet.
    assert _eligible(city, policy, "2024-06-30", out) == set()
    # Mid-2025: the first's 2024 figure is 3000万 and it was recognised again in 2024; the
    # second fell to 1000万; the third exists and holds its listed figure and undated tag.
    assert _eligible(city, policy, "2025-06-30", out) == {uscc(1), uscc(3)}
    # Early 2021: no yearly figure before 2021 is held for the first two, so their revenue is
    # unknown then (they wait for data), never today's figure.
    assert _eligible(city, policy, "2021-03-01", out) == set()


def test_explain_reads_the_figure_of_the_day(tmp_path: Path, city: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    checked = run_cli("policy", "check", str(policy), data_dir=city)
    assert checked.returncode == 0, checked.stderr
    for day, revenue in (("2024-06-30", 10_000_000.0), ("2025-06-30", 30_000_000.0)):
        explained = run_cli(
            "policy", "explain", str(policy), uscc(1), "--as-of", day, "--json", data_dir=city
        )
        assert explained.returncode == 0, explained.stderr
        decision = json.loads(explained.stdout)
        assert decision["conditions"][0]["values"]["revenue"] == revenue
    early = run_cli(
        "policy", "explain", str(policy), uscc(2), "--as-of", "2023-06-30", "--json", data_dir=city
    )
    held = json.loads(early.stdout)["conditions"][1]
    assert held["values"]["tags"] == [] and held["outcome"] == "fails"  # expired in 2022


def test_an_enterprise_founded_later_is_explained_as_not_yet_founded(
    tmp_path: Path, city: Path
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    explained = run_cli(
        "policy", "explain", str(policy), uscc(3), "--as-of", "2024-06-30", data_dir=city
    )
    assert explained.returncode == 0, explained.stderr
    assert "不符合" in explained.stdout
    assert "该企业成立于 2025-06-01，截至 2024-06-30 尚未成立" in explained.stdout
