"""``chanye audit ...``: check the audit log's hash chain and export it (see docs/cli.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from chanye.cli.startup import CLI_ACTOR, err, migrated_database_url, out
from chanye.portal import audit_search
from chanye.store.audit import record, verify_chain
from chanye.store.database import session_scope

audit_app = typer.Typer(
    help="The audit log (审计日志): verify the chain, export.", no_args_is_help=True
)
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every row's hash and link; exit 1 and print the ids of rows that do not hold."""
    with session_scope(migrated_database_url()) as db:
        broken = verify_chain(db)
        kept = audit_search.retention(db)
    if broken:
        out.print(
            f"发现 {len(broken)} 条记录被篡改 / audit chain broken at {len(broken)} rows:",
            markup=False,
        )
        out.print(" ".join(str(i) for i in broken), markup=False)
        sys.exit(1)
    out.print(f"审计链完整 / audit chain intact: {kept.rows} rows", markup=False)
    out.print(kept.zh, markup=False)


@audit_app.command("export")
def audit_export(
    path: Annotated[Path, typer.Argument(help="Where to write: a .csv or .xlsx file.")],
    since: Annotated[
        str, typer.Option(help="First day (Beijing date, YYYY-MM-DD), included.")
    ] = "",
    until: Annotated[str, typer.Option(help="Last day (Beijing date), included.")] = "",
    actor: Annotated[str, typer.Option(help="Only accounts whose name contains this.")] = "",
    action: Annotated[str, typer.Option(help="Only actions starting with this.")] = "",
) -> None:
    """Write the audit log (newest first, optionally filtered) to a CSV or Excel file."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        err.print(f"文件须以 .csv 或 .xlsx 结尾 / {path}: use a .csv or .xlsx file", markup=False)
        sys.exit(2)
    try:
        flt = audit_search.make_filter(since=since, until=until, actor=actor, action=action)
    except audit_search.FilterError as refused:
        err.print(str(refused), markup=False)
        sys.exit(2)
    with session_scope(migrated_database_url()) as db:
        export = audit_search.export_csv if kind == "csv" else audit_search.export_xlsx
        content = export(db, flt)
        rows = audit_search.search(db, flt, page_size=1).total
        path.write_bytes(content)
        record(
            db,
            CLI_ACTOR,
            "audit.export",
            "audit_log",
            None,
            after={"filter": flt.as_params(), "format": kind, "file": str(path)},
        )
    out.print(f"已导出 {rows} 条审计记录到 {path} / exported", markup=False)
