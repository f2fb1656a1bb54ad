"""Facts over time: where they live and which are in force.

Every import of annual figures, 快报 or qualifications writes one Parquet part under
``<data dir>/registry/facts/``, named by its change: ``facts-000012.parquet`` (annual and
monthly values, one row per enterprise, indicator, period and measure) or
``qualifications-000013.parquet``. Parts are never rewritten. The facts in force are those of
the parts whose changes are in effect (``storage.in_effect``), so an undo or a redo needs no
writing at all; where two changes in effect give a value for the same enterprise, indicator,
period and measure, the later one is in force (a revision) and the earlier stays in its part
(what was known then).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.registry.indicators import INDICATOR_BY_ID
from chanye.registry.storage import RegistryPaths, change_in_force, in_effect
from chanye.store.models import RegistryChange

FACT_COLUMNS: dict[str, str] = {
    "uscc": "VARCHAR",
    "indicator": "VARCHAR",
    "period": "VARCHAR",  # 2023 for a year, 2025-03 for a month
    "measure": "VARCHAR",  # year / month / ytd
    "value": "DOUBLE",  # yuan, or persons
    "change_id": "BIGINT",
}
QUALIFICATION_COLUMNS: dict[str, str] = {
    "uscc": "VARCHAR",
    "kind": "VARCHAR",
    "level": "VARCHAR",
    "recognised_on": "DATE",
    "valid_until": "DATE",  # NULL: until withdrawn
    "reference": "VARCHAR",
    "change_id": "BIGINT",
}
PART_COLUMNS = {"facts": FACT_COLUMNS, "qualifications": QUALIFICATION_COLUMNS}
# What identifies one fact: a later change's value for it is a revision.
FACT_KEY = ("uscc", "indicator", "period", "measure")
QUALIFICATION_KEY = ("uscc", "kind", "recognised_on")


def facts_dir(paths: RegistryPaths) -> Path:
    return paths.root / "facts"


def part_path(paths: RegistryPaths, table: str, change_id: int) -> Path:
    return facts_dir(paths) / f"{table}-{change_id:06d}.parquet"


def changes_in_effect(session: Session) -> frozenset[int]:
    """The changes whose work the registry in force holds."""
    current = change_in_force(session)
    if current is None:
        return frozenset()
    return in_effect(session.scalars(select(RegistryChange)).all())[current.id]


def _empty(columns: dict[str, str]) -> str:
    return "(SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items()) + " WHERE false)"


def parts_in_force(paths: RegistryPaths, table: str, changes: Iterable[int]) -> list[Path]:
    """The parts of ``table`` that the changes wrote."""
    return [p for c in sorted(changes) if (p := part_path(paths, table, c)).exists()]


def parts_source(paths: RegistryPaths, table: str, changes: Iterable[int]) -> str:
    """SQL for every row of the parts of ``changes`` (revisions included)."""
    files = parts_in_force(paths, table, changes)
    if not files:
        return _empty(PART_COLUMNS[table])
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}])"


def in_force_source(
    paths: RegistryPaths, table: str, changes: Iterable[int], where: str = "true"
) -> str:
    """SQL for the rows in force (those ``where`` admits): for each key, the latest change's."""
    key = ", ".join(FACT_KEY if table == "facts" else QUALIFICATION_KEY)
    return (
        f"(SELECT * FROM {parts_source(paths, table, changes)} WHERE {where} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY change_id DESC) = 1)"
    )


def count_facts(paths: RegistryPaths, changes: Iterable[int]) -> int:
    """How many facts and qualifications the parts of ``changes`` hold (read from the footers)."""
    return sum(
        pq.read_metadata(path).num_rows
        for change in changes
        for table in PART_COLUMNS
        if (path := part_path(paths, table, change)).exists()
    )


@dataclass(frozen=True)
class Facts:
    """The facts in force of one registry state: a set of changes in effect."""

    paths: RegistryPaths
    changes: frozenset[int]

    @classmethod
    def in_force(cls, session: Session, paths: RegistryPaths) -> Facts:
        return cls(paths, changes_in_effect(session))

    def source(self, table: str) -> str:
        return in_force_source(self.paths, table, self.changes)

    def of(self, con: duckdb.DuckDBPyConnection, uscc: str) -> dict[str, Any]:
        """One enterprise's facts as ``registry show --json`` adds them: ``history``,
        ``monthly``, ``qualifications`` and ``revisions`` (values a later import replaced)."""
        facts = con.execute(
            f"SELECT indicator, period, measure, value FROM {self.source('facts')} "
            "WHERE uscc = ? ORDER BY indicator, period, measure",
            [uscc],
        ).fetchall()
        history: dict[str, dict[str, float]] = {}
        monthly: dict[str, dict[str, dict[str, float | None]]] = {}
        for indicator, period, measure, stored in facts:
            value = int(stored) if INDICATOR_BY_ID[indicator].unit == "persons" else stored
            if measure == "year":
                history.setdefault(indicator, {})[period] = value
            else:
                months = monthly.setdefault(indicator, {})
                months.setdefault(period, {"month": None, "ytd": None})[measure] = value
        for months in monthly.values():
            derive_months(months)
        return {
            "history": history,
            "monthly": monthly,
            "qualifications": self._qualifications(con, uscc),
            "revisions": self._revisions(con, uscc),
        }

    def _qualifications(self, con: duckdb.DuckDBPyConnection, uscc: str) -> list[dict[str, Any]]:
        rows = con.execute(
            f"SELECT kind, level, recognised_on, valid_until, reference "
            f"FROM {self.source('qualifications')} WHERE uscc = ? ORDER BY recognised_on, kind",
            [uscc],
        ).fetchall()
        names = ("kind", "level", "recognised_on", "valid_until", "reference")
        return [
            {
                n: (v.isoformat() if isinstance(v, dt.date) else v)
                for n, v in zip(names, r, strict=True)
            }
            for r in rows
        ]

    def _revisions(self, con: duckdb.DuckDBPyConnection, uscc: str) -> list[dict[str, Any]]:
        key = ", ".join(FACT_KEY)
        rows = con.execute(
            f"""SELECT indicator, period, measure, value, change_id, replaced_by FROM (
                  SELECT *, lead(value) OVER w AS now, lead(change_id) OVER w AS replaced_by
                  FROM {parts_source(self.paths, "facts", self.changes)} WHERE uscc = ?
                  WINDOW w AS (PARTITION BY {key} ORDER BY change_id))
                WHERE replaced_by IS NOT NULL ORDER BY indicator, period, change_id""",
            [uscc],
        ).fetchall()
        names = ("indicator", "period", "measure", "value", "change_id", "replaced_by")
        return [dict(zip(names, r, strict=True)) for r in rows]


def derive_months(months: dict[str, dict[str, float | None]]) -> None:
    """A month's 本月 value from consecutive 累计 values where the file gave only 累计 (January's
    累计 is its month; 1–2月 reported together gives February no month of its own)."""
    for period, values in months.items():
        if values["month"] is not None or values["ytd"] is None:
            continue
        year, month = period.split("-")
        if month == "01":
            values["month"] = values["ytd"]
            continue
        before = months.get(f"{year}-{int(month) - 1:02d}", {}).get("ytd")
        if before is not None:
            values["month"] = values["ytd"] - before
