"""An import of facts over time, once its rows are checked: what is new, what revises a value in
force, and the part of facts that holds both (``chanye.registry.facts``).

The import itself (the change row, the error report, ``--strict``, the audit row) is the
enterprise list's (``chanye.registry.importer``); only checking and writing differ.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from chanye.registry.fact_checks import (
    NEW_FACTS,
    NEW_QUALIFICATIONS,
    check_indicator_file,
    check_qualification_file,
)
from chanye.registry.facts import (
    FACT_KEY,
    PART_COLUMNS,
    QUALIFICATION_KEY,
    facts_dir,
    in_force_source,
    part_path,
    parts_in_force,
)
from chanye.registry.reading import SourceFile
from chanye.registry.snapshot import PARQUET
from chanye.registry.storage import RegistryPaths
from chanye.registry.validation import ValidationCounts
from chanye.system.model import IndustrialSystem

FACT_KINDS = ("annual", "monthly", "qualifications")


def check_facts(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    system: IndustrialSystem,
    workdir: Path,
    registry: str,
) -> ValidationCounts:
    """Check a file of facts against the registry (SQL of its enterprises)."""
    if source.kind == "qualifications":
        return check_qualification_file(con, source, system, workdir, registry)
    return check_indicator_file(con, source, workdir, registry)


def _table(kind: str) -> tuple[str, str, tuple[str, ...]]:
    """The part's table, the view of checked rows, and the key of one fact."""
    if kind == "qualifications":
        return "qualifications", NEW_QUALIFICATIONS, QUALIFICATION_KEY
    return "facts", NEW_FACTS, FACT_KEY


def _write(con: duckdb.DuckDBPyConnection, select: str, change_id: int, draft: Path) -> int:
    """Write the rows of ``select`` as a part of facts; returns how many."""
    quoted = str(draft).replace("'", "''")
    row = con.execute(
        f"COPY (SELECT *, {change_id}::BIGINT AS change_id FROM ({select})) "
        f"TO '{quoted}' ({PARQUET})"
    ).fetchone()
    return int(row[0]) if row else 0


def write_facts(
    con: duckdb.DuckDBPyConnection,
    paths: RegistryPaths,
    kind: str,
    change_id: int,
    in_effect: frozenset[int],
) -> tuple[int, int, int]:
    """Write the new and revised facts as the change's part. Returns (new, revised, unchanged);
    nothing is written when nothing is new."""
    table, checked, key = _table(kind)
    values = [c for c in PART_COLUMNS[table] if c not in (*key, "change_id")]
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in values)
    joined = " AND ".join(f"o.{c} = n.{c}" for c in key)
    columns = ", ".join(c for c in PART_COLUMNS[table] if c != "change_id")
    target = part_path(paths, table, change_id)
    facts_dir(paths).mkdir(parents=True, exist_ok=True)
    draft = target.with_name(target.name + ".tmp")
    if not parts_in_force(paths, table, in_effect):
        # Nothing of the kind in force yet: every fact is new, written straight from the file.
        new, revised, same = _write(con, f"SELECT {columns} FROM {checked}", change_id, draft), 0, 0
    else:
        # Only the facts in force of the same periods (or kinds) can be revised: the others are
        # not compared (a 快报 is not compared with every yearly figure held).
        scope = "period" if table == "facts" else "kind"
        con.execute(f"CREATE OR REPLACE TEMP TABLE scope AS SELECT DISTINCT {scope} FROM {checked}")
        near = f"{scope} IN (SELECT {scope} FROM scope)"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE compared AS
                SELECT n.*, CASE WHEN o.uscc IS NULL THEN 'new' WHEN {differs} THEN 'revised'
                                 ELSE 'same' END AS state
                FROM {checked} n LEFT JOIN {in_force_source(paths, table, in_effect, near)} o
                  ON {joined}"""
        )
        row = con.execute(
            "SELECT count(*) FILTER (WHERE state = 'new'), count(*) FILTER (WHERE state = 'revised'), "
            "count(*) FILTER (WHERE state = 'same') FROM compared"
        ).fetchone()
        assert row is not None
        new, revised, same = (int(n) for n in row)
        if new or revised:
            _write(con, f"SELECT {columns} FROM compared WHERE state <> 'same'", change_id, draft)
    if draft.exists():
        if new or revised:
            draft.replace(target)  # in force only once the change row commits
        else:
            draft.unlink()
    return new, revised, same
