"""A snapshot's columns as one memory-mapped Arrow file, beside its Parquet parts.

Parquet is compact but must be decoded: every process that reads a column of 3.6 million
enterprises decodes it into memory of its own. The same columns in Arrow's IPC format are mapped
instead: reading a column costs nothing until its pages are touched, taking a few thousand
records touches only their pages, and every process maps the same pages of the page cache.

The rows are in the registry's default order (largest revenue first, then USCC): the search's
first page is the file's first rows, and a row's place is its search id. The file is written when
the snapshot is committed (``SnapshotWriter.commit``), sorted by DuckDB (which spills to disk
rather than holding the city in memory), and again by the first reader of a snapshot that lacks
it (an older snapshot brought back by an undo). Only the snapshot in force keeps its files:
committing a new one removes those of the others, which an undo writes again on first read (a
process still mapping a removed file keeps its pages).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from chanye.registry.storage import RegistryPaths, connect

COLUMNS_FILE = "columns.arrow"
RANK_FILE = "uscc-rank.npy"  # each row's place in USCC order (``RegistryView.uscc_rank``)
DEFAULT_ORDER = "revenue DESC NULLS LAST, uscc"  # the registry's default order
BATCH_ROWS = 1 << 20  # rows per record batch: a column's chunks


def columns_file(snapshot_dir: Path) -> Path:
    return snapshot_dir / COLUMNS_FILE


def rank_file(snapshot_dir: Path) -> Path:
    return snapshot_dir / RANK_FILE


def write_columns(con: duckdb.DuckDBPyConnection, snapshot_dir: Path) -> Path:
    """Write the snapshot's records as one Arrow file in the default order, whole or not at all."""
    target = columns_file(snapshot_dir)
    parts = [str(p).replace("'", "''") for p in sorted(snapshot_dir.glob("records-*.parquet"))]
    schema = pq.read_schema(parts[0])  # a snapshot has at least one part, if empty
    listed = ", ".join(f"'{p}'" for p in parts)
    names = ", ".join(f'"{n}"' for n in schema.names)
    batches = con.execute(
        f"SELECT {names} FROM read_parquet([{listed}]) ORDER BY {DEFAULT_ORDER}"
    ).to_arrow_reader(BATCH_ROWS)
    partial = snapshot_dir / f".{COLUMNS_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch.cast(schema))
    partial.replace(target)
    return target


def mapped_columns(paths: RegistryPaths, snapshot_dir: Path) -> pa.Table:
    """The snapshot's records, memory-mapped (the file written first if it is missing)."""
    path = columns_file(snapshot_dir)
    if not path.exists():
        con = connect(paths)
        try:
            write_columns(con, snapshot_dir)
        finally:
            con.close()
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def keep_only(snapshots: Path, in_force: Path) -> None:
    """Remove the files of every snapshot but ``in_force`` (they are rebuilt on need)."""
    for name in (COLUMNS_FILE, RANK_FILE):
        for path in snapshots.glob(f"*/{name}"):
            if path.parent != in_force:
                path.unlink(missing_ok=True)
