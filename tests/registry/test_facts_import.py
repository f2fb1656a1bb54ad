"""``chanye registry import`` of facts over time, as a process: annual figures (long and wide),
monthly 快报, qualifications; row-level reasons, --strict, revisions kept, undo and redo."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import run_cli
from tests.registry.factory import row, uscc, write_csv


@pytest.fixture(scope="module")
def imported_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose registry holds enterprises 1–3, imported once for the module;
    tests work on copies of it (``data_dir``) and never on it."""
    made = tmp_path_factory.mktemp("listed")
    data = made / "d"
    listing = write_csv(made / "list.csv", [row(1), row(2), row(3)])
    result = run_cli("registry", "import", str(listing), data_dir=data)
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def data_dir(tmp_path: Path, imported_list: Path) -> Path:
    """A registry holding enterprises 1–3: a copy of this test's own."""
    return Path(shutil.copytree(imported_list, tmp_path / "d"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _import(data_dir: Path, path: Path, *options: str) -> Any:
    return run_cli("registry", "import", str(path), *options, data_dir=data_dir)


def _shown(data_dir: Path, n: int) -> dict[str, Any]:
    result = run_cli("registry", "show", uscc(n), "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def _report(path: Path) -> list[list[str]]:
    with path.with_name(path.name + ".errors.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))[1:]


def test_annual_long_in_thousands_is_stored_in_yuan_and_bad_rows_are_named(
    tmp_path: Path, data_dir: Path
) -> None:
    path = _write(
        tmp_path / "annual.csv",
        "2023年规上工业企业主要指标（单位：千元）\n"
        "统一社会信用代码,年度,营业收入（千元）,利润总额（万元）,从业人员\n"
        f"{uscc(1)},2022,30000,200,100\n"
        f'{uscc(1)},2023年,"35,000",,110\n'
        f"{uscc(2)},2023,约500,1,10\n"
        f"{uscc(9)},2023,1,1,1\n"
        f"{uscc(1)},2023,1,1,1\n"
        f"{uscc(3)},2031,1,1,1\n"
        f"{uscc(3)[:-1]}X,2023,1,1,1\n"
        f"{uscc(3)},2022,-5,1,1\n"
        f"{uscc(3)},2023,100,-50,5\n",  # a loss is a negative 利润总额
    )
    result = _import(data_dir, path)
    assert result.returncode == 3, result.stderr
    assert "年度数据：新增 new 8 条" in result.stderr
    reasons = {(r[0], r[1]): r[3] for r in _report(path)}
    assert reasons[("5", "营业收入（千元）")] == "应为数字"
    assert reasons[("6", "统一社会信用代码")].startswith("企业库中没有这家企业")
    assert reasons[("7", "统一社会信用代码")] == "与第 4 行重复（同一企业、同一期间）"
    assert reasons[("8", "年度")] == "年度晚于今年"
    assert reasons[("9", "统一社会信用代码")].startswith("统一社会信用代码校验位错误")
    assert reasons[("10", "营业收入（千元）")] == "不能为负数"
    assert _shown(data_dir, 3)["history"]["profit"] == {"2023": -500_000.0}
    shown = _shown(data_dir, 1)
    assert shown["history"] == {
        "revenue": {"2022": 30_000_000.0, "2023": 35_000_000.0},
        "profit": {"2022": 2_000_000.0},
        "employees": {"2022": 100, "2023": 110},
    }
    # A rejected row is not imported at all, not even its valid cells.
    assert "employees" not in _shown(data_dir, 2)["history"]


def test_wide_layouts_carry_the_year_in_the_header_even_in_xlsx_with_a_title(
    tmp_path: Path, data_dir: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["广州市重点企业营业收入（2022—2024年）"])
    sheet.merge_cells("A1:E1")
    sheet.append(
        [
            "统一社会信用代码",
            "企业名称",
            "2022年营业收入（千元）",
            "营业收入2023年（万元）",
            "2024年度营业收入（亿元）",
        ]
    )
    sheet.append([uscc(2), "测试2", 1000, 150, 0.02])
    sheet.append([uscc(3), "测试3", None, 90, "3亿元"])
    path = tmp_path / "wide.xlsx"
    book.save(path)
    result = _import(data_dir, path)
    assert result.returncode == 0, result.stderr
    assert _shown(data_dir, 2)["history"]["revenue"] == {
        "2022": 1_000_000.0,
        "2023": 1_500_000.0,
        "2024": 2_000_000.0,
    }
    assert _shown(data_dir, 3)["history"]["revenue"] == {"2023": 900_000.0, "2024": 300_000_000.0}


def test_monthly_flash_reports_ytd_and_month_with_january_and_february_together(
    tmp_path: Path, data_dir: Path
) -> None:
    path = _write(
        tmp_path / "kuaibao.csv",
        "统一社会信用代码,期间,营业收入累计（千元）,本月工业总产值（万元）\n"
        f"{uscc(1)},2025年1-2月,2000,300\n"
        f"{uscc(1)},2025-03,3100,\n"
        f"{uscc(1)},2025年4月,4000,120\n"
        f"{uscc(2)},1-2月,1,1\n"
        f"{uscc(2)},2099年1月,1,1\n",
    )
    result = _import(data_dir, path)
    assert result.returncode == 3, result.stderr
    reasons = {r[0]: r[3] for r in _report(path)}
    assert reasons["5"].startswith("无法识别的期间") and "须写明年份" in reasons["5"]
    assert reasons["6"] == "期间晚于本月"
    monthly = _shown(data_dir, 1)["monthly"]
    # 1–2月 together is 累计 (February has no month of its own); March's month is derived.
    assert monthly["revenue"]["2025-02"] == {"month": None, "ytd": 2_000_000.0}
    assert monthly["revenue"]["2025-03"] == {"month": 1_100_000.0, "ytd": 3_100_000.0}
    assert monthly["output_value"]["2025-02"] == {"month": None, "ytd": 3_000_000.0}
    assert monthly["output_value"]["2025-04"] == {"month": 1_200_000.0, "ytd": None}


def test_qualifications_take_the_kinds_default_validity_and_name_unknown_kinds(
    tmp_path: Path, data_dir: Path
) -> None:
    path = _write(
        tmp_path / "zizhi.csv",
        "统一社会信用代码,资质,级别,认定日期,有效期至,证书编号\n"
        f"{uscc(1)},高新技术企业,国家级,2022-12-19,,GR202244001234\n"
        f"{uscc(1)},专精特新“小巨人”企业,国家级,2023/7/1,2026-06-30,\n"
        f"{uscc(2)},规上企业,,2021-01-01,,\n"
        f"{uscc(2)},外星企业,,2021-01-01,,\n"
        f"{uscc(3)},高企,省,2021-13-01,,\n"
        f"{uscc(3)},高企,部委级,2021-01-01,,\n"
        f"{uscc(3)},瞪羚企业,,2024-05-01,2023-05-01,\n",
    )
    result = _import(data_dir, path)
    assert result.returncode == 3, result.stderr
    reasons = {r[0]: r[3] for r in _report(path)}
    assert reasons["5"].startswith("未知的资质（可用：规上企业、高新技术企业")
    assert reasons["6"].startswith("无法识别的日期")
    assert reasons["7"].startswith("未知的级别")
    assert reasons["8"] == "有效期至早于认定日期"
    assert _shown(data_dir, 1)["qualifications"] == [
        {
            "kind": "high_tech",
            "level": "国家级",
            "recognised_on": "2022-12-19",
            "valid_until": "2025-12-18",  # three years, the kind's default
            "reference": "GR202244001234",
        },
        {
            "kind": "little_giant",
            "level": "国家级",
            "recognised_on": "2023-07-01",
            "valid_until": "2026-06-30",
            "reference": None,
        },
    ]
    held = _shown(data_dir, 2)["qualifications"]
    assert held == [
        {
            "kind": "above_scale",
            "level": None,
            "recognised_on": "2021-01-01",
            "valid_until": None,  # 规上 lasts until the enterprise leaves the statistics
            "reference": None,
        }
    ]


def test_strict_imports_no_fact_when_one_row_is_bad(tmp_path: Path, data_dir: Path) -> None:
    path = _write(
        tmp_path / "annual.csv",
        f"统一社会信用代码,年度,营业收入\n{uscc(1)},2023,100\n{uscc(2)},二〇二三,100\n",
    )
    result = _import(data_dir, path, "--strict")
    assert result.returncode == 3 and "nothing imported" in result.stderr
    assert _shown(data_dir, 1)["history"] == {}


def test_kind_can_be_forced_and_a_file_without_years_says_what_it_lacks(
    tmp_path: Path, data_dir: Path
) -> None:
    path = _write(tmp_path / "f.csv", f"统一社会信用代码,营业收入\n{uscc(1)},100\n")
    result = _import(data_dir, path, "--kind", "annual")
    assert result.returncode == 2
    assert "找不到表头" in result.stderr and "“年度”" in result.stderr
    unknown = _import(data_dir, path, "--kind", "yearly")
    assert unknown.returncode == 1 and "未知的文件类别" in unknown.stderr
    changes = json.loads(run_cli("registry", "imports", "--json", data_dir=data_dir).stdout)
    assert changes[0]["content"] == "list"


def test_a_revision_keeps_the_first_figure_and_undo_and_redo_bring_each_back(
    tmp_path: Path, data_dir: Path
) -> None:
    first = _write(
        tmp_path / "a.csv", f"统一社会信用代码,年度,营业收入（万元）\n{uscc(1)},2023,3500\n"
    )
    assert _import(data_dir, first).returncode == 0
    revised = _write(
        tmp_path / "b.csv", f"统一社会信用代码,年度,营业收入（万元）\n{uscc(1)},2023,3600\n"
    )
    result = _import(data_dir, revised)
    assert "修订 revised 1 条" in result.stderr
    changes = json.loads(run_cli("registry", "imports", "--json", data_dir=data_dir).stdout)
    first_id, revision_id = (c["id"] for c in changes[-2:])
    assert [c["content"] for c in changes[-2:]] == ["annual", "annual"]
    shown = _shown(data_dir, 1)
    assert shown["history"]["revenue"] == {"2023": 36_000_000.0}
    assert shown["revisions"] == [
        {
            "indicator": "revenue",
            "period": "2023",
            "measure": "year",
            "value": 35_000_000.0,
            "change_id": first_id,
            "replaced_by": revision_id,
        }
    ]
    undo = run_cli("registry", "rollback", str(revision_id), "--yes", data_dir=data_dir)
    assert undo.returncode == 0, undo.stderr
    assert "移除 1 条历年数据、快报或资质" in undo.stdout + undo.stderr
    assert _shown(data_dir, 1)["history"]["revenue"] == {"2023": 35_000_000.0}
    undo_id = json.loads(run_cli("registry", "imports", "--json", data_dir=data_dir).stdout)[-1][
        "id"
    ]
    redo = run_cli("registry", "rollback", str(undo_id), "--yes", data_dir=data_dir)
    assert redo.returncode == 0, redo.stderr
    assert _shown(data_dir, 1)["history"]["revenue"] == {"2023": 36_000_000.0}
