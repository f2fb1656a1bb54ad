"""Files as bureaus send them: encodings, title rows, Excel with merged titles, Parquet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chanye.registry.reading import UnreadableFileError, read_source
from tests.registry.factory import HEADERS, row, uscc, write_csv


def rows_of(path: Path, sheet: str | None = None) -> list[tuple]:
    con = duckdb.connect()
    source = read_source(con, path, sheet)
    fields = ", ".join(c.field for c in source.columns)
    con.execute(f"CREATE TABLE t AS SELECT * FROM {source.relation}")
    row = "__row" if source.row_offset is None else f"rowid + {source.row_offset}"
    query = f"SELECT {row} AS r, {fields} FROM t ORDER BY r"
    return [tuple(r) for r in con.execute(query).fetchall()]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [row(1), row(2, **{"企业名称": "广州市越秀区粤菜馆"})],
        encoding=encoding,
    )
    rows = rows_of(path)
    assert [r[2] for r in rows] == ["广州测试1号科技有限公司", "广州市越秀区粤菜馆"]


def test_csv_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [row(1)],
        title_rows=["广州市规上企业名录（2025年）", "填报单位：市统计局,,", ""],
    )
    rows = rows_of(path)
    assert rows[0][0] == 5  # the row number a clerk sees in the file
    assert rows[0][1] == uscc(1)


def test_english_headers_are_accepted(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv", [[uscc(1), "甲公司", "5000"]], headers=["uscc", "name", "revenue"]
    )
    assert rows_of(path) == [(2, uscc(1), "甲公司", "5000")]


def _chinese_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    cover = workbook.active
    cover.title = "说明"
    cover["A1"] = "本表为2025年企业名录，请勿修改表头"
    data = workbook.create_sheet("企业名录")
    data["A1"] = "广州市重点企业名录"
    data.merge_cells("A1:L1")  # the merged title cell bureaus put above the header
    data["A2"] = "单位：万元"
    data.merge_cells("A2:L2")
    data.append(HEADERS)
    first = row(1)
    first[5] = dt.datetime(2019, 7, 1)  # a real Excel date cell
    first[7] = 5000.5  # a number cell
    second = row(2, **{"成立日期": "2019/7/1"})
    data.append(first)
    data.append(second)
    data.append([None] * len(HEADERS))  # blank line below the data
    workbook.save(path)
    return path


def test_xlsx_finds_the_sheet_and_header_below_merged_titles(tmp_path: Path) -> None:
    path = _chinese_workbook(tmp_path / "名录.xlsx")
    rows = rows_of(path)
    assert [r[0] for r in rows] == [4, 5]
    assert rows[0][1] == uscc(1)
    assert rows[0][6] == "2019-07-01" and rows[0][8] == "5000.5"


def test_xlsx_sheet_option(tmp_path: Path) -> None:
    path = _chinese_workbook(tmp_path / "名录.xlsx")
    assert len(rows_of(path, sheet="企业名录")) == 2
    with pytest.raises(UnreadableFileError, match="没有名为“不存在”的工作表"):
        rows_of(path, sheet="不存在")
    with pytest.raises(UnreadableFileError, match="找不到表头"):
        rows_of(path, sheet="说明")


def test_parquet_is_read(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(
        pa.table({"统一社会信用代码": [uscc(1)], "企业名称": ["甲"], "营业收入": [12.5]}), path
    )
    assert rows_of(path) == [(1, uscc(1), "甲", "12.5")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.csv", None, "文件不存在"),
        ("data.json", b"{}", "不支持的文件类型"),
        ("binary.csv", b"\x00\x01\x02PK\x00", "不是文本文件"),
        ("noheader.csv", b"a,b,c\n1,2,3\n", "找不到表头"),
        ("noname.csv", "统一社会信用代码,营业收入\n1,2\n".encode(), "缺少必需的列：企业名称"),
        ("twice.csv", "统一社会信用代码,企业名称,营业收入,营收\n".encode(), "都表示营业收入"),
        ("broken.xlsx", b"not a zip", "无法作为 Excel 文件打开"),
        ("broken.parquet", b"not parquet", "无法作为 Parquet 文件读取"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=message) as caught:
        rows_of(path)
    assert str(path) in str(caught.value)
