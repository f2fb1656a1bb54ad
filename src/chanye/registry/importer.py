"""Import an enterprise file: read, check every row, classify, upsert by USCC — all or nothing.

Valid rows are upserted; invalid rows are not imported and are listed, with the reason, in
``<file>.errors.csv``. Empty cells never erase what the registry already holds. The new registry
is written as a new snapshot and takes effect only when the change row commits.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlalchemy import update

from chanye.registry.classify import (
    build_rules,
)
from chanye.registry.events import ChangeKind, registry_change
from chanye.registry.fact_headers import vocabularies_for
from chanye.registry.fact_import import FACT_KINDS, check_facts, write_facts
from chanye.registry.facts import changes_in_effect
from chanye.registry.housekeeping import clean_scratch
from chanye.registry.reading import ReadLimits, UnreadableFileError, Vocabulary, read_source
from chanye.registry.snapshot import SnapshotWriter
from chanye.registry.storage import (
    RECORD_COLUMNS,
    RegistryPaths,
    change_in_force,
    connect,
    evidence_source,
    snapshot_source,
    writer_lock,
)
from chanye.registry.validation import CHECKED_TABLE, FAULTS_TABLE, validate
from chanye.spreadsheets import FORMULA_LEADS
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.models import RegistryChange, utcnow
from chanye.system.model import IndustrialSystem

Progress = Callable[[str, float], None]

EXIT_OK, EXIT_UNREADABLE, EXIT_REJECTED = 0, 2, 3


def _no_progress(_stage: str, _fraction: float) -> None:
    return None


@dataclass
class ImportResult:
    file: Path
    change_id: int | None = None
    status: str = "done"  # done / strict_rejected / unreadable
    rows: int = 0
    valid: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    total_after: int = 0
    errors_path: Path | None = None
    content: str = "list"  # the file's kind: list / annual / monthly / qualifications
    ignored_headers: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.status == "unreadable":
            return EXIT_UNREADABLE
        return EXIT_REJECTED if self.rejected else EXIT_OK


def errors_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".errors.csv")


class BackgroundDigest:
    """SHA-256 of a file, computed in a thread while the import runs (hashlib releases the GIL,
    so reading a 700 MB file costs no wall time)."""

    def __init__(self, path: Path) -> None:
        self._result: list[str] = []
        self._thread = threading.Thread(
            target=lambda: self._result.append(file_digest(path)), daemon=True
        )
        self._thread.start()

    def value(self) -> str:
        self._thread.join()
        return self._result[0]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mark_interrupted(database_url: str) -> None:
    """Changes left 'running' by a killed process: the lock is ours, so they are not running."""
    with session_scope(database_url) as session:
        session.execute(
            update(RegistryChange)
            .where(RegistryChange.status == "running")
            .values(
                status="failed", finished_at=utcnow(), message="中断（进程被终止）/ interrupted"
            )
        )


def recover_killed_changes(database_url: str, paths: RegistryPaths) -> None:
    """At the start of a change, under the writer lock: what a killed one left is cleared."""
    mark_interrupted(database_url)
    clean_scratch(paths)


def import_file(
    database_url: str,
    paths: RegistryPaths,
    system: IndustrialSystem,
    path: Path,
    actor: Actor,
    *,
    strict: bool = False,
    sheet: str | None = None,
    progress: Progress = _no_progress,
    errors_path: Path | None = None,
    limits: ReadLimits = ReadLimits(),
    kind: str | None = None,
) -> ImportResult:
    """Import the file as the kind its header shows (``kind`` forces one: list, annual,
    monthly, qualifications)."""
    vocabularies = vocabularies_for(kind)
    started = time.perf_counter()
    result = ImportResult(file=path)
    with (
        registry_change(database_url, paths, actor) as change,
        writer_lock(paths),
    ):
        recover_killed_changes(database_url, paths)
        change_id = result.change_id = _start_change(database_url, path, actor)
        con = connect(paths)
        workdir = Path(tempfile.mkdtemp(prefix="import-", dir=paths.scratch))
        try:
            _run(
                con,
                database_url,
                paths,
                system,
                path,
                actor,
                strict,
                sheet,
                progress,
                errors_path or errors_path_for(path),
                result,
                workdir,
                limits,
                vocabularies,
            )
        except UnreadableFileError as exc:
            result.status, result.message = "unreadable", f"{exc.zh} / {exc.en}"
            _fail_change(database_url, change_id, result.message, result)
        except BaseException as exc:
            # Whatever went wrong, the change is not left 'running': it failed, and says why.
            _fail_change(database_url, change_id, f"导入失败：{_reason(exc)}", result)
            raise
        finally:
            con.close()
            shutil.rmtree(workdir, ignore_errors=True)
        result.seconds = time.perf_counter() - started  # the import's own time
        if result.status == "done" and (result.inserted or result.updated):
            change.took_effect(change_id, ChangeKind.IMPORT)
    return result


def _start_change(database_url: str, path: Path, actor: Actor) -> int:
    with session_scope(database_url) as session:
        current = change_in_force(session)
        change = RegistryChange(
            kind="import",
            status="running",
            actor=actor.name,
            file_name=str(path),
            snapshot_before=current.snapshot_after if current else None,
        )
        session.add(change)
        session.flush()
        return change.id


def _fail_change(database_url: str, change_id: int, message: str, result: ImportResult) -> None:
    with session_scope(database_url) as session:
        change = session.get_one(RegistryChange, change_id)
        change.status, change.finished_at, change.message = "failed", utcnow(), message
        change.rows_read, change.rows_valid, change.rows_rejected = (
            result.rows,
            result.valid,
            result.rejected,
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MemoryError | duckdb.OutOfMemoryException):
        return "内存不足，文件过大"
    if isinstance(exc, KeyboardInterrupt):
        return "已中断"
    return f"程序出错（{type(exc).__name__}）"


def _run(
    con: duckdb.DuckDBPyConnection,
    database_url: str,
    paths: RegistryPaths,
    system: IndustrialSystem,
    path: Path,
    actor: Actor,
    strict: bool,
    sheet: str | None,
    progress: Progress,
    errors_path: Path,
    result: ImportResult,
    workdir: Path,
    limits: ReadLimits,
    vocabularies: Sequence[Vocabulary],
) -> None:
    change_id = result.change_id
    assert change_id is not None
    progress("读取 / reading", 0.0)
    source = read_source(
        con, path, sheet, workdir=workdir, limits=limits, vocabularies=vocabularies
    )
    result.ignored_headers, result.content = source.ignored_headers, source.kind
    digest = BackgroundDigest(path)
    with session_scope(database_url) as session:
        before = session.get_one(RegistryChange, change_id).snapshot_before
        held = changes_in_effect(session)
    progress("校验 / checking", 0.2)
    if source.kind in FACT_KINDS:
        counts = check_facts(con, source, system, workdir, snapshot_source(paths, before))
    else:
        counts = validate(con, source, system, workdir)
    result.rows, result.valid, result.rejected = counts.rows, counts.valid, counts.rejected
    if counts.faults:
        write_faults(con, errors_path)
        result.errors_path = errors_path
    elif errors_path.exists():
        errors_path.unlink()  # a stale report from an earlier run would mislead
    if strict and counts.rejected:
        result.status = "strict_rejected"
        result.message = (
            f"--strict：有 {counts.rejected} 行不合格，未导入任何行 / "
            f"--strict: {counts.rejected} rows invalid, nothing imported"
        )
        _fail_change(database_url, change_id, result.message, result)
        return
    if source.kind in FACT_KINDS:
        progress("写入 / writing", 0.6)
        snapshot = before  # the enterprises stay as they are: the facts are a part beside them
        stats = (*write_facts(con, paths, source.kind, change_id, held), _count(con, paths, before))
    else:
        progress("归类 / classifying", 0.4)
        snapshot = paths.new_snapshot_name(change_id)
        stats = write_merged_snapshot(
            con,
            paths,
            system,
            source_fields=[c.field for c in source.columns],
            before=before,
            after=snapshot,
            change_id=change_id,
        )
    result.inserted, result.updated, result.unchanged, result.total_after = stats
    progress("提交 / committing", 0.95)
    with session_scope(database_url) as session:
        change = session.get_one(RegistryChange, change_id)
        change.status, change.finished_at = "done", utcnow()
        change.file_sha256 = digest.value()
        change.rows_read, change.rows_valid, change.rows_rejected = (
            result.rows,
            result.valid,
            result.rejected,
        )
        change.inserted, change.updated, change.unchanged = stats[:3]
        change.total_after, change.snapshot_after = result.total_after, snapshot
        change.content = source.kind
        record(
            session,
            actor,
            "registry.import",
            "registry_change",
            str(change_id),
            before={"snapshot": before},
            after={
                "snapshot": snapshot,
                "file": str(path),
                "content": source.kind,
                "rows": result.rows,
                "valid": result.valid,
                "rejected": result.rejected,
                "inserted": result.inserted,
                "updated": result.updated,
            },
        )
    progress("完成 / done", 1.0)


def _count(con: duckdb.DuckDBPyConnection, paths: RegistryPaths, snapshot: str | None) -> int:
    row = con.execute(f"SELECT count(*) FROM {snapshot_source(paths, snapshot)}").fetchone()
    return int(row[0]) if row else 0


def write_faults(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    """The error report: UTF-8 with BOM so that Excel shows the Chinese; formula-safe cells."""
    tmp = target.with_name(target.name + ".tmp")
    con.execute(
        f"""COPY (
              SELECT row AS "行号 row", column_header AS "列 column",
                     {formula_safe_sql("value")} AS "值 value",
                     reason_zh AS "原因", reason_en AS "reason"
              FROM {FAULTS_TABLE} ORDER BY row, column_header
            ) TO '{tmp}' (HEADER, DELIMITER ',')"""
    )
    with tmp.open("rb") as src, target.open("wb") as dst:
        dst.write(b"\xef\xbb\xbf")
        while chunk := src.read(1 << 22):
            dst.write(chunk)
    tmp.unlink()


XLSX_MAX_ROWS = 1_048_576  # a sheet holds no more, the header included


def errors_xlsx_for(report: Path) -> Path:
    """The error report as XLSX, written once beside the CSV (in write-only mode, row by row
    from the file: a report of a million rows never has to fit in memory)."""
    from openpyxl import Workbook

    target = report.with_suffix(".xlsx")
    if target.exists() and target.stat().st_mtime >= report.stat().st_mtime:
        return target
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("不合格行")
    with report.open(encoding="utf-8-sig", newline="") as handle:
        for index, row in enumerate(csv.reader(handle)):
            if index == XLSX_MAX_ROWS - 1:
                sheet.append(
                    [f"（Excel 一张表最多 {XLSX_MAX_ROWS:,} 行，其余见 CSV 格式的错误报告）"]
                )
                break
            sheet.append([int(row[0]) if index and row[0].isdigit() else row[0], *row[1:]])
    draft = target.with_name(target.name + ".tmp")
    workbook.save(draft)
    draft.replace(target)
    return target


# The start of a formula as an RE2 character class, from the one list of formula leads.
_FORMULA_START = (
    "^[" + "".join({"\t": "\\t", "\r": "\\r", "-": "\\-"}.get(c, c) for c in FORMULA_LEADS) + "]"
)


def formula_safe_sql(column: str) -> str:
    """SQL doing over a whole column what ``chanye.spreadsheets.formula_safe`` does to one cell:
    a ' before a text that starts like a formula, so a spreadsheet shows it as text."""
    return (
        f"CASE WHEN regexp_matches(CAST({column} AS VARCHAR), '{_FORMULA_START}') "
        f"THEN '''' || CAST({column} AS VARCHAR) ELSE CAST({column} AS VARCHAR) END"
    )


# What a new enterprise gets for a field its file does not have.
NEW_ROW_DEFAULTS = {"status": "'active'", "tags": "[]::VARCHAR[]"}


def _merged_column(column: str, source_fields: list[str]) -> str:
    """New value where the file has one (an empty cell keeps the old value), else the old one."""
    if column == "uscc":
        return 'n."uscc" AS "uscc"'
    value = f'coalesce(n."{column}", o."{column}")' if column in source_fields else f'o."{column}"'
    if column in NEW_ROW_DEFAULTS:
        value = f"coalesce({value}, {NEW_ROW_DEFAULTS[column]})"
    return f'{value} AS "{column}"'


def _first_import_columns(source_fields: list[str]) -> str:
    """The record columns of rows that are all new: the file's value, or the default."""
    columns = []
    for column, sql_type in RECORD_COLUMNS.items():
        value = f'n."{column}"' if column in source_fields else f"NULL::{sql_type}"
        if column in NEW_ROW_DEFAULTS:
            value = f"coalesce({value}, {NEW_ROW_DEFAULTS[column]})"
        columns.append(f'{value} AS "{column}"')
    return ", ".join(columns)


def write_merged_snapshot(
    con: duckdb.DuckDBPyConnection,
    paths: RegistryPaths,
    system: IndustrialSystem,
    *,
    source_fields: list[str],
    before: str | None,
    after: str,
    change_id: int,
) -> tuple[int, int, int, int]:
    """Upsert table ``checked`` into the snapshot ``before``, classify what changed, write ``after``.

    Returns (inserted, updated, unchanged, total rows after).
    """
    old = snapshot_source(paths, before)
    con.execute(f"CREATE OR REPLACE TEMP VIEW old AS SELECT * FROM {old}")
    merged = ", ".join(_merged_column(c, source_fields) for c in RECORD_COLUMNS)
    # Only new and changed enterprises are classified again; unchanged rows keep theirs. A value
    # changes when the file has one (empty cells keep the old value) and it differs.
    changed = (
        " OR ".join(
            f'(n."{c}" IS NOT NULL AND n."{c}" IS DISTINCT FROM o."{c}")'
            for c in RECORD_COLUMNS
            if c in source_fields and c != "uscc"
        )
        or "false"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE changed_keys AS
        SELECT n.uscc, true AS is_new FROM {CHECKED_TABLE} n ANTI JOIN old o ON o.uscc = n.uscc
        UNION ALL
        SELECT n.uscc, false FROM {CHECKED_TABLE} n JOIN old o ON o.uscc = n.uscc WHERE {changed}
        """
    )
    if before is None:
        # A first import: every valid row is new, and joining 3.6 million rows against an
        # empty registry (on every scan of the view) would be wasted work.
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW to_classify AS SELECT n.__row, "
            f"{_first_import_columns(source_fields)} FROM {CHECKED_TABLE} n"
        )
    else:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW to_classify AS
            SELECT n.__row, {merged} FROM {CHECKED_TABLE} n SEMI JOIN changed_keys c ON c.uscc = n.uscc
            LEFT JOIN old o ON o.uscc = n.uscc
            """
        )
    writer = SnapshotWriter(con, paths, after)
    if before is not None:
        writer.carry(
            "SELECT o.* FROM old o ANTI JOIN changed_keys c ON o.uscc = c.uscc",
            f"SELECT e.* FROM {evidence_source(paths, before)} e ANTI JOIN changed_keys c ON e.uscc = c.uscc",
        )
    writer.classify(build_rules(system), "to_classify", str(change_id))
    total = writer.commit()
    counts = con.execute(
        f"""SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new),
                   (SELECT count(*) FROM {CHECKED_TABLE}) - count(*)
            FROM changed_keys"""
    ).fetchone()
    assert counts is not None
    return int(counts[0]), int(counts[1]), int(counts[2]), total
