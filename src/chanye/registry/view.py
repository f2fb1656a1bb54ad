"""One read path into the registry: a snapshot plus the analysts' overrides (``RegistryView``).

A view reads the snapshot's Parquet parts directly (pyarrow, memory-mapped), one column at a
time and only the columns asked for, with the classification overrides applied on top. The
process keeps one view (``view_of``): a second caller of the same registry state gets the same
view and so the same columns, and the view is replaced when the snapshot or the overrides
change. Rows are numbered in the order of the snapshot's parts (``rid``), the same for every
column. Other domains read the registry through this module; only ``registry/`` and the policy
engine speak SQL, and neither against the files of another domain.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chanye.registry.storage import (
    CLASSIFICATION_COLUMNS,
    SNAPSHOT_COLUMNS,
    RegistryPaths,
    change_in_force,
)

if TYPE_CHECKING:
    from chanye.registry.context import RegistryContext
    from chanye.registry.queries import RegistryReader

__all__ = ["RegistryView", "change_in_force", "registry_view", "view_of"]
OverrideRow = tuple[str, list[str], list[str], list[str]]
ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "VARCHAR[]": pa.list_(pa.string()),
}
# Where each overridden column sits in an override row (uscc, industries, clusters, links).
OVERRIDE_POSITION = {"industries": 1, "clusters": 2, "chain_links": 3}


def arrow_type(column: str) -> pa.DataType:
    return ARROW_TYPES[SNAPSHOT_COLUMNS[column]]


class RegistryView:
    """The enterprises of one snapshot with its overrides, column by column, read-only."""

    def __init__(
        self, paths: RegistryPaths, snapshot: str | None, overrides: Sequence[OverrideRow]
    ) -> None:
        self.paths = paths
        self.snapshot = snapshot
        self.overrides = list(overrides)
        self.key = (str(paths.root), snapshot, repr(self.overrides))
        self._by_uscc = {row[0]: row for row in self.overrides}
        self._lock = threading.RLock()
        self._columns: dict[str, pa.ChunkedArray] = {}
        self._reader: RegistryReader | None = None
        self.files = (
            sorted(str(p) for p in paths.snapshot(snapshot).glob("records-*.parquet"))
            if snapshot
            else []
        )
        self.size = sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        self._table: pa.Table | None = None  # rows handed over in memory (``from_table``)

    @classmethod
    def of_files(cls, files: Sequence[Path]) -> RegistryView:
        """A view over Parquet files with the snapshot's columns (a registry exported or copied
        elsewhere), no overrides."""
        view = cls(RegistryPaths(Path("/nonexistent")), None, [])
        view.files = [str(f) for f in files]
        view.size = sum(pq.ParquetFile(f).metadata.num_rows for f in view.files)
        return view

    @classmethod
    def from_table(cls, table: pa.Table) -> RegistryView:
        """A view over rows already in memory, with the snapshot's columns (a hand-made
        population, or one another process wrote), no overrides."""
        view = cls(RegistryPaths(Path("/nonexistent")), None, [])
        view._table = table.combine_chunks()
        view.size = table.num_rows
        view._columns = {n: view._table[n] for n in table.column_names}
        return view

    # --- columns --------------------------------------------------------------------------

    def columns(self, names: Sequence[str]) -> pa.Table:
        """The columns ``names`` of every enterprise, in row order (each read once per view)."""
        with self._lock:
            missing = [n for n in dict.fromkeys(names) if n not in self._columns]
            if missing:
                self._columns.update(self._read(missing))
            return pa.table({n: self._columns[n] for n in names})

    def column(self, name: str) -> pa.ChunkedArray:
        return self.columns([name])[name]

    def _read(self, names: list[str]) -> dict[str, pa.ChunkedArray]:
        unknown = [n for n in names if n not in SNAPSHOT_COLUMNS]
        if unknown:
            raise KeyError(f"企业库没有字段：{'、'.join(unknown)} / no such registry column")
        if not self.files:
            return {n: pa.chunked_array([], arrow_type(n)) for n in names}
        # One part at a time, memory-mapped: only the pages of these columns are read.
        parts = [pq.read_table(f, columns=names, memory_map=True) for f in self.files]
        # One chunk per column: taking rows from a column of many chunks concatenates it first,
        # every time.
        table = (pa.concat_tables(parts) if len(parts) > 1 else parts[0]).combine_chunks()
        read = {n: table[n] for n in names}
        overridden = [n for n in names if n in CLASSIFICATION_COLUMNS]
        if overridden and self.overrides:
            positions = self._override_positions()
            for name in overridden:
                read[name] = _replaced(read[name], positions, self._override_values(name))
        return read

    def _override_positions(self) -> np.ndarray:
        """For each override, the row of its enterprise (-1 when not in the snapshot)."""
        usccs = pa.array([row[0] for row in self.overrides], pa.string())
        index = pc.index_in(self.column("uscc"), value_set=usccs)
        rows = np.flatnonzero(pc.is_valid(index).to_numpy(zero_copy_only=False))
        which = np.asarray(pc.take(index, pa.array(rows)).to_numpy(), dtype=np.int64)
        positions = np.full(len(self.overrides), -1, dtype=np.int64)
        positions[which] = rows
        return positions

    def _override_values(self, name: str) -> pa.Array:
        position = OVERRIDE_POSITION[name]
        return pa.array([list(row[position]) for row in self.overrides], pa.list_(pa.string()))

    # --- records --------------------------------------------------------------------------

    def record(self, uscc: str) -> dict[str, Any] | None:
        """One enterprise's snapshot row (every column, overrides applied), or None."""
        key = uscc.strip().upper()
        return self.records([key]).get(key)

    def records(
        self,
        usccs: Sequence[str],
        columns: Sequence[str] | None = None,
        known: dict[str, int] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The rows of these enterprises by USCC (those in the registry), overrides applied:
        ``columns`` from the columns the view holds (read once), or every column (None) read
        from only the Parquet row groups that hold them. ``known``: row numbers of some of them
        the caller has already."""
        known = known or {}
        found = {u: known[u] for u in usccs if u in known}
        found.update(self.rows_of([u for u in usccs if u not in known]))
        if not found:
            return {}
        rows = np.array(sorted(found.values()), dtype=np.int64)
        table = self._every_column(rows) if columns is None else self.take(rows, columns)
        return {str(r["uscc"]): self._overridden(r) for r in table.to_pylist()}

    def rows_of(self, usccs: Sequence[str]) -> dict[str, int]:
        """The row number of each of these enterprises in the registry."""
        wanted = pa.array(sorted({u.strip().upper() for u in usccs}), pa.string())
        if not len(wanted) or not self.size:
            return {}
        index = pc.index_in(self.column("uscc"), value_set=wanted)
        rows = np.flatnonzero(pc.is_valid(index).to_numpy(zero_copy_only=False))
        which = pc.take(index, pa.array(rows, pa.int64())).to_pylist()
        names = wanted.to_pylist()
        return {str(names[w]): int(r) for w, r in zip(which, rows.tolist(), strict=True)}

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """``columns`` (with ``uscc``) at ``rows``, from the columns the view holds."""
        names = list(dict.fromkeys(["uscc", *columns]))
        return self.columns(names).take(pa.array(rows, pa.int64()))

    def _every_column(self, rows: np.ndarray) -> pa.Table:
        """Every column at ``rows`` (ascending), reading only the row groups that hold them."""
        if self._table is not None:
            return self._table.take(pa.array(rows, pa.int64()))
        parts, start = [], 0
        for path in self.files:
            parquet = pq.ParquetFile(path, memory_map=True)
            groups = parquet.metadata
            for group in range(groups.num_row_groups):
                count = groups.row_group(group).num_rows
                inside = rows[(rows >= start) & (rows < start + count)]
                if len(inside):
                    part = parquet.read_row_group(group)
                    parts.append(part.take(pa.array(inside - start, pa.int64())))
                start += count
        return pa.concat_tables(parts)

    def _overridden(self, row: dict[str, Any]) -> dict[str, Any]:
        override = self._by_uscc.get(row["uscc"])
        if override is not None:
            for name, position in OVERRIDE_POSITION.items():
                row[name] = list(override[position])
        row["overridden"] = override is not None
        return row

    # --- the search reader ----------------------------------------------------------------

    def reader(self) -> RegistryReader:
        """The search, statistics and export reader of this registry state (one per view)."""
        from chanye.registry.queries import RegistryReader

        with self._lock:
            if self._reader is None:
                self._reader = RegistryReader(
                    self.paths, self.snapshot, self.overrides, shared_columns=True
                )
            return self._reader

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._columns.clear()


def _replaced(column: pa.ChunkedArray, positions: np.ndarray, values: pa.Array) -> pa.ChunkedArray:
    """``column`` with the rows at ``positions`` (-1: none) taking the matching ``values``."""
    size = len(column)
    take = np.arange(size, dtype=np.int64)  # every row from itself, overridden ones from values
    present = positions >= 0
    take[positions[present]] = size + np.flatnonzero(present)
    combined = pa.concat_arrays([column.combine_chunks(), values.cast(column.type)])
    return pa.chunked_array([combined.take(pa.array(take))])


_LOCK = threading.Lock()
_CURRENT: RegistryView | None = None


def view_of(
    paths: RegistryPaths, snapshot: str | None, overrides: Sequence[OverrideRow]
) -> RegistryView:
    """The process's view of this registry state: the same object (and columns) for every caller
    until the snapshot or the overrides change, then a new one replaces it."""
    global _CURRENT
    key = (str(paths.root), snapshot, repr(list(overrides)))
    with _LOCK:
        if _CURRENT is None or _CURRENT.key != key:
            _CURRENT = RegistryView(paths, snapshot, overrides)
        return _CURRENT


def registry_view(context: RegistryContext) -> RegistryView:
    """The view of the registry in force (snapshot and overrides as the database says now)."""
    return view_of(context.paths, *context.state())
