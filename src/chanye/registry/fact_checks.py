"""Type and check a file of facts over time (annual figures, 快报, qualifications) in DuckDB.

The rules of the enterprise list hold: every fault names its row, column and value; a row with
any fault is not imported at all (nothing half-written); the valid rows' facts land in view
``new_facts`` (or ``new_qualifications``), the faults in table ``faults`` as for the list. Each
row of an annual or monthly file becomes one fact per filled indicator cell, unpivoted in SQL, so
a file of 18 million facts is typed in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from chanye.beijing import today_in_beijing
from chanye.registry.indicators import INDICATOR_BY_ID
from chanye.registry.reading import (
    OVERFLOW_COLUMN,
    ROW_COLUMN,
    SourceFile,
    read_csv_rows,
    refuse_unparsable,
)
from chanye.registry.validation import (
    FAULTS_TABLE,
    REASONS,
    USCC_SQL,
    FieldSql,
    ValidationCounts,
    case_sql,
    date_sql,
    load_reasons,
    money_sql,
    sql_text,
    uscc_expressions,
    whole_number_sql,
    with_stages,
)
from chanye.system.model import QUALIFICATION_LEVELS, IndustrialSystem

NEW_FACTS = "new_facts"
NEW_QUALIFICATIONS = "new_qualifications"
FACT_REASONS: dict[str, tuple[str, str]] = {
    "unknown_uscc": (
        "企业库中没有这家企业（请先导入企业名录）",
        "no such enterprise in the registry (import the enterprise list first)",
    ),
    "year": ("无法识别的年度（如 2023、2023年）", "not a year (2023, 2023年)"),
    "future_year": ("年度晚于今年", "year is in the future"),
    "period": (
        "无法识别的期间（如 2025-03、2025年3月、2025年1-3月，须写明年份）",
        "not a period (2025-03, 2025年3月, 2025年1-3月, with the year)",
    ),
    "future_period": ("期间晚于本月", "period is in the future"),
    "duplicate_row": (
        "与第 {extra} 行重复（同一企业、同一期间）",
        "same enterprise and period as row {extra}",
    ),
    "kind": ("未知的资质（可用：{extra}）", "unknown qualification kind (known: {extra})"),
    "level": (
        "未知的级别（可用：" + "、".join(QUALIFICATION_LEVELS) + "）",
        "unknown level",
    ),
    "valid_before": ("有效期至早于认定日期", "valid until is before the date recognised"),
    "duplicate_qualification": (
        "与第 {extra} 行重复（同一企业、资质和认定日期）",
        "same enterprise, kind and date recognised as row {extra}",
    ),
}
LEVEL_NAMES = {
    **{level: level for level in QUALIFICATION_LEVELS},
    **{level.removesuffix("级"): level for level in QUALIFICATION_LEVELS},
    "国家": "国家级",
    "部级": "国家级",
}


def _quoted_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _materialise(con: duckdb.DuckDBPyConnection, source: SourceFile) -> None:
    """The file's rows as view ``source_rows`` (text columns and ``__row``), read once into a
    DuckDB table (which spills to the scratch directory when it must): a CSV's rows keep the
    file's order there, so its ``rowid`` numbers them as a spreadsheet does."""
    fields = [f'"{c.field}"' for c in source.columns]
    if source.format == "csv":
        fields.append(f'"{OVERFLOW_COLUMN}"')
    has_row = source.row_offset is None

    def copy(relation: str) -> None:
        head = f"{ROW_COLUMN}, " if has_row else ""
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE source_raw AS "
            f"SELECT {head}{', '.join(fields)} FROM {relation}"
        )

    if source.format == "csv":
        read_csv_rows(source, copy)
        refuse_unparsable(con, source.path)
    else:
        copy(source.relation)
    numbered = ROW_COLUMN if has_row else f"rowid + {source.row_offset} AS {ROW_COLUMN}"
    overflow = "" if source.format == "csv" else f", NULL::VARCHAR AS {OVERFLOW_COLUMN}"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW source_rows AS SELECT {numbered}, "
        f"{', '.join(fields)}{overflow} FROM source_raw"
    )
    con.execute("SET preserve_insertion_order = false")


def _year_sql() -> FieldSql:
    text = "regexp_replace(trim(period__raw), '\\s', '', 'g')"
    year = f"TRY_CAST(regexp_extract({text}, '^((?:19|20)[0-9]{{2}})(?:年度?)?$', 1) AS INTEGER)"
    return FieldSql(
        "CAST(period__y AS VARCHAR)",
        "CASE WHEN nullif(trim(period__raw), '') IS NULL THEN 'missing' "
        "WHEN period__y IS NULL THEN 'year' "
        f"WHEN period__y > {today_in_beijing().year} THEN 'future_year' END",
        ((("period__y", year),),),
    )


PERIOD_PATTERN = (
    "^((?:19|20)[0-9]{2})(?:年|-|/|\\.)?(?:(1)[-－—~～至])?([0-9]{1,2})月?(?:份|累计)?$"
)


def _period_lookup(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``period_lookup``: each distinct period text of the file with its parts. A 快报
    holds a dozen periods over a million rows: the pattern runs a dozen times, not a million."""
    text = "regexp_replace(trim(raw), '\\s', '', 'g')"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE period_lookup AS
            SELECT raw, regexp_extract({text}, '{PERIOD_PATTERN}', ['y', 's', 'm']) AS parts
            FROM (SELECT DISTINCT "period" AS raw FROM source_rows WHERE "period" IS NOT NULL)"""
    )


def _month_sql() -> FieldSql:
    parts = "(SELECT l.parts FROM period_lookup l WHERE l.raw = period__raw)"
    month = "TRY_CAST(nullif(period__parts.m, '') AS INTEGER)"
    this_month = today_in_beijing().strftime("%Y-%m")
    return FieldSql(
        "period__p",
        "CASE WHEN nullif(trim(period__raw), '') IS NULL THEN 'missing' "
        "WHEN period__p IS NULL THEN 'period' "
        f"WHEN period__p > '{this_month}' THEN 'future_period' END",
        (
            (("period__parts", parts),),
            (
                (
                    "period__p",
                    f"CASE WHEN {month} BETWEEN 1 AND 12 THEN period__parts.y || '-' || "
                    f"lpad(CAST({month} AS VARCHAR), 2, '0') END",
                ),
                ("period__range", "coalesce(period__parts.s = '1', false)"),
            ),
        ),
    )


WIDE_PERIOD = FieldSql("NULL::VARCHAR", "NULL::VARCHAR")


def _registry_keys(con: duckdb.DuckDBPyConnection, registry: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE registry_keys AS SELECT uscc FROM {registry}")


ROW_KEPT = (
    "CASE WHEN uscc__fault IS NOT NULL THEN uscc__raw END AS uscc__raw",
    "uscc_expected",
    "overflow__raw",
    "u",
)


def _typed_rows(
    con: duckdb.DuckDBPyConnection,
    extra: dict[str, FieldSql],
    raw: str,
    kept: Sequence[str] = ("*",),
) -> None:
    """Table ``typed_rows``: each row's USCC checked (and known to the registry) with the
    row-level fields of ``extra`` typed (``{name}`` value, ``{name}__err`` fault).

    The registry holds only valid codes, so a code it holds needs no check character worked out:
    only the others are checked, to say what is wrong with them."""
    norm, expected = uscc_expressions()
    joined = (
        f"(SELECT s.*, k.uscc IS NOT NULL AS known FROM (SELECT *, {norm} AS u FROM "
        f'(SELECT {ROW_COLUMN}, "uscc" AS uscc__raw, {raw}, "{OVERFLOW_COLUMN}" AS overflow__raw '
        "FROM source_rows)) s LEFT JOIN registry_keys k ON k.uscc = s.u)"
    )
    prepared = f"(SELECT *, CASE WHEN NOT known THEN {expected} END AS uscc_expected FROM {joined})"
    staged = with_stages(prepared, list(extra.values()))
    typed = ", ".join(
        f'{sql.value} AS "{n}", {sql.error} AS "{n}__err"' for n, sql in extra.items()
    )
    # Only what the checks after need is kept (``kept``: SQL of the columns besides the typed
    # ones): a city-sized file's text stays behind, but where it is at fault.
    names = [f'"{n}", "{n}__err"' for n in extra]
    columns = (
        ", ".join([ROW_COLUMN, *ROW_KEPT, "uscc__fault", *names, *kept]) if kept != ("*",) else "*"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE typed_rows AS SELECT {columns} FROM (
            SELECT *, CASE WHEN known THEN NULL
                           ELSE coalesce({USCC_SQL.error}, 'unknown_uscc') END AS uscc__fault
                   {", " + typed if typed else ""}
            FROM {staged})"""
    )


def _value_columns(source: SourceFile) -> list[tuple[int, str, str, str]]:
    """The indicator columns: (position, field, indicator id, header)."""
    found = []
    for position, column in enumerate(source.columns):
        base = column.field.partition("@")[0]
        if base in INDICATOR_BY_ID:
            found.append((position, column.field, base, column.header))
    return found


def _value_sql(source: SourceFile) -> tuple[str, dict[str, FieldSql]]:
    """The raw value columns (``v{position}__raw``) and how each is typed (money in yuan with the
    header's unit, or persons)."""
    raw, typed = [], {}
    for position, field, base, _header in _value_columns(source):
        name = f"v{position}"
        raw.append(f'"{field}" AS {name}__raw')
        unit = next(c.unit for c in source.columns if c.field == field)
        indicator = INDICATOR_BY_ID[base]
        money = money_sql(name, str(unit), signed=indicator.signed)
        typed[name] = whole_number_sql(name) if indicator.unit == "persons" else money
    return ", ".join(raw), typed


def _measure(source: SourceFile, qualifier: str) -> str:
    """SQL for a cell's measure: a year's figure; in a 快报 the column's mark, an unmarked column
    being 累计 in a 1–N月 period and the month's own otherwise. 1–2月 reported together is 累计
    either way (January has no figure of its own)."""
    if source.kind == "annual":
        return "'year'"
    marked = f"'{qualifier}'" if qualifier else "NULL"
    return (
        f"CASE WHEN period__range AND (right(period, 2) = '02' OR {marked} IS NULL) "
        f"THEN 'ytd' ELSE coalesce({marked}, 'month') END"
    )


def _cells(source: SourceFile) -> str:
    """One row per filled indicator cell of a valid row: the fact it states."""
    selects = []
    for position, field, base, _header in _value_columns(source):
        qualifier = field.partition("@")[2]
        period = f"'{qualifier}'" if source.kind == "annual" and qualifier else "period"
        selects.append(
            f"""SELECT u AS uscc, {sql_text(base)} AS indicator, {period} AS period,
                       {_measure(source, qualifier)} AS measure,
                       CAST(v{position} AS DOUBLE) AS value
                FROM valid_rows WHERE v{position} IS NOT NULL"""
        )
    return " UNION ALL ".join(selects)


def check_indicator_file(
    con: duckdb.DuckDBPyConnection, source: SourceFile, workdir: Path, registry: str
) -> ValidationCounts:
    """Annual figures or 快报: view ``new_facts`` (uscc, indicator, period, measure, value).

    Every value is typed once per row (a row holds its cells side by side); a duplicate is a
    later row of the same enterprise and period (a wide layout: of the same enterprise)."""
    _materialise(con, source)
    _registry_keys(con, registry)
    if source.kind == "monthly":
        _period_lookup(con)
        period, raw = _month_sql(), '"period" AS period__raw'
    elif source.column("year") is not None:
        period, raw = _year_sql(), '"year" AS period__raw'
    else:  # a wide layout: the years are in the headers
        period, raw = WIDE_PERIOD, "NULL::VARCHAR AS period__raw"
    values_raw, values = _value_sql(source)
    kept = [
        "CASE WHEN period__err IS NOT NULL THEN period__raw END AS period__raw",
        *(["period__range"] if source.kind == "monthly" else []),
        *(f"CASE WHEN {v}__err IS NOT NULL THEN {v}__raw END AS {v}__raw" for v in values),
    ]
    _typed_rows(con, {"period": period, **values}, f"{raw}, {values_raw}", kept)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE duplicates AS
            SELECT t.{ROW_COLUMN}, t.u, f.first_row FROM typed_rows t JOIN (
                SELECT u, period, min({ROW_COLUMN}) AS first_row FROM typed_rows
                WHERE uscc__fault IS NULL AND period__err IS NULL
                GROUP BY u, period HAVING count(*) > 1) f
              ON f.u = t.u AND f.period IS NOT DISTINCT FROM t.period
            WHERE t.{ROW_COLUMN} <> f.first_row"""
    )
    period_header = source.column("year") or source.column("period")
    uscc_column = source.column("uscc")
    uscc_header = sql_text(uscc_column.header if uscc_column else "")
    faults = [
        *_row_faults(source, "period", period_header.header if period_header else ""),
        *(
            f"""SELECT {ROW_COLUMN}, {sql_text(header)}, v{position}__raw, v{position}__err, NULL
                FROM typed_rows WHERE v{position}__err IS NOT NULL"""
            for position, _field, _base, header in _value_columns(source)
        ),
        f"""SELECT {ROW_COLUMN}, {uscc_header}, u, 'duplicate_row', CAST(first_row AS VARCHAR)
            FROM duplicates""",
    ]
    _build_faults(con, faults)
    faulty = con.execute(f"SELECT count(*) FROM {FAULTS_TABLE}").fetchone()
    con.execute(
        "CREATE OR REPLACE TEMP VIEW valid_rows AS SELECT * FROM typed_rows"
        if not faulty or not faulty[0]
        else f"""CREATE OR REPLACE TEMP VIEW valid_rows AS
            SELECT * FROM typed_rows ANTI JOIN (SELECT DISTINCT row FROM {FAULTS_TABLE}) f
              ON f.row = typed_rows.{ROW_COLUMN}"""
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {NEW_FACTS} AS {_cells(source)}")
    return _counts(con)


def _row_faults(source: SourceFile, field: str, header: str) -> list[str]:
    """The faults of the row-level columns: USCC (and the registry), ``field``, the overflow."""
    column = source.column("uscc")
    uscc = sql_text(column.header if column else "")
    selects = [
        f"""SELECT {ROW_COLUMN} AS row, {uscc} AS column_header, uscc__raw AS value,
                   uscc__fault AS code,
                   CASE WHEN uscc__fault = 'uscc_checksum' THEN uscc_expected END AS extra
            FROM typed_rows WHERE uscc__fault IS NOT NULL""",
        f"""SELECT {ROW_COLUMN}, '', overflow__raw, 'overflow', NULL FROM typed_rows
            WHERE overflow__raw IS NOT NULL""",
    ]
    if field:
        selects.append(
            f"""SELECT {ROW_COLUMN}, {sql_text(header)}, period__raw, {field}__err, NULL
                FROM typed_rows WHERE {field}__err IS NOT NULL"""
        )
    return selects


def _build_faults(
    con: duckdb.DuckDBPyConnection, selects: list[str], extras: dict[str, str] | None = None
) -> None:
    load_reasons(con, {**REASONS, **FACT_REASONS})
    fixed = case_sql("f.code", extras) if extras else "NULL"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {FAULTS_TABLE} AS
        SELECT f.row, f.column_header, f.value, f.code,
               replace(r.zh, '{{extra}}', coalesce(f.extra, {fixed}, '')) AS reason_zh,
               replace(r.en, '{{extra}}', coalesce(f.extra, {fixed}, '')) AS reason_en
        FROM ({" UNION ALL ".join(selects)}) f JOIN reasons r USING (code)
        ORDER BY f.row, f.column_header
        """
    )


def _counts(con: duckdb.DuckDBPyConnection) -> ValidationCounts:
    row = con.execute(
        f"SELECT (SELECT count(*) FROM typed_rows), "
        f"(SELECT count(DISTINCT row) FROM {FAULTS_TABLE}), (SELECT count(*) FROM {FAULTS_TABLE})"
    ).fetchone()
    assert row is not None
    rows, rejected, faults = (int(n) for n in row)
    return ValidationCounts(rows=rows, valid=rows - rejected, rejected=rejected, faults=faults)


def _kind_names(system: IndustrialSystem) -> dict[str, str]:
    """Every spelling of a qualification kind, without spaces and with plain quotes → its id."""
    names: dict[str, str] = {}
    for kind in system.qualification_kinds:
        for name in kind.names:
            names[_plain_quotes(name.replace(" ", ""))] = kind.id
    return names


def _plain_quotes(text: str) -> str:
    return text.replace("“", '"').replace("”", '"')


def check_qualification_file(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    system: IndustrialSystem,
    workdir: Path,
    registry: str,
) -> ValidationCounts:
    """Qualifications: view ``new_qualifications`` (uscc, kind, level, recognised_on,
    valid_until, reference); an end date left blank is the kind's default validity."""
    _materialise(con, source)
    _registry_keys(con, registry)
    plain = "replace(replace(replace(trim(kind__raw), ' ', ''), '“', '\"'), '”', '\"')"
    kind = FieldSql(
        "kind__id",
        "CASE WHEN nullif(trim(kind__raw), '') IS NULL THEN 'missing' "
        "WHEN kind__id IS NULL THEN 'kind' END",
        ((("kind__id", case_sql(plain, _kind_names(system))),),),
    )
    level = FieldSql(
        "level__l",
        "CASE WHEN nullif(trim(level__raw), '') IS NOT NULL AND level__l IS NULL THEN 'level' END",
        ((("level__l", case_sql("trim(level__raw)", LEVEL_NAMES)),),),
    )
    recognised = date_sql("recognised_on")
    recognised = FieldSql(
        recognised.value,
        f"CASE WHEN recognised_on__raw IS NULL OR trim(recognised_on__raw) = '' THEN 'missing' "
        f"ELSE {recognised.error} END",
        recognised.stages,
    )
    until = date_sql("valid_until", future=True)
    defaults = {k.id: str(k.valid_years) for k in system.qualification_kinds if k.valid_years}
    default_until = (
        f"CAST(recognised_on__p + to_years(CAST({case_sql('kind__id', defaults)} AS INTEGER)) "
        "- INTERVAL 1 DAY AS DATE)"
    )
    ends = FieldSql(
        f"coalesce({until.value}, {default_until})",
        f"CASE WHEN {until.value} < recognised_on__p THEN 'valid_before' ELSE {until.error} END",
        until.stages,
    )
    present = {c.field for c in source.columns}
    raw = ", ".join(
        f'"{f}" AS {f}__raw' if f in present else f"NULL::VARCHAR AS {f}__raw"
        for f in ("kind", "level", "recognised_on", "valid_until", "reference")
    )
    fields = {"kind": kind, "level": level, "recognised_on": recognised, "valid_until": ends}
    _typed_rows(con, fields, raw)
    headers = {c.field: c.header for c in source.columns}
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE duplicates AS
            SELECT t.{ROW_COLUMN}, f.first_row, t.kind__raw FROM typed_rows t JOIN (
                SELECT u, kind, recognised_on, min({ROW_COLUMN}) AS first_row FROM typed_rows
                WHERE uscc__fault IS NULL AND kind__err IS NULL AND recognised_on__err IS NULL
                GROUP BY ALL HAVING count(*) > 1) f
              USING (u, kind, recognised_on)
            WHERE t.{ROW_COLUMN} <> f.first_row"""
    )
    faults = _row_faults(source, "", "")
    for name in fields:
        if name in headers:
            faults.append(
                f"""SELECT {ROW_COLUMN}, {sql_text(headers[name])}, {name}__raw, {name}__err, NULL
                    FROM typed_rows WHERE {name}__err IS NOT NULL"""
            )
    faults.append(
        f"""SELECT {ROW_COLUMN}, {sql_text(headers["kind"])}, kind__raw, 'duplicate_qualification',
                   CAST(first_row AS VARCHAR) FROM duplicates"""
    )
    known = "、".join(k.label for k in system.qualification_kinds)
    _build_faults(con, faults, {"kind": known})
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {NEW_QUALIFICATIONS} AS
            SELECT u AS uscc, kind, level, recognised_on, valid_until,
                   nullif(trim(reference__raw), '') AS reference
            FROM typed_rows WHERE {ROW_COLUMN} NOT IN (SELECT row FROM {FAULTS_TABLE})"""
    )
    return _counts(con)
