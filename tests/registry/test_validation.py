"""Every kind of bad input gets its message; the SQL USCC check agrees with python-stdnum."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from chanye.registry.reading import Column, SourceFile, read_source
from chanye.registry.validation import USCC_ALPHABET, validate
from chanye.system.loader import load_default_system
from tests.registry.factory import row, uscc, write_csv

SYSTEM = load_default_system()


def check(
    tmp_path: Path, rows: list[list[str]], headers: list[str] | None = None
) -> tuple[list[tuple], list[tuple]]:
    path = write_csv(tmp_path / "in.csv", rows, **({"headers": headers} if headers else {}))
    con = duckdb.connect()
    validate(con, read_source(con, path), SYSTEM, path.parent)
    checked = con.execute("SELECT * FROM checked ORDER BY __row").fetchall()
    faults = con.execute(
        "SELECT row, column_header, value, reason_zh, reason_en FROM faults"
    ).fetchall()
    return checked, faults


CASES = [
    (
        {"统一社会信用代码": uscc(1)[:-1] + ("0" if uscc(1)[-1] != "0" else "1")},
        "统一社会信用代码",
        "校验位错误",
        "check character is wrong",
    ),
    ({"统一社会信用代码": "91440106ABC"}, "统一社会信用代码", "应为18位", "18 characters"),
    ({"统一社会信用代码": "9144010600000000IO"}, "统一社会信用代码", "不允许的字符", "not allowed"),
    ({"统一社会信用代码": ""}, "统一社会信用代码", "必填项为空", "required"),
    ({"企业名称": " "}, "企业名称", "必填项为空", "required"),
    ({"所属区": "火星区"}, "所属区", "未知的区", "unknown district"),
    ({"行业代码": "9999"}, "行业代码", "GB/T 4754-2017", "not a GB/T 4754-2017 industry code"),
    ({"成立日期": "2023-02-30"}, "成立日期", "无法识别的日期", "not a valid date"),
    ({"成立日期": "2999-01-01"}, "成立日期", "晚于今天", "future"),
    ({"营业收入（万元）": "约500"}, "营业收入（万元）", "应为数字", "not a number"),
    ({"营业收入（万元）": "-5"}, "营业收入（万元）", "不能为负数", "negative"),
    ({"从业人员": "12.5"}, "从业人员", "应为整数", "whole number"),
    ({"企业标签": "高新技术企业、外星企业"}, "企业标签", "外星企业", "unknown tag(s): 外星企业"),
    ({"登记状态": "冬眠"}, "登记状态", "未知的登记状态", "unknown status"),
]


@pytest.mark.parametrize(
    ("override", "column", "zh", "en"), CASES, ids=[c[1] + ":" + c[2] for c in CASES]
)
def test_each_bad_value_is_rejected_with_its_reason(
    tmp_path: Path, override: dict[str, str], column: str, zh: str, en: str
) -> None:
    checked, faults = check(tmp_path, [row(1), row(2, **override), row(3)])
    assert len(checked) == 2
    assert len(faults) == 1
    fault_row, fault_column, _, reason_zh, reason_en = faults[0]
    assert (fault_row, fault_column) == (3, column)
    assert zh in reason_zh and en in reason_en


def test_duplicate_uscc_keeps_the_first_and_names_it(tmp_path: Path) -> None:
    checked, faults = check(tmp_path, [row(1), row(2), row(1, **{"企业名称": "重复企业"})])
    assert len(checked) == 2
    assert faults == [
        (4, "统一社会信用代码", uscc(1), "统一社会信用代码与第 2 行重复", "USCC duplicates row 2")
    ]


def test_common_chinese_forms_are_understood(tmp_path: Path) -> None:
    rows = [
        row(1, **{"成立日期": "2021/3/4", "营业收入（万元）": "1,234.5", "所属区": "440112"}),
        row(
            2, **{"成立日期": "2021年3月4日", "营业收入（万元）": "3亿元", "所属区": "广州市番禺区"}
        ),
        row(
            3,
            **{
                "成立日期": "44259",
                "营业收入（万元）": "",
                "所属区": "越秀",
                "行业代码": "C3612 新能源车整车制造",
            },
        ),
        row(
            4,
            **{
                "成立日期": "20210304",
                "企业标签": "规上企业；专精特新“小巨人”企业,链主企业",
                "登记状态": "吊销",
            },
        ),
    ]
    checked, faults = check(tmp_path, rows)
    assert faults == []
    by_uscc = {r[1]: r for r in checked}
    import datetime as dt

    assert {r[6] for r in checked} == {dt.date(2021, 3, 4)}
    assert by_uscc[uscc(1)][8] == 12_345_000.0  # 万元 → yuan
    assert by_uscc[uscc(2)][8] == 3e8  # a unit in the cell wins over the header's
    assert by_uscc[uscc(3)][8] is None
    assert [by_uscc[uscc(n)][3] for n in (1, 2, 3)] == ["440112", "440113", "440104"]
    assert by_uscc[uscc(3)][4] == "3612"
    assert by_uscc[uscc(4)][11] == ["above_scale", "chain_leader", "little_giant"]
    assert by_uscc[uscc(4)][12] == "closed"


def test_more_fields_than_headers_is_reported_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        f"统一社会信用代码,企业名称,营业收入（万元）\n{uscc(1)},甲,100\n{uscc(2)},乙,1,000\n",
        encoding="utf-8",
    )
    con = duckdb.connect()
    validate(con, read_source(con, path), SYSTEM, path.parent)
    faults = con.execute("SELECT row, reason_en FROM faults").fetchall()
    assert faults == [(3, "more fields than headers (unquoted comma?)")]


digits = st.text(alphabet="0123456789", min_size=8, max_size=8)
rest = st.text(alphabet=USCC_ALPHABET, min_size=10, max_size=10)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(digits, rest), min_size=1, max_size=200))
def test_sql_check_character_agrees_with_stdnum(candidates: list[tuple[str, str]]) -> None:
    """Random codes (about 1 in 31 valid by chance) plus each made valid: SQL and stdnum agree."""
    codes = [a + b for a, b in candidates]
    codes += [c[:17] + stdnum_uscc.calc_check_digit(c[:17]) for c in codes]
    con = duckdb.connect()
    con.execute("CREATE TABLE raw (uscc VARCHAR, name VARCHAR, __row BIGINT)")
    con.executemany("INSERT INTO raw VALUES (?, 'x', ?)", [[c, i] for i, c in enumerate(codes)])
    source = SourceFile(
        Path("x.parquet"),
        "parquet",
        [Column("统一社会信用代码", "uscc", 1.0), Column("企业名称", "name", 1.0)],
    )
    validate(con, source, SYSTEM, Path(tempfile.mkdtemp()))
    faults = {r[0]: r[1] for r in con.execute("SELECT row, code FROM faults").fetchall()}
    for i, code in enumerate(codes):
        sql_ok = faults.get(i) in (None, "duplicate")
        assert sql_ok == stdnum_uscc.is_valid(code), code
