"""A snapshot's columns as one memory-mapped Arrow file, beside its Parquet parts.

Parquet is compact but must be decoded: every process that reads a column of 3.6 million
enterprises decodes it into memory of its own. The same columns in Arrow's IPC format are mapped
instead: reading a column costs nothing until its pages are touched, taking a few thousand
records touches only their pages, and every process maps the same pages of the page cache.

The rows are in the order of the snapshot's parts, one record batch per part (one part in memory
at a time while it is written). The file is written when the snapshot is committed
(``SnapshotWriter.commit``), and again by the first reader of a snapshot that lacks it (an older
snapshot brought back by an undo). Beside it, two small orders are kept, each worked out by the
first process that needs it: each row's place in USCC order (``uscc-rank.npy``) and in the
registry's default order (``search-ids.npy``). Only the snapshot in force keeps its files:
committing a new one removes those of the others, which an undo writes again on first read (a
process still mapping a removed file keeps its pages).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS_FILE = "columns.arrow"
RANK_FILE = "uscc-rank.npy"  # each row's place in USCC order (``RegistryView.uscc_rank``)
SEARCH_IDS_FILE = "search-ids.npy"  # each row's place in the default order, from 1


def columns_file(snapshot_dir: Path) -> Path:
    return snapshot_dir / COLUMNS_FILE


def rank_file(snapshot_dir: Path) -> Path:
    return snapshot_dir / RANK_FILE


def search_ids_file(snapshot_dir: Path) -> Path:
    return snapshot_dir / SEARCH_IDS_FILE


def write_columns(snapshot_dir: Path) -> Path:
    """Write the snapshot's records as one Arrow file (a batch per part), whole or not at all."""
    target = columns_file(snapshot_dir)
    parts = sorted(snapshot_dir.glob("records-*.parquet"))
    schema = pq.read_schema(parts[0])  # a snapshot has at least one part, if empty
    partial = snapshot_dir / f".{COLUMNS_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for part in parts:
            table = pq.read_table(part, memory_map=True).combine_chunks()
            for batch in table.to_batches(max_chunksize=table.num_rows or None):
                writer.write_batch(batch)
    partial.replace(target)
    return target


def mapped_columns(snapshot_dir: Path) -> pa.Table:
    """The snapshot's records, memory-mapped (the file written first if it is missing)."""
    path = columns_file(snapshot_dir)
    if not path.exists():
        write_columns(snapshot_dir)
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def keep_only(snapshots: Path, in_force: Path) -> None:
    """Remove the files of every snapshot but ``in_force`` (they are rebuilt on need)."""
    for name in (COLUMNS_FILE, RANK_FILE, SEARCH_IDS_FILE):
        for path in snapshots.glob(f"*/{name}"):
            if path.parent != in_force:
                path.unlink(missing_ok=True)
