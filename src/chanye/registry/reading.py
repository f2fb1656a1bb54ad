"""Read an enterprise file as it comes (CSV in any common Chinese encoding, XLSX, Parquet) into a
DuckDB table of text columns named by canonical field, with the row number a clerk sees.

Nothing is interpreted here beyond finding the header: typing and checking are in ``validation``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
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
MAX_LINE_BYTES = 8 << 20  # one CSV record; DuckDB's default (2 MB) would refuse long texts
XLSX_BATCH_ROWS = 50_000  # rows of a sheet held in memory at once
# Python's csv module refuses fields over 128 KiB by default; the header search reads with it.
csv.field_size_limit(MAX_LINE_BYTES)


@dataclass(frozen=True)
class ReadLimits:
    """How much of a spreadsheet is read before it is refused (a crafted XLSX can expand a few
    megabytes into gigabytes, or hold a million rows that take minutes to parse)."""

    xlsx_rows: int = 300_000
    xlsx_expanded_bytes: int = 1 << 30


class UnreadableFileError(Exception):
    """The file cannot be read at all; nothing is imported. ``zh`` and ``en`` say why."""

    def __init__(self, file: Path, zh: str, en: str) -> None:
        self.file, self.zh, self.en = file, zh, en
        super().__init__(f"{file}: {zh} / {en}")


@dataclass(frozen=True)
class Vocabulary:
    """The headers of one kind of file: what each header means, which row is the header, and
    which fields the file must have. The enterprise list is one kind; facts over time are others
    (``chanye.registry.fact_headers``)."""

    kind: str
    match: Callable[[str], HeaderMatch | None]
    is_header: Callable[[set[str]], bool]  # the fields matched in a row make it the header
    missing: Callable[[set[str]], list[str]]  # labels of the required fields not matched
    label: Callable[[str], str]  # a field's Chinese label, for messages
    needs: str  # what the header must hold, for the message when none is found


def _list_is_header(fields: set[str]) -> bool:
    return "uscc" in fields and len(fields) >= 2


def _list_missing(fields: set[str]) -> list[str]:
    return [f.label for f in FIELD_BY_NAME.values() if f.required and f.name not in fields]


ENTERPRISE_LIST = Vocabulary(
    kind="list",
    match=match_header,
    is_header=_list_is_header,
    missing=_list_missing,
    label=lambda name: FIELD_BY_NAME[name].label,
    needs="“统一社会信用代码”和“企业名称”等列",
)


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
    kind: str = ENTERPRISE_LIST.kind  # which vocabulary its header was read with

    def column(self, field_name: str) -> Column | None:
        return next((c for c in self.columns if c.field == field_name), None)


def read_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sheet: str | None = None,
    workdir: Path | None = None,
    limits: ReadLimits = ReadLimits(),
    vocabularies: Sequence[Vocabulary] = (ENTERPRISE_LIST,),
) -> SourceFile:
    """Prepare ``path`` for typing: ``SourceFile.relation`` is SQL that yields one text column per
    matched field. Raise UnreadableFileError when the file cannot be used at all.

    The header is read with the first of ``vocabularies`` that recognises a row as the header
    (``SourceFile.kind`` says which). ``workdir`` holds a UTF-8 copy of a GBK/GB18030 CSV; it
    must outlive the use of the relation.
    """
    if not path.exists():
        raise UnreadableFileError(path, "文件不存在", "file not found")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(
            path, workdir or Path(tempfile.mkdtemp(prefix="chanye-read-")), vocabularies
        )
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(con, path, sheet, limits, vocabularies)
    if suffix == ".parquet":
        return _read_parquet(con, path, vocabularies)
    raise UnreadableFileError(
        path,
        f"不支持的文件类型“{suffix}”（支持 CSV、XLSX、Parquet）",
        f"unsupported file type {suffix!r} (CSV, XLSX or Parquet)",
    )


# --- header -------------------------------------------------------------------------------------


def _match_columns(
    path: Path, headers: Sequence[object], vocabulary: Vocabulary
) -> tuple[list[Column | None], list[str]]:
    """Match each header to a field; refuse files without the required fields or with a field twice."""
    matched: list[Column | None] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for raw in headers:
        header = "" if raw is None else str(raw).strip()
        match: HeaderMatch | None = vocabulary.match(header) if header else None
        if match is None:
            matched.append(None)
            if header:
                ignored.append(header)
            continue
        if match.field in seen:
            raise UnreadableFileError(
                path,
                f"列“{seen[match.field]}”和“{header}”都表示{vocabulary.label(match.field)}",
                f"columns {seen[match.field]!r} and {header!r} both mean {match.field}",
            )
        seen[match.field] = header
        matched.append(Column(header, match.field, match.unit))
    missing = vocabulary.missing(set(seen))
    if missing:
        raise UnreadableFileError(
            path,
            f"缺少必需的列：{'、'.join(missing)}（找到的列：{'、'.join(map(str, headers))}）",
            f"required columns missing: {', '.join(missing)}",
        )
    return matched, ignored


def _find_header(
    path: Path, rows: Iterable[Sequence[object]], vocabularies: Sequence[Vocabulary]
) -> tuple[int, Sequence[object], Vocabulary]:
    """The first row (0-based) that one of the vocabularies takes for the header, with it."""
    for index, cells in enumerate(rows):
        if index >= HEADER_SEARCH_ROWS:
            break
        texts = [str(c).strip() for c in cells if c is not None and str(c).strip()]
        for vocabulary in vocabularies:
            fields = {m.field for m in map(vocabulary.match, texts) if m}
            if vocabulary.is_header(fields):
                return index, cells, vocabulary
    needs = "；或".join(v.needs for v in vocabularies)
    raise UnreadableFileError(
        path,
        f"前{HEADER_SEARCH_ROWS}行中找不到表头（需包含{needs}）",
        f"no header row in the first {HEADER_SEARCH_ROWS} rows",
    )


# --- CSV ----------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-16 with a BOM (Excel's "Unicode text"), UTF-8 (with or without BOM) when the start of
    the file decodes as such, else GB18030."""
    with path.open("rb") as handle:
        sample = handle.read(ENCODING_SAMPLE)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
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
            path, "无法识别文件编码（支持 UTF-8、UTF-16、GBK、GB18030）", "unknown text encoding"
        ) from None
    return "gb18030"


ENCODING_NAMES = {"utf-16": "UTF-16", "gb18030": "GBK/GB18030", "utf-8-sig": "UTF-8"}


def _transcode_to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy; a byte that does not decode refuses the file, naming its line."""
    target = workdir / "source-utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)()
    newline = "\n".encode(encoding.replace("utf-16", "utf-16-le"))
    lines = 1
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 22):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                line = lines + _lines_before(chunk, exc.start, newline)
                raise _undecodable(path, line, ENCODING_NAMES.get(encoding, encoding)) from None
            lines += _lines_before(chunk, len(chunk), newline)
        try:
            dst.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            raise _undecodable(path, lines, ENCODING_NAMES.get(encoding, encoding)) from None
    return target


def _lines_before(chunk: bytes, end: int, newline: bytes) -> int:
    return chunk.count(newline, 0, end)


def _undecodable(path: Path, line: int, encoding: str) -> UnreadableFileError:
    return UnreadableFileError(
        path,
        f"第 {line} 行含有无法按 {encoding} 解码的字节（文件可能由不同编码的内容拼接而成），"
        f"请将整个文件另存为 UTF-8 后再导入",
        f"line {line}: bytes not valid {encoding}",
    )


def _refuse_unclosed_quote(path: Path, utf8: Path) -> None:
    """An unclosed quote makes every line after it one text field, silently: refuse the file,
    naming the line where the quote opens. Quotes come in pairs in a well-formed CSV (a quote
    inside a quoted text is doubled), so an odd count is the sign; it costs one scan of bytes."""
    quotes = 0
    with utf8.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            quotes += chunk.count(b'"')
    if quotes % 2 == 0:
        return
    opened_at, inside = 0, False
    with utf8.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.count(b'"') % 2:
                inside = not inside
                opened_at = number if inside else opened_at
    raise UnreadableFileError(
        path,
        f"第 {opened_at} 行的引号没有闭合（其后各行都会被并入这一个字段），请检查引号是否成对",
        f"line {opened_at}: unclosed quote",
    )


def _read_csv(path: Path, workdir: Path, vocabularies: Sequence[Vocabulary]) -> SourceFile:
    """A CSV is not loaded here: ``relation`` reads it, so that typing happens in the same pass as
    reading (no raw copy of a 700 MB file in memory). Rows are numbered by insertion order."""
    encoding = detect_encoding(path)
    utf8 = path if encoding == "utf-8" else _transcode_to_utf8(path, encoding, workdir)
    _refuse_unclosed_quote(path, utf8)
    delimiter, header_index, header, vocabulary = _find_csv_header(path, utf8, vocabularies)
    matched, ignored = _match_columns(path, header, vocabulary)
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
                      quote = '"', escape = '"', delim = '{delimiter}', store_rejects = true,
                      null_padding = true, strict_mode = false, auto_detect = false,
                      max_line_size = {MAX_LINE_BYTES}))"""
    return SourceFile(
        path,
        "csv",
        [c for c in matched if c],
        ignored,
        encoding,
        header_row=header_index + 1,
        relation=relation,
        row_offset=header_index + 2,
        kind=vocabulary.kind,
    )


def read_csv_rows(source: SourceFile, run: Callable[[str], None]) -> None:
    """Run ``run`` on the CSV's relation. DuckDB's parallel reader cannot split a file whose
    quoted texts hold line breaks; such a file is read again by one thread. A fault DuckDB stops
    at is the clerk's to fix: it is reported with its line, not as a program error."""
    try:
        run(source.relation)
    except duckdb.Error as exc:
        if "parallel=false" not in str(exc):
            raise _csv_fault(source.path, exc) from None
        try:
            run(
                source.relation.replace(
                    "auto_detect = false", "auto_detect = false, parallel = false"
                )
            )
        except duckdb.Error as again:
            raise _csv_fault(source.path, again) from None


def _csv_fault(path: Path, exc: duckdb.Error) -> UnreadableFileError:
    found = re.search(r"Line: (\d+)", str(exc))
    where = f"第 {found.group(1)} 行" if found else "文件中有一行"
    return UnreadableFileError(
        path, f"{where}无法读取（请检查引号是否成对、分隔符是否一致）", str(exc).splitlines()[0]
    )


def _find_csv_header(
    path: Path, utf8: Path, vocabularies: Sequence[Vocabulary]
) -> tuple[str, int, Sequence[object], Vocabulary]:
    """The delimiter (comma, or tab as in Excel's "Unicode text"), and the header row."""
    refusal: UnreadableFileError | None = None
    for delimiter in (",", "\t"):
        with utf8.open("r", encoding="utf-8-sig", newline="") as handle:
            head = list(_first_rows(csv.reader(handle, delimiter=delimiter), HEADER_SEARCH_ROWS))
        try:
            return (delimiter, *_find_header(path, head, vocabularies))
        except UnreadableFileError as exc:
            refusal = refusal or exc
    assert refusal is not None
    raise refusal


# What DuckDB's reject table calls a fault → what a clerk reads.
REJECT_REASONS = {
    "INVALID ENCODING": (
        "含有不是 UTF-8 编码的字节（文件开头是 UTF-8，这里不是：文件可能由不同编码的内容"
        "拼接而成），请将整个文件另存为 UTF-8 后再导入"
    ),
    "LINE SIZE OVER MAXIMUM": f"过长（一行超过 {MAX_LINE_BYTES >> 20} MB），请检查是否缺少换行或引号",
    "TOO MANY COLUMNS": "字段数远多于表头，请检查分隔符",
}


def refuse_unparsable(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A CSV line the reader cannot parse makes the rows after it unreliable: refuse the whole
    file, naming the lines, rather than import a guess."""
    rows = con.execute(
        "SELECT line, error_type, error_message FROM reject_errors ORDER BY line LIMIT 5"
    ).fetchall()
    if rows:
        lines = "、".join(str(line) for line, _type, _message in rows)
        reason = REJECT_REASONS.get(str(rows[0][1]), "无法解析（请检查引号是否成对）")
        raise UnreadableFileError(
            path, f"第 {lines} 行{reason}", f"cannot parse line(s) {lines}: {rows[0][2]}"
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


def _read_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sheet: str | None,
    limits: ReadLimits,
    vocabularies: Sequence[Vocabulary],
) -> SourceFile:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _refuse_zip_bomb(path, limits)
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
                return _read_sheet(con, path, workbook[name], name, limits, vocabularies)
            except _NoHeaderError as exc:  # try the next sheet: the data may not be on the first
                last_error = exc
        assert last_error is not None
        raise last_error
    finally:
        workbook.close()


class _NoHeaderError(UnreadableFileError):
    """A sheet without a usable header: another sheet of the workbook may hold the data."""


def _refuse_zip_bomb(path: Path, limits: ReadLimits) -> None:
    """Refuse, before parsing, an XLSX whose parts expand beyond the limit: the zip's directory
    states every part's size, and reading stops at the stated size, so it cannot lie."""
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise UnreadableFileError(path, "无法作为 Excel 文件打开", "not a zip archive") from None
    if expanded > limits.xlsx_expanded_bytes:
        raise UnreadableFileError(
            path,
            f"Excel 文件解压后有 {expanded >> 20:,} MB，超过 {limits.xlsx_expanded_bytes >> 20:,} MB "
            "上限（文件可能被构造为“压缩炸弹”）；数据量大时请另存为 CSV 后导入",
            f"XLSX expands to {expanded >> 20} MB, over the limit",
        )


def _refuse_too_many_rows(path: Path, name: str, rows: int, limits: ReadLimits) -> None:
    if rows > limits.xlsx_rows:
        raise UnreadableFileError(
            path,
            f"工作表“{name}”超过 {limits.xlsx_rows:,} 行上限；数据量大时请另存为 CSV 后导入",
            f"sheet {name!r} has more than {limits.xlsx_rows} rows",
        )


def _read_sheet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    worksheet: object,
    name: str,
    limits: ReadLimits,
    vocabularies: Sequence[Vocabulary],
) -> SourceFile:
    """Stream the sheet's rows into table ``raw`` in batches (never all of it in memory)."""
    # The sheet's stated size, when it states one, refuses a huge sheet before any row is read.
    _refuse_too_many_rows(path, name, getattr(worksheet, "max_row", None) or 0, limits)
    rows = worksheet.iter_rows(values_only=True)  # type: ignore[attr-defined]
    head: list[tuple[object, ...]] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    try:
        header_index, header, vocabulary = _find_header(path, head, vocabularies)
        matched, ignored = _match_columns(path, header, vocabulary)
    except UnreadableFileError as exc:
        raise _NoHeaderError(exc.file, exc.zh, exc.en) from None
    wanted = [(i, c) for i, c in enumerate(matched) if c]
    batch = _SheetBatch(con, [c.field for _, c in wanted])

    def take(row_number: int, row: Sequence[object]) -> None:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            return  # blank rows (often below the data) are not records
        _refuse_too_many_rows(path, name, row_number, limits)
        batch.add(row_number, [_cell_text(row[i]) if i < len(row) else None for i, _ in wanted])

    for offset, row in enumerate(head[header_index + 1 :], start=header_index + 2):
        take(offset, row)
    for offset, row in enumerate(rows, start=len(head) + 1):
        take(offset, row)
    batch.flush()
    return SourceFile(
        path,
        "xlsx",
        [c for _, c in wanted],
        ignored,
        sheet=name,
        header_row=header_index + 1,
        kind=vocabulary.kind,
    )


class _SheetBatch:
    """Rows of a sheet, appended to table ``raw`` every ``XLSX_BATCH_ROWS`` rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, fields: list[str]) -> None:
        self.con, self.fields = con, fields
        self.values: list[list[str | None]] = [[] for _ in fields]
        self.numbers: list[int] = []
        columns = ", ".join([*(f'"{f}" VARCHAR' for f in fields), f"{ROW_COLUMN} BIGINT"])
        con.execute(f"CREATE OR REPLACE TABLE {RAW_TABLE} ({columns})")

    def add(self, row_number: int, cells: list[str | None]) -> None:
        for column, cell in zip(self.values, cells, strict=True):
            column.append(cell)
        self.numbers.append(row_number)
        if len(self.numbers) >= XLSX_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        table = pa.table(
            {
                **{
                    f: pa.array(v, pa.string())
                    for f, v in zip(self.fields, self.values, strict=True)
                },
                ROW_COLUMN: pa.array(self.numbers, pa.int64()),
            }
        )
        self.con.register("xlsx_rows", table)
        self.con.execute(f"INSERT INTO {RAW_TABLE} SELECT * FROM xlsx_rows")
        self.con.unregister("xlsx_rows")
        self.values = [[] for _ in self.fields]
        self.numbers = []


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, vocabularies: Sequence[Vocabulary]
) -> SourceFile:
    try:
        names = [
            r[0]
            for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        ]
    except duckdb.Error as exc:
        raise UnreadableFileError(
            path, "无法作为 Parquet 文件读取", f"not a readable Parquet file: {exc}"
        ) from None
    try:
        vocabulary = _find_header(path, [names], vocabularies)[2]
    except UnreadableFileError:  # the first kind's message names the columns missing
        vocabulary = vocabularies[0]
    matched, ignored = _match_columns(path, names, vocabulary)
    select = ", ".join(
        f'CAST("{names[i]}" AS VARCHAR) AS "{c.field}"' for i, c in enumerate(matched) if c
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {RAW_TABLE} AS
            SELECT {select}, (file_row_number + 1)::BIGINT AS {ROW_COLUMN}
            FROM read_parquet(?, file_row_number = true)""",
        [str(path)],
    )
    return SourceFile(
        path, "parquet", [c for c in matched if c], ignored, header_row=0, kind=vocabulary.kind
    )
