"""``chanye registry import / imports / rollback`` as processes: exit codes, reports, undo."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import run_cli
from tests.registry.factory import row, uscc, write_csv


def registry_json(data_dir: Path, *args: str) -> object:
    result = run_cli("registry", *args, "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_all_valid_exits_0_and_the_enterprise_can_be_shown(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ok.csv", [row(1), row(2)])
    result = run_cli("registry", "import", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert "2 合格 valid, 0 不合格 rejected" in result.stderr
    assert not (tmp_path / "ok.csv.errors.csv").exists()
    shown = registry_json(tmp_path / "d", "show", uscc(1))
    assert isinstance(shown, dict)
    assert shown["revenue"] == 50_000_000.0 and shown["district_code"] == "440106"
    assert shown["clusters"] == ["icv-nev"] and "icv-nev-battery" in shown["chain_links"]
    assert {"uscc", "name", "tags", "status", "evidence", "chain_links"} <= set(shown)


def test_some_rows_rejected_exits_3_imports_the_rest_and_writes_the_report(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv", [row(1), row(2, **{"营业收入（万元）": "约500"}), row(3)]
    )
    result = run_cli("registry", "import", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 3
    assert "营业收入（万元）" in result.stderr and "应为数字" in result.stderr
    with (tmp_path / "mixed.csv.errors.csv").open(encoding="utf-8-sig") as handle:
        report = list(csv.reader(handle))
    assert report[0] == ["行号 row", "列 column", "值 value", "原因", "reason"]
    assert report[1] == ["3", "营业收入（万元）", "约500", "应为数字", "not a number"]
    stats = registry_json(tmp_path / "d", "stats")
    assert isinstance(stats, dict) and stats["total"] == 2  # nothing lost: 2 imported + 1 reported


def test_strict_imports_nothing_when_a_row_is_bad(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "mixed.csv", [row(1), row(2, **{"所属区": "火星区"})])
    result = run_cli("registry", "import", "--strict", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 3
    assert "nothing imported" in result.stderr
    stats = registry_json(tmp_path / "d", "stats")
    assert isinstance(stats, dict) and stats["total"] == 0


def test_unreadable_file_exits_2_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run_cli("registry", "import", str(path), data_dir=tmp_path / "d")
    assert result.returncode == 2
    assert "找不到表头" in result.stderr and "nothing imported" in result.stderr


def test_upsert_keeps_what_an_update_file_does_not_carry(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli(
        "registry", "import", str(write_csv(tmp_path / "a.csv", [row(1), row(2)])), data_dir=data
    )
    update = write_csv(
        tmp_path / "b.csv",
        [[uscc(1), "广州测试1号科技有限公司", "8000", ""], [uscc(3), "广州新公司", "1", "99"]],
        headers=["统一社会信用代码", "企业名称", "营业收入（万元）", "从业人员"],
    )
    result = run_cli("registry", "import", str(update), data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "新增 inserted 1, 更新 updated 1" in result.stderr
    first = registry_json(data, "show", uscc(1))
    assert isinstance(first, dict)
    assert first["revenue"] == 80_000_000.0
    assert first["employees"] == 120  # empty cell: the value already held is kept
    assert first["business_scope"].startswith("动力电池")  # column absent: kept
    new = registry_json(data, "show", uscc(3))
    assert isinstance(new, dict) and new["status"] == "active" and new["tags"] == []


def test_imports_are_listed_and_can_be_rolled_back(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli(
        "registry", "import", str(write_csv(tmp_path / "a.csv", [row(1), row(2)])), data_dir=data
    )
    run_cli(
        "registry",
        "import",
        str(write_csv(tmp_path / "b.csv", [row(2, **{"营业收入（万元）": "1"}), row(3)])),
        data_dir=data,
    )
    history = registry_json(data, "imports")
    assert isinstance(history, list)
    assert [(h["id"], h["kind"], h["status"], h["actor"]) for h in history] == [
        (1, "import", "done", "cli"),
        (2, "import", "done", "cli"),
    ]
    assert history[1]["inserted"] == 1 and history[1]["updated"] == 1
    result = run_cli("registry", "rollback", "2", "--yes", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert run_cli("registry", "show", uscc(3), data_dir=data).returncode == 1
    second = registry_json(data, "show", uscc(2))
    assert isinstance(second, dict) and second["revenue"] == 50_000_000.0
    history = registry_json(data, "imports")
    assert isinstance(history, list)
    assert [h["status"] for h in history] == ["done", "rolled_back", "done"] and history[2][
        "undoes"
    ] == 2
    again = run_cli("registry", "rollback", "2", "--yes", data_dir=data)
    assert again.returncode == 1 and "rolled_back" in again.stderr


def test_rolling_back_an_early_import_undoes_the_later_ones(tmp_path: Path) -> None:
    data = tmp_path / "d"
    for n in (1, 2, 3):
        run_cli(
            "registry", "import", str(write_csv(tmp_path / f"{n}.csv", [row(n)])), data_dir=data
        )
    result = run_cli("registry", "rollback", "2", "--yes", data_dir=data)
    assert "2、3" in result.stdout
    stats = registry_json(data, "stats")
    assert isinstance(stats, dict) and stats["total"] == 1
