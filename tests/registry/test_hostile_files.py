"""Files a probe sent to ``chanye registry import``, kept as cases: each is refused (or its row
rejected) with a Chinese message naming the line or the row, and no change is left 'running'."""

from __future__ import annotations

import codecs
import csv
import io
import re
import subprocess
import zipfile
from pathlib import Path

import openpyxl
from sqlalchemy import select

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.store.models import RegistryChange
from tests.conftest import CHANYE_BIN, cli_env, run_cli
from tests.registry.factory import HEADERS, row, uscc, write_csv
from tests.registry.test_import_cli import registry_json


def _import(path: Path, data_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHANYE_BIN, "registry", "import", str(path)],
        capture_output=True,
        text=True,
        env=cli_env(data_dir, **settings),
        timeout=300,
        check=False,
    )


def _statuses(data_dir: Path) -> list[str]:
    with session_scope(Settings(data_dir=data_dir).resolved_database_url) as db:
        return list(db.scalars(select(RegistryChange.status)))


def _total(data_dir: Path) -> int:
    stats = registry_json(data_dir, "stats")
    assert isinstance(stats, dict)
    return int(stats["total"])


def test_an_unclosed_quote_refuses_the_file_naming_the_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "quote.csv", [row(1), row(2)])
    third = ",".join(row(3)).replace("广州测试3号", '"广州测试3号')  # the quote never closes
    path.write_text(
        path.read_text(encoding="utf-8") + third + "\n" + ",".join(row(4)) + "\n", encoding="utf-8"
    )
    result = _import(path, tmp_path / "d")
    assert result.returncode == 2
    assert "第 4 行的引号没有闭合" in result.stderr and "nothing imported" in result.stderr
    assert _total(tmp_path / "d") == 0 and _statuses(tmp_path / "d") == ["failed"]


def test_quotes_that_pair_are_fine_across_lines(tmp_path: Path) -> None:
    scope = '电池研发\n"储能"系统集成'  # a line break and quotes inside a quoted text
    path = write_csv(tmp_path / "ok.csv", [row(1, **{"经营范围": scope}), row(2)])
    assert _import(path, tmp_path / "d").returncode == 0
    assert _total(tmp_path / "d") == 2


def test_excel_unicode_text_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode text": UTF-16 with a BOM, tab-separated."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t").writerows(
        [HEADERS, row(1), row(2, **{"企业名称": "粤菜馆"})]
    )
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + buffer.getvalue().encode("utf-16-le"))
    result = _import(path, tmp_path / "d")
    assert result.returncode == 0, result.stderr
    shown = registry_json(tmp_path / "d", "show", uscc(2))
    assert isinstance(shown, dict) and shown["name"] == "粤菜馆"


def test_a_bad_byte_after_the_first_megabyte_names_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "late.csv", [row(n) for n in range(1, 8001)])
    data = path.read_bytes()
    assert len(data) > 1 << 20  # past the part the encoding is detected from
    lines = data.split(b"\n")
    lines[7000] = lines[7000].replace("广州".encode(), b"\xff\xfe", 1)
    path.write_bytes(b"\n".join(lines))
    result = _import(path, tmp_path / "d")
    assert result.returncode == 2
    assert re.search(r"第 7001 行含有不是 UTF-8 编码的字节", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert _total(tmp_path / "d") == 0 and _statuses(tmp_path / "d") == ["failed"]


def test_a_bad_byte_in_a_gbk_file_names_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", [row(n) for n in range(1, 12001)], encoding="gbk")
    lines = path.read_bytes().split(b"\n")
    assert len(b"\n".join(lines[:11000])) > 1 << 20
    lines[11000] = lines[11000] + b"\x80"  # not a GB18030 byte, on line 11001
    path.write_bytes(b"\n".join(lines))
    result = _import(path, tmp_path / "d")
    assert result.returncode == 2
    assert "第 11001 行含有无法按 GBK/GB18030 解码的字节" in result.stderr, result.stderr
    assert _statuses(tmp_path / "d") == ["failed"]


def test_a_text_of_200k_characters_rejects_its_row(tmp_path: Path) -> None:
    long_scope = "研发" * 100_000
    path = write_csv(tmp_path / "long.csv", [row(1), row(2, **{"经营范围": long_scope}), row(3)])
    result = _import(path, tmp_path / "d")
    assert result.returncode == 3, result.stderr
    assert "内容过长（200000 字，上限 10,000 字）" in result.stderr
    with (tmp_path / "long.csv.errors.csv").open(encoding="utf-8-sig") as handle:
        report = list(csv.reader(handle))
    assert report[1][:2] == ["3", "经营范围"] and len(report[1][2]) < 100
    assert _total(tmp_path / "d") == 2 and _statuses(tmp_path / "d") == ["done"]


def _workbook(path: Path, rows: int) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for n in range(1, rows + 1):
        sheet.append(row(n))
    workbook.save(path)
    return path


def _rewrite_part(path: Path, name: str, change: object) -> None:
    """Replace (or add) one part of the XLSX zip by ``change(old_bytes)``."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[name] = change(parts.get(name, b""))  # type: ignore[operator]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for part, data in parts.items():
            target.writestr(part, data)


def test_a_shared_string_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "bomb.xlsx", 2)
    strings = b"<si><t>" + b"A" * 1000 + b"</t></si>"
    bomb = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    _rewrite_part(path, "xl/sharedStrings.xml", lambda _old: bomb + strings * 30_000 + b"</sst>")
    assert path.stat().st_size < 1 << 20  # 30 MB of strings in a file of a few hundred KB
    result = _import(path, tmp_path / "d", CHANYE_MAX_XLSX_EXPANDED_MB="20")
    assert result.returncode == 2
    assert "解压后有" in result.stderr and "超过 20 MB" in result.stderr
    assert _statuses(tmp_path / "d") == ["failed"]


def test_a_sheet_over_the_row_cap_is_refused(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "rows.xlsx", 150)
    result = _import(path, tmp_path / "d", CHANYE_MAX_XLSX_ROWS="100")
    assert result.returncode == 2 and "超过 100 行上限" in result.stderr
    # Without the stated size, the cap still holds while the rows stream in.
    _rewrite_part(
        path, "xl/worksheets/sheet1.xml", lambda old: re.sub(rb"<dimension [^>]*/>", b"", old)
    )
    again = _import(path, tmp_path / "d", CHANYE_MAX_XLSX_ROWS="100")
    assert again.returncode == 2 and "超过 100 行上限" in again.stderr
    assert _statuses(tmp_path / "d") == ["failed", "failed"]
    assert _import(path, tmp_path / "d", CHANYE_MAX_XLSX_ROWS="200").returncode == 0


def test_a_refused_file_leaves_no_change_running(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    assert run_cli("registry", "import", str(path), data_dir=tmp_path / "d").returncode == 2
    assert _statuses(tmp_path / "d") == ["failed"]


def test_the_error_report_as_xlsx_is_written_from_the_file_beside_it(tmp_path: Path) -> None:
    from chanye.registry.importer import errors_xlsx_for

    report = tmp_path / "in.csv.errors.csv"
    report.write_text(
        "\ufeff行号 row,列 column,值 value,原因,reason\n3,营业收入,约500,应为数字,x\n",
        encoding="utf-8",
    )
    written = errors_xlsx_for(report)
    assert written == tmp_path / "in.csv.errors.xlsx"
    sheet = openpyxl.load_workbook(written, read_only=True).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1] == [
        3,
        "营业收入",
        "约500",
        "应为数字",
        "x",
    ]
    assert errors_xlsx_for(report) == written  # written once, then served as it is
