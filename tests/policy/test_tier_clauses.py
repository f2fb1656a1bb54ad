"""A tiered clause of a real document (分档奖励), encoded as a tier table and run as users run it:
``chanye policy match``, ``explain``, ``simulate`` and ``check`` as processes over a registry
with yearly 工业总产值, enterprises placed just below, at and above each band's edge.

The clause: 《增城区服务工业企业高质量发展二十条措施》（增府办规〔2023〕3号，广州市增城区人民政府办公室
2023年3月30日印发）第一条第（二）项第1目 — 对年产值首次达到5亿元、10亿元、30亿元、50亿元、100亿元
的工业企业，分别给予5万元、10万元、30万元、50万元、100万元奖励 (paraphrased; the measure goes on
to 300亿元 and 500亿元, bands left out here: no enterprise of the test is that large).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from chanye.policy.explain import explain_record
from chanye.policy.loader import load_policy_text
from tests.conftest import run_cli
from tests.policy.files import refusal
from tests.registry.factory import arrange_registry, row, uscc, write_csv

# 工业总产值 by year, 万元. Each reached its 2024 band for the first time, except 9 (already in
# the 10亿 band in 2022) and 11 (no figure before 2024: whether it is the first time is unknown).
OUTPUT = {
    1: {2023: 40000, 2024: 49999},  # just below 5亿
    2: {2023: 40000, 2024: 50000},  # at 5亿
    3: {2023: 40000, 2024: 50001},  # just above 5亿
    4: {2023: 40000, 2024: 99999},  # just below 10亿
    5: {2023: 40000, 2024: 100000},  # at 10亿
    6: {2023: 40000, 2024: 123000},  # 12.3亿
    7: {2023: 40000, 2024: 999999},  # just below 100亿
    8: {2023: 40000, 2024: 1000000},  # at 100亿, the top band
    9: {2022: 120000, 2023: 110000, 2024: 250000},  # 12亿 before: still the 10亿 band
    10: {2022: 120000, 2023: 110000, 2024: 300000},  # 30亿 for the first time
    11: {2024: 60000},
}
PAID = {
    2: 50_000.0,
    3: 50_000.0,
    4: 50_000.0,
    5: 100_000.0,
    6: 100_000.0,
    7: 500_000.0,
    8: 1_000_000.0,
    10: 300_000.0,
}
HEAD = """id: zengcheng-output-bands
title: 工业企业规模提升奖励
issuer: 广州市增城区人民政府办公室
document: 增府办规〔2023〕3号
valid: {from: 2025-01-01, to: 2027-12-31}
parameters:
  output_bands:  # 年产值首次达到5亿元、10亿元、30亿元、50亿元、100亿元
"""
BANDS = """\
    - {from: 500000000, amount: 50000}        # 5亿元：5万元
    - {from: 1000000000, amount: 100000}      # 10亿元：10万元
    - {from: 3000000000, amount: 300000}      # 30亿元：30万元
    - {from: 5000000000, amount: 500000}      # 50亿元：50万元
    - {from: 10000000000, amount: 1000000}    # 100亿元：100万元
"""
TAIL = """conditions:
  - id: first-band
    text: 年产值首次达到5亿元、10亿元、30亿元、50亿元或100亿元（第一条第（二）项第1目）
    when: tier(enterprise.output_value, params.output_bands) > tier(peak_before(enterprise.output_value), params.output_bands)
benefit:
  # 分别给予5万元、10万元、30万元、50万元、100万元奖励
  amount: tier(enterprise.output_value, params.output_bands)
"""
POLICY = HEAD + BANDS + TAIL
AS_OF = ("--as-of", "2025-06-30")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiers")
    data = folder / "d"
    listing = write_csv(folder / "list.csv", [row(n) for n in OUTPUT])
    years = sorted({y for figures in OUTPUT.values() for y in figures})
    annual = folder / "annual.csv"
    annual.write_text(
        "统一社会信用代码,"
        + ",".join(f"{y}年工业总产值（万元）" for y in years)
        + "\n"
        + "".join(
            f"{uscc(n)}," + ",".join(str(figures.get(y, "")) for y in years) + "\n"
            for n, figures in OUTPUT.items()
        ),
        encoding="utf-8",
    )
    arrange_registry(data, listing, annual)
    return data


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "zengcheng-output-bands.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_each_band_pays_its_amount_from_its_edge_on(
    city: Path, policy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    result = run_cli("policy", "match", str(policy), *AS_OF, "--out", str(out), data_dir=city)
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        paid = {r["uscc"]: float(r["amount"]) for r in csv.DictReader(handle)}
    assert paid == {uscc(n): amount for n, amount in PAID.items()}


def test_the_explanation_names_the_band_in_wan_yuan(city: Path, policy: Path) -> None:
    shown = run_cli("policy", "explain", str(policy), uscc(6), *AS_OF, data_dir=city)
    assert shown.returncode == 0, shown.stderr
    assert "工业总产值 12.3亿元 落在“10亿元以上”档，奖励 10万元" in shown.stdout
    waiting = json.loads(
        run_cli("policy", "explain", str(policy), uscc(11), *AS_OF, "--json", data_dir=city).stdout
    )
    assert waiting["needs_data"] is True and waiting["amount"] is None  # no year before 2024


def test_simulate_changes_one_band(city: Path, policy: Path) -> None:
    result = run_cli(
        "policy",
        "simulate",
        str(policy),
        "--set",
        "output_bands.2.amount=20万",
        *AS_OF,
        "--json",
        data_dir=city,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["before"] == {"eligible": 8, "total_amount": sum(PAID.values())}
    # 5 and 6 are in the 10亿 band: 10万 more each.
    assert found["after"] == {"eligible": 8, "total_amount": sum(PAID.values()) + 200_000.0}


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("output_bands.2.from=40亿", "参数 output_bands 第 3 档：起点须大于上一档"),
        ("output_bands=5", "分档表 output_bands 共 5 档，请逐档修改"),
        ("output_bands.6.amount=1万", "如 --set output_bands.5.amount=60万"),
    ],
)
def test_simulate_refuses_a_table_it_cannot_change(
    city: Path, policy: Path, setting: str, said: str
) -> None:
    result = run_cli("policy", "simulate", str(policy), "--set", setting, *AS_OF, data_dir=city)
    assert result.returncode == 2
    assert said in result.stderr


def _checked(tmp_path: Path, bands: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + bands + TAIL, encoding="utf-8")
    return refusal(path)


@pytest.mark.parametrize(
    ("bands", "said"),
    [
        (  # the third band repeats the second's start
            "    - {from: 500000000, amount: 50000}\n"
            "    - {from: 1000000000, amount: 100000}\n"
            "    - {from: 1000000000, amount: 300000}\n",
            "bad.yaml:10:14: 参数 output_bands 第 3 档：起点须大于上一档"
            "（第 2 档起点 1,000,000,000，此处 1,000,000,000）",
        ),
        (  # written from the top down
            "    - {from: 3000000000, amount: 300000}\n    - {from: 500000000, amount: 50000}\n",
            "参数 output_bands 第 2 档：起点须大于上一档（第 1 档起点 3,000,000,000，此处 500,000,000）",
        ),
        (
            "    - {from: 5亿, amount: 50000}\n",
            "参数 output_bands 第 1 档 from 的取值 5亿：金额请写成以元为单位的数：500000000.0",
        ),
        (
            "    - {from: 500000000, amount: 50000}\n    - {from: 1000000000}\n",
            "参数 output_bands 第 2 档须有 from（起点，含本数）和 amount（金额）或 rate（比例）之一",
        ),
        (
            "    - {from: 500000000, amount: 50000}\n    - {from: 1000000000, rate: 0.01}\n",
            "参数 output_bands：各档须同用 amount（金额）或同用 rate（比例），不能混用",
        ),
    ],
)
def test_check_refuses_a_bad_table_naming_the_parameter_and_band(
    tmp_path: Path, bands: str, said: str
) -> None:
    assert said in _checked(tmp_path, bands)


def test_check_says_how_to_read_a_tier_table(tmp_path: Path) -> None:
    path = tmp_path / "misread.yaml"
    path.write_text(
        POLICY.replace(
            "tier(enterprise.output_value, params.output_bands) > tier(",
            "params.output_bands > 0.0 && tier(enterprise.name, params.output_bands) > tier(",
        ).replace(
            "amount: tier(enterprise.output_value, params.output_bands)",
            "amount: tier(enterprise.output_value, 50000.0)",
        ),
        encoding="utf-8",
    )
    result = run_cli("policy", "check", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 1
    assert "参数 output_bands 是分档表，请用 tier() 读取其中一档" in result.stderr
    assert (
        "tier() 的第一个参数须为数值（如 enterprise.output_value），此处是 string" in result.stderr
    )
    assert "tier() 的第二个参数须为分档表参数（已定义的分档表：output_bands）" in result.stderr


def test_the_documented_example_is_a_valid_policy(tmp_path: Path) -> None:
    """docs/policy-file.md "Tiers": its example, with the keys every file has, passes check."""
    docs = (Path(__file__).parents[2] / "docs" / "policy-file.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Tiers (分档)") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    example = section[start : section.index("```\n", start)]
    path = tmp_path / "example.yaml"
    path.write_text(HEAD.split("parameters:")[0] + example, encoding="utf-8")
    result = run_cli("policy", "check", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr


def test_a_rate_table_is_explained_as_a_rate() -> None:
    """按营业收入分档给予比例奖励: the band's rate, shown in percent."""
    policy = load_policy_text(
        HEAD.split("parameters:")[0]
        + """parameters:
  rates:
    - {from: 100000000, rate: 0.01}
    - {from: 1000000000, rate: 0.005}
conditions:
  - id: revenue
    when: enterprise.revenue >= 100000000.0
benefit:
  amount: enterprise.revenue * tier(enterprise.revenue, params.rates)
""",
        "rates.yaml",
    )
    explained = explain_record(policy, {"revenue": 2.5e8}, "U1", dt.date(2025, 6, 30))
    assert explained.amount == pytest.approx(2_500_000.0)
    assert explained.arithmetic is not None
    assert "营业收入 2.5亿元 落在“1亿元以上”档，比例 1.00%" in explained.arithmetic
