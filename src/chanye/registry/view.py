"""One read path into the registry: a snapshot plus the analysts' overrides (``RegistryView``).

A view maps the snapshot's columns from its Arrow file (``chanye.registry.mapped``: nothing is
decoded or copied, and every process shares the pages), with the classification overrides
applied on top; a view over other Parquet files reads them with pyarrow, only the columns asked
for. The process keeps one view (``view_of``): a second caller of the same registry state gets
the same view and so the same columns, and the view is replaced when the snapshot or the
overrides change. Rows are numbered in the order of the snapshot's parts (``rid``), the same for
every column. Other domains read the registry through this module; only ``registry/`` and the
policy engine speak SQL, and neither against the files of another domain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chanye.registry.mapped import mapped_columns, rank_file, search_ids_file
from chanye.registry.storage import (
    CLASSIFICATION_COLUMNS,
    SNAPSHOT_COLUMNS,
    RegistryPaths,
    change_in_force,
)

__all__ = ["RegistryView", "change_in_force", "registry_view", "view_of"]
OverrideRow = tuple[str, list[str], list[str], list[str]]


class RegistryState(Protocol):
    """Where a registry lives and what is in force there (``RegistryContext``)."""

    @property
    def paths(self) -> RegistryPaths: ...

    def state(self) -> tuple[str | None, list[OverrideRow]]: ...


ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "VARCHAR[]": pa.list_(pa.string()),
}
FEW_ROWS = 2_000  # records fewer than this come from row groups, no column held for them
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
        self._rank: np.ndarray | None = None
        self._order: np.ndarray | None = None  # rows in USCC order, for looking up a few
        self.files = (
            sorted(str(p) for p in paths.snapshot(snapshot).glob("records-*.parquet"))
            if snapshot
            else []
        )
        self.size = sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        self._table: pa.Table | None = None  # rows handed over in memory (``from_table``)
        self._mapped_table: pa.Table | None = None  # the snapshot's Arrow file, once mapped
        self._kept_groups: dict[tuple[str, int, tuple[str, ...]], pa.Table] | None = None
        self._keeping = 0  # callers inside ``keeping_row_groups``

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

    def combined(self, name: str) -> pa.ChunkedArray:
        """The column as one chunk, for taking rows from it (taking from a column of many
        chunks concatenates it first, every time); combined once, then kept so."""
        column = self.column(name)
        if column.num_chunks <= 1:
            return column
        with self._lock:
            self._columns[name] = pa.chunked_array([column.combine_chunks()])
            return self._columns[name]

    def at(self, name: str, rows: np.ndarray) -> pa.Array:
        """The column's values at ``rows`` (ascending), taken chunk by chunk: taking from a
        column of many chunks would concatenate all of it first, and combining it once costs a
        copy of the whole column for a few thousand values."""
        return taken(self.column(name), rows)

    def uscc_rank(self) -> np.ndarray | None:
        """Each row's place in USCC order (None: the rows are in that order already). Worked out
        once per snapshot and kept beside its columns (``chanye.registry.mapped``): every later
        process reads it instead of sorting millions of codes again."""
        with self._lock:
            if self._rank is None:
                self._rank = self._cached_rank()
            return None if self._rank.size == 0 else self._rank

    def _cached_rank(self) -> np.ndarray:
        return self._kept_order(
            rank_file,
            lambda: _rank_of(
                self.combined("uscc").chunk(0) if self.size else pa.array([], pa.string())
            ),
        )

    def _read(self, names: list[str]) -> dict[str, pa.ChunkedArray]:
        unknown = [n for n in names if n not in SNAPSHOT_COLUMNS]
        if unknown:
            raise KeyError(f"企业库没有字段：{'、'.join(unknown)} / no such registry column")
        if not self.files:  # rows handed over without these columns: each one unknown (null)
            return {n: pa.chunked_array([pa.nulls(self.size, arrow_type(n))]) for n in names}
        mapped = self._mapped()
        if mapped is not None:  # the snapshot's Arrow file: nothing is decoded or copied
            read = {n: mapped[n] for n in names}
        else:  # other Parquet files, one at a time: only the pages of these columns are read
            parts = [pq.read_table(f, columns=names, memory_map=True) for f in self.files]
            table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
            read = {n: table[n] for n in names}
        overridden = [n for n in names if n in CLASSIFICATION_COLUMNS]
        if overridden and self.overrides:
            positions = self._override_positions()
            for name in overridden:
                read[name] = _replaced(read[name], positions, self._override_values(name))
        return read

    def _mapped(self) -> pa.Table | None:
        """The snapshot's columns, memory-mapped (None: a view over other files)."""
        if self.snapshot is None or not self.files:
            return None
        with self._lock:
            if self._mapped_table is None:
                self._mapped_table = mapped_columns(self.paths.snapshot(self.snapshot))
            return self._mapped_table

    def search_ids(self) -> np.ndarray:
        """Each row's place in the registry's default order (largest revenue first, then USCC),
        from 1: the search's row id. Worked out once per snapshot and kept beside its columns."""
        return self._kept_order(search_ids_file, self._default_order)

    def _default_order(self) -> np.ndarray:
        if not self.size:
            return np.zeros(0, dtype=np.int64)
        revenue = self.column("revenue").to_numpy()  # NaN where missing: sorted last
        largest_first = np.where(np.isnan(revenue), np.inf, -revenue)
        rank = self.uscc_rank()
        ties = np.arange(self.size) if rank is None else rank
        order = np.lexsort((ties, largest_first))
        ids = np.empty(self.size, dtype=np.int64)
        ids[order] = np.arange(1, self.size + 1, dtype=np.int64)
        return ids

    def _kept_order(
        self, where: Callable[[Path], Path], work_out: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """An order of the rows, read from beside the snapshot's columns, or worked out and
        kept there (a view over other files works it out every time)."""
        mapped = self._mapped() is not None and self.snapshot is not None
        path = where(self.paths.snapshot(str(self.snapshot))) if mapped else None
        if path is not None and path.exists():
            return np.asarray(np.load(path, mmap_mode="r"))
        found = work_out()
        if path is not None:
            partial = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
            with partial.open("wb") as handle:
                np.save(handle, found)
            partial.replace(path)  # whole or not at all; a reader never sees half of it
        return found

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
        if len(wanted) <= FEW:  # a page's one enterprise: a binary search, not a scan of millions
            return self._looked_up(wanted.to_pylist())
        index = pc.index_in(self.column("uscc"), value_set=wanted)
        rows = np.flatnonzero(pc.is_valid(index).to_numpy(zero_copy_only=False))
        which = pc.take(index, pa.array(rows, pa.int64())).to_pylist()
        names = wanted.to_pylist()
        return {str(names[w]): int(r) for w, r in zip(which, rows.tolist(), strict=True)}

    def _looked_up(self, usccs: list[str]) -> dict[str, int]:
        codes = self.combined("uscc").chunk(0)
        order = self._uscc_order()
        found: dict[str, int] = {}
        for uscc in usccs:
            low, high = 0, len(order)
            while low < high:  # the first place in USCC order not below ``uscc``
                middle = (low + high) // 2
                if codes[int(order[middle])].as_py() < uscc:
                    low = middle + 1
                else:
                    high = middle
            if low < len(order) and codes[int(order[low])].as_py() == uscc:
                found[uscc] = int(order[low])
        return found

    def _uscc_order(self) -> np.ndarray:
        """The rows in USCC order (the inverse of ``uscc_rank``), worked out once per view."""
        with self._lock:
            if self._order is None:
                rank = self.uscc_rank()
                if rank is None:
                    self._order = np.arange(self.size, dtype=np.int64)
                else:
                    self._order = np.empty_like(rank)
                    self._order[rank] = np.arange(len(rank), dtype=np.int64)
            return self._order

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """``columns`` (with ``uscc``) at ``rows`` (ascending), from the columns the view holds
        or maps."""
        names = list(dict.fromkeys(["uscc", *columns]))
        if self._mapped() is not None:  # every column is at hand, chunk by chunk
            return pa.table({n: self.at(n, rows) for n in names})
        with self._lock:
            unheld = [n for n in names if n not in self._columns]
        if unheld and self.files and len(rows) <= FEW_ROWS:  # a page: not worth holding a column
            # Only the columns not held come from the row groups; the held ones are taken.
            read = self._every_column(rows, unheld)
            return pa.table({n: read[n] if n in unheld else self.at(n, rows) for n in names})
        chosen = pa.array(rows, pa.int64())
        return pa.table({n: self.combined(n).take(chosen) for n in names})

    @contextmanager
    def keeping_row_groups(self) -> Iterator[None]:
        """Row groups read for records stay decoded until the block ends: a batch of runs
        (publishing several policies) that each want a few thousand records, spread over the
        same groups, decodes each group once instead of once per run. Released at the end."""
        with self._lock:
            self._keeping += 1
            if self._kept_groups is None:
                self._kept_groups = {}
        try:
            yield
        finally:
            with self._lock:
                self._keeping -= 1
                if not self._keeping:
                    self._kept_groups = None

    def _row_group(self, path: str, group: int, names: Sequence[str] | None) -> pa.Table:
        key = (path, group, tuple(names) if names is not None else ())
        with self._lock:
            kept = self._kept_groups
            if kept is not None and key in kept:
                return kept[key]
        part = pq.ParquetFile(path, memory_map=True).read_row_group(
            group, columns=None if names is None else list(names)
        )
        with self._lock:
            if self._kept_groups is not None:
                self._kept_groups[key] = part
        return part

    def _every_column(self, rows: np.ndarray, names: Sequence[str] | None = None) -> pa.Table:
        """Every column (or ``names``) at ``rows`` (ascending), reading only the row groups
        that hold them."""
        if self._table is not None:
            table = self._table if names is None else self._table.select(list(names))
            return table.take(pa.array(rows, pa.int64()))
        mapped = self._mapped()
        if mapped is not None:  # only the pages of these rows are touched
            table = mapped if names is None else mapped.select(list(names))
            return pa.table({n: taken(table[n], rows) for n in table.column_names})
        parts, start = [], 0
        for path in self.files:
            parquet = pq.ParquetFile(path, memory_map=True)
            groups = parquet.metadata
            for group in range(groups.num_row_groups):
                count = groups.row_group(group).num_rows
                inside = rows[(rows >= start) & (rows < start + count)]
                if len(inside):
                    part = self._row_group(path, group, names)
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


def taken(column: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``column`` at ``rows`` (ascending), chunk by chunk (see ``RegistryView.at``)."""
    if column.num_chunks <= 1 or not len(rows):
        return column.take(pa.array(rows, pa.int64())).combine_chunks()
    ends = np.cumsum([len(chunk) for chunk in column.chunks])
    which = np.searchsorted(ends, rows, side="right")
    starts = np.concatenate([[0], ends[:-1]])
    parts = [
        column.chunk(int(c)).take(pa.array(rows[which == c] - starts[c], pa.int64()))
        for c in np.unique(which)
    ]
    return pa.concat_arrays(parts)


def _replaced(column: pa.ChunkedArray, positions: np.ndarray, values: pa.Array) -> pa.ChunkedArray:
    """``column`` with the rows at ``positions`` (-1: none) taking the matching ``values``."""
    size = len(column)
    take = np.arange(size, dtype=np.int64)  # every row from itself, overridden ones from values
    present = positions >= 0
    take[positions[present]] = size + np.flatnonzero(present)
    combined = pa.concat_arrays([column.combine_chunks(), values.cast(column.type)])
    return pa.chunked_array([combined.take(pa.array(take))])


def _rank_of(usccs: pa.Array) -> np.ndarray:
    """Each row's place in USCC order; empty when the rows are in that order already."""
    if len(usccs) < 2 or pc.all(pc.less_equal(usccs[:-1], usccs[1:])).as_py():
        return np.zeros(0, dtype=np.int64)
    order = _byte_order(usccs)
    if order is None:
        order = np.asarray(pc.sort_indices(usccs).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


DIGITS = np.full(256, 255, dtype=np.uint8)  # 255: not a digit or capital
DIGITS[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
DIGITS[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = np.arange(10, 36)
TAIL = 10  # characters read as one base-36 number (36**10 < 2**63 / 5000)


def _byte_order(texts: pa.Array) -> np.ndarray | None:
    """The sort order of equally long codes of digits and capitals (a USCC: 18 characters) as
    one integer sort: the leading characters' distinct values numbered in order, times the rest
    read as a base-36 number. Several times faster than comparing millions of strings; None
    when the codes are not of that shape (then strings are compared)."""
    lengths = pc.binary_length(texts)
    width = pc.min_max(lengths)
    size = width["max"].as_py() or 0
    if texts.null_count or width["min"].as_py() != size or size <= TAIL:
        return None
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset :][: len(texts) + 1]
    first = int(offsets[0])
    digits = DIGITS[data[first : first + len(texts) * size]].reshape(len(texts), size)
    if (digits == 255).any():
        return None
    digits = np.ascontiguousarray(digits.T)  # one row per character position
    head = np.zeros(len(texts), dtype=np.int64)
    for column in range(size - TAIL):
        head = head * 36 + digits[column]
    tail = np.zeros(len(texts), dtype=np.int64)
    for column in range(size - TAIL, size):
        tail = tail * 36 + digits[column]
    encoded = pc.dictionary_encode(pa.array(head))  # few distinct heads: hashed, not sorted
    heads = np.asarray(encoded.dictionary.to_numpy(), dtype=np.int64)
    if len(heads) >= 5000:
        return None
    place = np.empty(len(heads), dtype=np.int64)
    place[np.argsort(heads)] = np.arange(len(heads))
    numbered = place[np.asarray(encoded.indices.to_numpy(), dtype=np.int64)]
    return np.argsort(numbered * 36**TAIL + tail, kind="stable").astype(np.int64)


_LOCK = threading.Lock()
_CURRENT: RegistryView | None = None
FEW = 64  # up to this many USCCs are looked up by binary search; more, by one scan


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


def registry_view(context: RegistryState) -> RegistryView:
    """The view of the registry in force (snapshot and overrides as the database says now)."""
    return view_of(context.paths, *context.state())
