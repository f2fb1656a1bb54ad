"""``chanye registry ...``: the enterprise registry on the command line (see docs/cli.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from chanye.cli.startup import CLI_ACTOR, err, migrated_settings, out
from chanye.registry.changes import ChangeRefusedError, reclassify, rollback
from chanye.registry.context import RegistryContext
from chanye.registry.fact_headers import KIND_LABELS
from chanye.registry.importer import ImportResult, import_file
from chanye.registry.overrides import clear_override, set_override
from chanye.registry.queries import RegistryReader
from chanye.registry.storage import RegistryBusyError
from chanye.store import policy_runs
from chanye.store.database import session_scope
from chanye.store.models import RegistryChange
from chanye.units import format_yuan

registry_app = typer.Typer(help="The enterprise registry (企业库).", no_args_is_help=True)
FAULTS_SHOWN = 10


def _context() -> RegistryContext:
    context = RegistryContext.from_settings(migrated_settings())
    context.tidy()
    return context


@contextmanager
def _reader() -> Iterator[RegistryReader]:
    reader = _context().reader()
    try:
        yield reader
    finally:
        reader.close()


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn refusals into a message and exit 1, without a traceback."""
    try:
        yield
    except (ChangeRefusedError, RegistryBusyError, ValueError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None


@registry_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="CSV, XLSX or Parquet file.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Import nothing unless every row is valid.")
    ] = False,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet to read.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="The file's kind: list, annual, monthly or qualifications "
            "(recognised from its headers when not given).",
        ),
    ] = None,
) -> None:
    """Import enterprises (check every row, classify, upsert by USCC), or their facts over time:
    annual figures, monthly 快报, qualifications.

    Exit 0: every row valid. 3: some rows rejected (listed in PATH.errors.csv), the rest imported
    (with --strict: nothing imported). 2: the file cannot be read; nothing imported.
    """
    context = _context()
    runs_before = policy_runs.last_run_id(context.database_url)
    with (
        _refusals(),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("导入 / importing", total=1.0)
        result = import_file(
            context.database_url,
            context.paths,
            context.system,
            path,
            CLI_ACTOR,
            strict=strict,
            sheet=sheet,
            kind=kind,
            limits=context.limits,
            progress=lambda stage, done: bar.update(task, description=stage, completed=done),
        )
    _report(result)
    _say_rematched(context, runs_before)
    raise typer.Exit(result.exit_code)


def _say_rematched(context: RegistryContext, runs_before: int) -> None:
    """Name the published policies the change re-matched (the composition root's subscriber ran
    them inside the change's command)."""
    count = policy_runs.runs_after(context.database_url, runs_before)
    if count:
        err.print(
            f"已按新的企业库重新匹配 {count} 项已发布政策 / {count} published policies re-matched",
            markup=False,
        )


def _report(result: ImportResult) -> None:
    if result.status == "unreadable":
        err.print(f"{result.file}: {result.message}", markup=False)
        err.print("未导入任何数据 / nothing imported")
        return
    rows = (
        f"{result.file}: {result.rows} 行 rows, {result.valid} 合格 valid, "
        f"{result.rejected} 不合格 rejected; "
    )
    if result.content == "list":
        counts = (
            f"新增 inserted {result.inserted}, 更新 updated {result.updated}, "
            f"未变 unchanged {result.unchanged}; 企业库共 {result.total_after} 家 enterprises"
        )
    else:
        counts = (
            f"{KIND_LABELS[result.content]}：新增 new {result.inserted} 条, "
            f"修订 revised {result.updated} 条（原值保留）, 未变 unchanged {result.unchanged} 条"
        )
    err.print(f"{rows}{counts} ({result.seconds:.1f} s)", markup=False)
    if result.ignored_headers:
        err.print(
            f"未识别的列（已忽略）/ ignored columns: {'、'.join(result.ignored_headers)}",
            markup=False,
        )
    if result.errors_path:
        err.print(
            f"不合格行及原因见 / rejected rows and reasons: {result.errors_path}", markup=False
        )
        _print_first_faults(result.errors_path)
    if result.message:
        err.print(result.message, markup=False)


def _print_first_faults(path: Path) -> None:
    with path.open(encoding="utf-8-sig") as handle:
        next(handle, None)
        for line, _ in zip(handle, range(FAULTS_SHOWN), strict=False):
            err.print("  " + line.rstrip("\n"), markup=False)


@registry_app.command("export")
def export_command(
    path: Annotated[Path, typer.Argument(help="Target .csv, .xlsx or .parquet.")],
) -> None:
    """Export the registry (Chinese headers, money in yuan; re-importable)."""
    with _refusals(), _reader() as reader:
        count = reader.export(path)
    out.print(f"已导出 {count} 家企业 / exported {count} enterprises → {path}", markup=False)


@registry_app.command("show")
def show_command(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one enterprise with its classification, the evidence for it and its facts over time."""
    context = _context()
    reader = context.reader()
    try:
        record = reader.show(uscc, context.facts())
    finally:
        reader.close()
    if record is None:
        err.print(f"企业库中没有 {uscc} / no enterprise {uscc}", markup=False)
        raise typer.Exit(1)
    if as_json:
        json.dump(record, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return
    table = Table(show_header=False)
    for key, value in record.items():
        if key not in ("evidence", "confidence"):
            table.add_row(
                key,
                format_yuan(value)
                if key in ("revenue", "rd_expense", "registered_capital") and value is not None
                else str(value),
            )
    out.print(table)
    for item in record["evidence"]:
        out.print(
            f"  {item['industry']} / {item['link'] or '-'} ← {item['via']} {item['value']}",
            markup=False,
        )


@registry_app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts by cluster, district, tag and status."""
    with _reader() as reader:
        stats = reader.stats()
    if as_json:
        json.dump(stats, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    out.print(
        f"企业总数 / enterprises: {stats['total']}（未归类 unclassified {stats['unclassified']}）"
    )
    for title, key in (
        ("产业集群", "by_cluster"),
        ("区", "by_district"),
        ("标签", "by_tag"),
        ("状态", "by_status"),
    ):
        table = Table(title=title)
        table.add_column(key)
        table.add_column("企业数", justify="right")
        for name, value in stats[key].items():
            count = value["enterprises"] if isinstance(value, dict) else value
            table.add_row(name, str(count))
        out.print(table)


@registry_app.command("imports")
def imports_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every change of the registry: imports, re-classifications, rollbacks."""
    context = _context()
    with session_scope(context.database_url) as session:
        changes = session.scalars(select(RegistryChange).order_by(RegistryChange.id)).all()
        rows = [
            {
                "id": c.id,
                "kind": c.kind,
                "content": c.content,
                "status": c.status,
                "actor": c.actor,
                "file": c.file_name,
                "started_at": c.started_at.isoformat(),
                "rows": c.rows_read,
                "valid": c.rows_valid,
                "rejected": c.rows_rejected,
                "inserted": c.inserted,
                "updated": c.updated,
                "total_after": c.total_after,
                "undoes": c.undoes,
                "message": c.message,
            }
            for c in changes
        ]
    if as_json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    table = Table(
        "id",
        "kind",
        "content",
        "status",
        "who",
        "when",
        "file",
        "rows",
        "rejected",
        "inserted",
        "updated",
        "total",
    )
    for r in rows:
        table.add_row(
            *(
                str(r[k] if r[k] is not None else "")
                for k in (
                    "id",
                    "kind",
                    "content",
                    "status",
                    "actor",
                    "started_at",
                    "file",
                    "rows",
                    "rejected",
                    "inserted",
                    "updated",
                    "total_after",
                )
            )
        )
    out.print(table)


@registry_app.command("rollback")
def rollback_command(
    change_id: Annotated[int, typer.Argument(help="Id from `chanye registry imports`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask: undo after printing the consequence.")
    ] = False,
) -> None:
    """Restore the registry as it was before that change (later changes are undone too).

    Prints the consequence first (enterprises deleted and restored, pushes withdrawn) and asks;
    without a terminal it refuses unless --yes. Undoing a rollback is a redo.
    """
    context = _context()
    with _refusals():
        plan = _policies().rollback_consequence(context, change_id)
    out.print(plan.sentence(), markup=False)
    if not yes:
        _ask_or_refuse("确认撤销吗？")
    with _refusals():
        runs_before = policy_runs.last_run_id(context.database_url)
        result = rollback(context.database_url, context.paths, change_id, CLI_ACTOR, plan.in_force)
    undone = "、".join(str(i) for i in result.undone)
    revived = "、".join(str(i) for i in result.revived)
    again = f"，第 {revived} 次变更重新生效" if revived else ""
    out.print(
        f"已撤销变更 {undone}{again}，企业库恢复为 {result.total_after} 家 / undone {undone}; "
        f"registry back to {result.total_after} enterprises",
        markup=False,
    )
    _say_rematched(context, runs_before)


def _ask_or_refuse(question: str) -> None:
    """Ask on the terminal; with no terminal (a script, a pipe) refuse: it must say --yes."""
    if not sys.stdin.isatty():
        err.print(
            "没有可确认的终端：确认后果无误后，请加 --yes 再执行。未做任何更改。", markup=False
        )
        raise typer.Exit(1)
    if not typer.confirm(question, default=False):
        err.print("已取消，未做任何更改。", markup=False)
        raise typer.Exit(1)


@registry_app.command("classify")
def classify_command() -> None:
    """Re-run classification over the whole registry (after the system file changed)."""
    context = _context()
    runs_before = policy_runs.last_run_id(context.database_url)
    with _refusals():
        result = reclassify(context.database_url, context.paths, context.system, CLI_ACTOR)
    out.print(
        f"已重新归类 {result.enterprises} 家企业，{result.changed} 家归类有变化（{result.seconds:.1f} s）/ "
        f"classified {result.enterprises}, {result.changed} changed",
        markup=False,
    )
    _say_rematched(context, runs_before)


@registry_app.command("override")
def override_command(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码")],
    industry: Annotated[
        list[str] | None, typer.Option("--industry", help="Industry id (repeat).")
    ] = None,
    link: Annotated[
        list[str] | None, typer.Option("--link", help="Chain-link id (repeat).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    clear: Annotated[bool, typer.Option("--clear", help="Remove the override.")] = False,
) -> None:
    """Place an enterprise by hand (kept across re-imports), or --clear that placement."""
    context = _context()
    with _refusals():
        if clear:
            removed = clear_override(context.database_url, context.paths, uscc, CLI_ACTOR)
            out.print(
                "已取消人工归类 / override removed"
                if removed
                else "该企业没有人工归类 / no override"
            )
            return
        with _reader() as reader:
            if reader.show(uscc) is None:
                raise ChangeRefusedError(f"企业库中没有 {uscc}", f"no enterprise {uscc}")
        set_override(
            context.database_url,
            context.paths,
            context.system,
            uscc,
            industry or [],
            link or [],
            reason,
            CLI_ACTOR,
        )
    out.print(
        f"已保存人工归类 / override saved: {uscc} → {', '.join(industry or []) or '（无 none）'}",
        markup=False,
    )


def _policies() -> ModuleType:
    """The policy engine, loaded only by the commands that change the registry (a quarter of a
    second that ``show``, ``stats`` and ``imports`` need not pay)."""
    from chanye.policy import service

    return service
