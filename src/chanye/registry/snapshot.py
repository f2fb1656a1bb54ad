"""Write a registry snapshot: a directory of record parts and evidence parts, in bounded memory.

Enterprises to (re)classify are processed in chunks of ``CHUNK_ROWS``, each written as its own
Parquet part, so memory does not grow with the size of the city. The directory is written under a
temporary name and renamed into place when complete: a half-written snapshot is never visible.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import duckdb
import numpy as np

from chanye.registry.classify import (
    CLASSIFICATION_SELECT,
    CLASSIFIED_TABLE,
    Rules,
    classify_table,
)
from chanye.registry.mapped import keep_only, write_columns
from chanye.registry.storage import (
    EVIDENCE_COLUMNS,
    RECORD_COLUMNS,
    SNAPSHOT_COLUMNS,
    RegistryPaths,
)

CHUNK_ROWS = 2_000_000
PARQUET = "FORMAT PARQUET, COMPRESSION SNAPPY, ROW_GROUP_SIZE 100000"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class SnapshotWriter:
    def __init__(self, con: duckdb.DuckDBPyConnection, paths: RegistryPaths, relative: str) -> None:
        self.con = con
        self.target = paths.snapshot(relative)
        self.tmp = self.target.with_name(self.target.name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.parts = 0

    def _copy(self, kind: str, select: str) -> None:
        path = self.tmp / f"{kind}-{self.parts:04d}.parquet"
        self.con.execute(f"COPY ({select}) TO '{_quoted(path)}' ({PARQUET})")

    def carry(self, records: str, evidence: str) -> None:
        """Copy rows that keep their classification (and their evidence) unchanged."""
        self._copy("records", f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM ({records})")
        self._copy("evidence", f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM ({evidence})")
        self.parts += 1

    def classify(self, rules: Rules, rows: str, change_id: str) -> int:
        """Classify the rows of view ``rows`` (``__row`` plus the record columns) chunk by chunk
        and write them with ``change_id`` (SQL over ``c``, the row, and ``k``, its new
        classification). Returns the number of rows written."""
        bounds = self.con.execute(f"SELECT min(__row), max(__row), count(*) FROM {rows}").fetchone()
        if not bounds or not bounds[2]:
            return 0
        first, last, count = (int(b) for b in bounds)
        # Rows are numbered as in the file (with gaps where rows were rejected): equal spans of
        # numbers make chunks of about equal size without sorting millions of keys.
        edges = np.linspace(first, last + 1, max(1, -(-count // CHUNK_ROWS)) + 1).astype(np.int64)
        for low, high in itertools.pairwise(edges):
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW chunk AS SELECT * FROM {rows} "
                f"WHERE __row >= {int(low)} AND __row < {int(high)}"
            )
            classify_table(self.con, rules, "chunk")
            records = ", ".join(f'c."{col}"' for col in RECORD_COLUMNS)
            self._copy(
                "records",
                f"""SELECT {records}, {CLASSIFICATION_SELECT}, ({change_id})::BIGINT AS change_id
                    FROM chunk c LEFT JOIN {CLASSIFIED_TABLE} k ON k.key = c.__row""",
            )
            self._copy(
                "evidence",
                f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM evidence_named",
            )
            self.parts += 1
        return count

    def commit(self) -> int:
        """Make the snapshot visible; returns its number of enterprises."""
        if self.parts == 0:  # an empty registry still has a (empty) part of each kind
            empty = ", ".join(f"NULL::{t} AS {c}" for c, t in SNAPSHOT_COLUMNS.items())
            evidence = ", ".join(f"NULL::{t} AS {c}" for c, t in EVIDENCE_COLUMNS.items())
            self.carry(f"SELECT {empty} WHERE false", f"SELECT {evidence} WHERE false")
        row = self.con.execute(
            f"SELECT count(*) FROM read_parquet('{_quoted(self.tmp)}/records-*.parquet')"
        ).fetchone()
        write_columns(self.tmp)  # what readers map (``chanye.registry.mapped``)
        self.tmp.replace(self.target)
        keep_only(self.target.parent, self.target)
        return int(row[0]) if row else 0
