"""The demo policies through chanye's own engine (``chanye policy match`` as a process), over a
small registry with dated qualifications: the history and recognition clauses the standalone test
evaluates with its own functions pay here whom they should, at the amounts the documents give."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.registry.factory import arrange_registry, row, uscc, write_csv

AS_OF = "2026-06-30"
# n → the listing's columns that differ from the factory's row (天河区, 3841 电池制造, no tags)
LISTING: dict[int, dict[str, str]] = {
    1: {"营业收入（万元）": "80000", "研发费用（万元）": "6000"},  # 高企 first recognised in 2025
    2: {},  # 高企 recognised in 2022 and again in 2025
    3: {},  # 规上 first in 2024
    4: {"所属区": "南沙区"},  # 规上 first in 2024, in 南沙
    5: {},  # 规上 first in 2023, 专精特新 in 2024
    6: {},  # 小巨人 newly recognised after 2025-08-23
    7: {},  # 单项冠军 newly recognised after 2025-08-23
    8: {"企业标签": "高新技术企业"},  # an undated 高企 tag; 四上 first in 2024
    9: {
        "所属区": "海珠区",
        "行业代码": "6513",
        "经营范围": "人工智能大模型、智能算法的研发与应用服务",
    },  # 规上 since 2019, 生成式人工智能备案 in 2025
    10: {
        "行业代码": "3741",
        "经营范围": "工业级无人机、电动垂直起降航空器的研发与制造",
    },  # 总部企业 since 2024, in the low-altitude cluster
    11: {"营业收入（万元）": "80000", "研发费用（万元）": "300"},  # 小巨人 since 2022, renewed 2025
    12: {"所属区": "南沙区"},  # 规上 since 2020; 工业总产值 first above 10亿元 in 2025
    13: {"所属区": "南沙区"},  # 规上 since 2020; above 10亿元 since 2023
}
# 工业总产值 (万元) of 12 and 13, the years before AS_OF's.
OUTPUT = {
    12: {2023: 30000, 2024: 40000, 2025: 120000},
    13: {2023: 110000, 2024: 100000, 2025: 120000},
}
QUALIFICATIONS = [
    (1, "高新技术企业", "2025-12-01"),
    (2, "高新技术企业", "2022-11-01"),
    (2, "高新技术企业", "2025-11-01"),
    (3, "规上企业", "2024-01-01"),
    (4, "规上企业", "2024-03-01"),
    (5, "规上企业", "2023-02-01"),
    (5, "专精特新中小企业", "2024-06-01"),
    (6, "小巨人企业", "2025-09-10"),
    (7, "制造业单项冠军企业", "2025-11-01"),
    (8, "四上企业", "2024-03-01"),
    (9, "规上企业", "2019-01-01"),
    (9, "生成式人工智能服务备案", "2025-03-01"),
    (10, "总部企业", "2024-05-01"),
    (11, "小巨人企业", "2022-08-01"),
    (11, "小巨人企业", "2025-09-10"),
    (12, "规上企业", "2020-01-01"),
    (13, "规上企业", "2020-01-01"),
]
PAID = {
    ("demo-high-tech-reward", 1): 200_000.0,  # 首次认定
    ("demo-rd-subsidy", 1): 400_000.0,  # 研发费用6000万元：5000万—1亿元一档
    ("demo-high-tech-reward", 2): 100_000.0,  # 重新认定
    ("demo-above-scale-upgrade", 3): 50_000.0,
    ("demo-above-scale-upgrade", 4): 50_000.0,
    ("demo-major-platform-manufacturing", 4): 200_000.0,
    ("demo-specialized-sme-reward", 5): 50_000.0,
    ("demo-little-giant-reward", 6): 1_000_000.0,
    ("demo-single-champion-reward", 7): 1_500_000.0,
    ("demo-high-tech-four-above-reward", 8): 100_000.0,
    ("demo-ai-genai-filing-reward", 9): 1_000_000.0,
    ("demo-low-altitude-hq-reward", 10): 1_000_000.0,
    ("demo-output-breakthrough-reward", 12): 200_000.0,  # 产值12亿元，首次超过10亿元
}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-history")
    data = folder / "d"
    rows = [row(n, **{"企业标签": "", **changes}) for n, changes in LISTING.items()]
    listing = write_csv(folder / "list.csv", rows)
    dated = folder / "zizhi.csv"
    dated.write_text(
        "统一社会信用代码,资质,认定日期\n"
        + "".join(f"{uscc(n)},{kind},{day}\n" for n, kind, day in QUALIFICATIONS),
        encoding="utf-8",
    )
    annual = folder / "output.csv"
    annual.write_text(
        "统一社会信用代码,2023年工业总产值（万元）,2024年工业总产值（万元）,2025年工业总产值（万元）\n"
        + "".join(
            f"{uscc(n)}," + ",".join(str(figures[y]) for y in (2023, 2024, 2025)) + "\n"
            for n, figures in OUTPUT.items()
        ),
        encoding="utf-8",
    )
    arrange_registry(data, listing, dated, annual)
    return data


def test_the_demo_policies_pay_whom_their_clauses_name(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "paid.csv"
    result = run_cli("policy", "match", "--as-of", AS_OF, "--out", str(out), data_dir=city)
    assert result.returncode == 0, result.stderr
    number = {uscc(n): n for n in LISTING}
    with out.open(encoding="utf-8") as handle:
        paid = {
            (r["policy_id"], number[r["uscc"]]): float(r["amount"]) for r in csv.DictReader(handle)
        }
    assert paid == PAID


def test_an_undated_tag_leaves_a_recognition_clause_waiting_for_data(city: Path) -> None:
    """8 holds 高新技术企业 only by an undated tag: when it was recognised is not held."""
    explained = run_cli(
        "policy", "explain", "demo-high-tech-reward", uscc(8), "--as-of", AS_OF, data_dir=city
    )
    assert explained.returncode == 0, explained.stderr
    assert "待补充" in explained.stdout
