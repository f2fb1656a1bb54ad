"""Read an enterprise file as it comes (CSV in any common Chinese encoding, XLSX, Parquet) into a
DuckDB table of text columns named by canonical field, with the row number a clerk sees.

Nothing is interpreted here beyond finding the header: typing and checking are in ``validation``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from chanye.registry.schema import FIELD_BY_NAME, HeaderMatch, match_header

RAW_TABLE = "raw"
ROW_COLUMN = "__row"
OVERFLOW_COLUMN = "__overflow"
OVERFLOW_COLUMNS = 8
HEADER_SEARCH_ROWS = 30  # title rows above the header: how far down to look for it
ENCODING_SAMPLE = 1 << 20


class UnreadableFileError(Exception):
    """The file cannot be read at all; nothing is imported. ``zh`` and ``en`` say why."""

    def __init__(self, file: Path, zh: str, en: str) -> None:
        self.file, self.zh, self.en = file, zh, en
        super().__init__(f"{file}: {zh} / {en}")


@dataclass(frozen=True)
class Column:
    header: str  # as written in the file
    field: str
    unit: float  # multiplier to yuan (money fields)


@dataclass
class SourceFile:
    """A file read into DuckDB table ``raw``: one VARCHAR column per matched field plus ``__row``."""

    path: Path
    format: str
    columns: list[Column]
    ignored_headers: list[str] = field(default_factory=list)
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1  # 1-based row of the header in the file
    relation: str = RAW_TABLE  # SQL to select the rows from
    row_offset: int | None = None  # rows numbered rowid + offset; None: the relation has __row

    def column(self, field_name: str) -> Column | None:
        return next((c for c in self.columns if c.field == field_name), None)


def read_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sheet: str | None = None,
    workdir: Path | None = None,
) -> SourceFile:
    """Prepare ``path`` for typing: ``SourceFile.relation`` is SQL that yields one text column per
    matched field. Raise UnreadableFileError when the file cannot be used at all.

    ``workdir`` holds a UTF-8 copy of a GBK/GB18030 CSV; it must outlive the use of the relation.
    """
    if not path.exists():
        raise UnreadableFileError(path, "文件不存在", "file not found")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(path, workdir or Path(tempfile.mkdtemp(prefix="chanye-read-")))
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(con, path, sheet)
    if suffix == ".parquet":
        return _read_parquet(con, path)
    raise UnreadableFileError(
        path,
        f"不支持的文件类型“{suffix}”（支持 CSV、XLSX、Parquet）",
        f"unsupported file type {suffix!r} (CSV, XLSX or Parquet)",
    )


# --- header -------------------------------------------------------------------------------------


def _match_columns(path: Path, headers: Sequence[object]) -> tuple[list[Column | None], list[str]]:
    """Match each header to a field; refuse files without the required fields or with a field twice."""
    matched: list[Column | None] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for raw in headers:
        header = "" if raw is None else str(raw).strip()
        match: HeaderMatch | None = match_header(header) if header else None
        if match is None:
            matched.append(None)
            if header:
                ignored.append(header)
            continue
        if match.field in seen:
            raise UnreadableFileError(
                path,
                f"列“{seen[match.field]}”和“{header}”都表示{FIELD_BY_NAME[match.field].label}",
                f"columns {seen[match.field]!r} and {header!r} both mean {match.field}",
            )
        seen[match.field] = header
        matched.append(Column(header, match.field, match.unit))
    missing = [f.label for f in FIELD_BY_NAME.values() if f.required and f.name not in seen]
    if missing:
        raise UnreadableFileError(
            path,
            f"缺少必需的列：{'、'.join(missing)}（找到的列：{'、'.join(map(str, headers))}）",
            f"required columns missing: {', '.join(missing)}",
        )
    return matched, ignored


def _header_score(cells: Sequence[object]) -> int:
    return sum(1 for c in cells if c is not None and match_header(str(c).strip()) is not None)


def _find_header(path: Path, rows: Iterable[Sequence[object]]) -> tuple[int, Sequence[object]]:
    """The first row (0-based) holding at least two known headers, the USCC one among them."""
    for index, cells in enumerate(rows):
        if index >= HEADER_SEARCH_ROWS:
            break
        matches = [match_header(str(c).strip()) for c in cells if c is not None and str(c).strip()]
        fields = {m.field for m in matches if m}
        if "uscc" in fields and len(fields) >= 2:
            return index, cells
    raise UnreadableFileError(
        path,
        f"前{HEADER_SEARCH_ROWS}行中找不到表头（需包含“统一社会信用代码”和“企业名称”等列）",
        f"no header row in the first {HEADER_SEARCH_ROWS} rows (needs 统一社会信用代码, 企业名称 ...)",
    )


# --- CSV ----------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the start of the file decodes as such, else GB18030."""
    with path.open("rb") as handle:
        sample = handle.read(ENCODING_SAMPLE)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if b"\x00" in sample[:4096]:
        raise UnreadableFileError(path, "不是文本文件（可能是二进制文件）", "not a text file")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        raise UnreadableFileError(
            path, "无法识别文件编码（支持 UTF-8、GBK、GB18030）", "unknown text encoding"
        ) from None
    return "gb18030"


def _transcode_to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    target = workdir / "source-utf8.csv"
    try:
        with (
            path.open("r", encoding=encoding, newline="") as src,
            target.open("w", encoding="utf-8", newline="") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 22)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            path,
            f"文件含有无法按 {encoding} 解码的字节",
            f"bytes not valid {encoding}: {exc.reason}",
        ) from None
    return target


def _read_csv(path: Path, workdir: Path) -> SourceFile:
    """A CSV is not loaded here: ``relation`` reads it, so that typing happens in the same pass as
    reading (no raw copy of a 700 MB file in memory). Rows are numbered by insertion order."""
    encoding = detect_encoding(path)
    utf8 = path if encoding == "utf-8" else _transcode_to_utf8(path, encoding, workdir)
    with utf8.open("r", encoding="utf-8-sig", newline="") as handle:
        head = list(_first_rows(csv.reader(handle), HEADER_SEARCH_ROWS))
    header_index, header = _find_header(path, head)
    matched, ignored = _match_columns(path, header)
    # Every column as text. Extra trailing fields (an unquoted comma in a text) land in the
    # overflow columns, so the row is reported rather than silently cut short.
    names = [f"c{i}" for i in range(len(header))] + [f"o{i}" for i in range(OVERFLOW_COLUMNS)]
    select = ", ".join(f'"c{i}" AS "{c.field}"' for i, c in enumerate(matched) if c)
    overflow = ", ".join(f'"o{i}"' for i in range(OVERFLOW_COLUMNS))
    escaped = str(utf8).replace("'", "''")
    relation = f"""(
        SELECT {select}, nullif(concat_ws(',', {overflow}), '') AS {OVERFLOW_COLUMN}
        FROM read_csv('{escaped}', header = false, skip = {header_index + 1}, all_varchar = true,
                      columns = {{{", ".join(f"'{n}': 'VARCHAR'" for n in names)}}},
                      quote = '"', escape = '"', delim = ',', store_rejects = true,
                      null_padding = true, strict_mode = false, auto_detect = false))"""
    return SourceFile(path, "csv", [c for c in matched if c], ignored, encoding,
                      header_row=header_index + 1, relation=relation,
                      row_offset=header_index + 2)  # fmt: skip


def refuse_unparsable(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A CSV line the reader cannot parse (usually an unclosed quote) makes the rows after it
    unreliable: refuse the whole file, naming the lines, rather than import a guess."""
    rows = con.execute(
        "SELECT line, error_message FROM reject_errors ORDER BY line LIMIT 5"
    ).fetchall()
    if rows:
        lines = "、".join(str(line) for line, _ in rows)
        raise UnreadableFileError(
            path,
            f"第 {lines} 行无法解析（请检查引号是否成对）",
            f"cannot parse line(s) {lines}: {rows[0][1]}",
        )


def _first_rows(rows: Iterator[list[str]], limit: int) -> Iterator[list[str]]:
    for index, row in enumerate(rows):
        if index >= limit:
            return
        yield row


# --- XLSX ---------------------------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> SourceFile:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise UnreadableFileError(
            path, "无法作为 Excel 文件打开", f"not a readable XLSX file: {exc}"
        ) from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise UnreadableFileError(
                path,
                f"没有名为“{sheet}”的工作表（有：{'、'.join(workbook.sheetnames)}）",
                f"no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})",
            )
        candidates = [sheet] if sheet else workbook.sheetnames
        last_error: UnreadableFileError | None = None
        for name in candidates:
            try:
                return _read_sheet(con, path, workbook[name], name)
            except (
                UnreadableFileError
            ) as exc:  # try the next sheet: the data may not be on the first
                last_error = exc
        assert last_error is not None
        raise last_error
    finally:
        workbook.close()


def _read_sheet(
    con: duckdb.DuckDBPyConnection, path: Path, worksheet: object, name: str
) -> SourceFile:
    rows = worksheet.iter_rows(values_only=True)  # type: ignore[attr-defined]
    head: list[tuple[object, ...]] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    header_index, header = _find_header(path, head)
    matched, ignored = _match_columns(path, header)
    wanted = [(i, c) for i, c in enumerate(matched) if c]
    columns: dict[str, list[str | None]] = {c.field: [] for _, c in wanted}
    numbers: list[int] = []

    def take(row_number: int, row: Sequence[object]) -> None:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            return  # blank rows (often below the data) are not records
        for i, column in wanted:
            columns[column.field].append(_cell_text(row[i]) if i < len(row) else None)
        numbers.append(row_number)

    for offset, row in enumerate(head[header_index + 1 :], start=header_index + 2):
        take(offset, row)
    for offset, row in enumerate(rows, start=len(head) + 1):
        take(offset, row)
    table = pa.table({**{k: pa.array(v, pa.string()) for k, v in columns.items()},
                      ROW_COLUMN: pa.array(numbers, pa.int64())})  # fmt: skip
    con.register("xlsx_rows", table)
    con.execute(f"CREATE OR REPLACE TABLE {RAW_TABLE} AS SELECT * FROM xlsx_rows")
    con.unregister("xlsx_rows")
    return SourceFile(path, "xlsx", [c for _, c in wanted], ignored, sheet=name,
                      header_row=header_index + 1)  # fmt: skip


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> SourceFile:
    try:
        names = [
            r[0]
            for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        ]
    except duckdb.Error as exc:
        raise UnreadableFileError(
            path, "无法作为 Parquet 文件读取", f"not a readable Parquet file: {exc}"
        ) from None
    matched, ignored = _match_columns(path, names)
    select = ", ".join(
        f'CAST("{names[i]}" AS VARCHAR) AS "{c.field}"' for i, c in enumerate(matched) if c
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {RAW_TABLE} AS
            SELECT {select}, (file_row_number + 1)::BIGINT AS {ROW_COLUMN}
            FROM read_parquet(?, file_row_number = true)""",
        [str(path)],
    )
    return SourceFile(path, "parquet", [c for c in matched if c], ignored, header_row=0)
