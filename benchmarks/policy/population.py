"""The population: a synthetic city's enterprises as the registry holds them, then as numpy columns.

Built once and cached under ``benchmarks/.data``: ``chanye synth city`` writes the city,
``chanye registry import`` classifies it into a benchmark data directory (that is where
``clusters`` comes from), and the snapshot in force is written out sorted by USCC, with a few
values blanked on purpose (``MISSING``): real bureau data has gaps, and every competitor must treat
a missing value as "the condition does not hold". That Parquet file is what every competitor, and
chanye, reads; its row order is the population order.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent.parent
DATA = HERE / ".data"
ENTERPRISES = int(os.environ.get("CHANYE_BENCH_ENTERPRISES", "3600000"))
SEED = 1
AS_OF = dt.date(2026, 1, 1)  # age_years is counted to this day
CHANYE = str(Path(sys.executable).with_name("chanye"))

# Share of enterprises whose value is blanked, per field (a null in the population file).
MISSING: dict[str, float] = {
    "revenue": 0.01,
    "employees": 0.01,
    "rd_expense": 0.02,
    "founded_on": 0.005,
    "district_code": 0.003,
    "industry_code": 0.003,
    "tags": 0.002,
}
# The columns the competitors read (chanye's engine reads the whole file).
COLUMNS = (
    "uscc",
    "revenue",
    "employees",
    "rd_expense",
    "founded_on",
    "district_code",
    "industry_code",
    "tags",
    "clusters",
)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --- building the file ----------------------------------------------------------------------------


def population_file(n: int = ENTERPRISES, seed: int = SEED) -> Path:
    """The population Parquet for ``n`` enterprises, built on first use."""
    path = DATA / f"policy-population-{n}-seed{seed}.parquet"
    if path.exists():
        return path
    snapshot = _registry_snapshot(n, seed)
    import duckdb

    con = duckdb.connect()
    table = con.execute(
        f"SELECT * FROM read_parquet('{snapshot}/records-*.parquet') ORDER BY uscc"
    ).to_arrow_table()
    con.close()
    table = blank(table, np.random.default_rng(seed))
    scratch = path.with_suffix(".tmp")
    pq.write_table(table, scratch, row_group_size=256 * 1024)
    scratch.replace(path)  # whole or not at all
    return path


def blank(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """``table`` with a ``MISSING`` share of each field set to null."""
    for name, share in MISSING.items():
        mask = pa.array(rng.random(table.num_rows) < share)
        column = table[name]
        blanked = pc.if_else(mask, pa.scalar(None, column.type), column)
        table = table.set_column(table.schema.get_field_index(name), name, blanked)
    return table


def _registry_snapshot(n: int, seed: int) -> Path:
    """Import the synthetic city into a benchmark data directory; the snapshot's folder."""
    DATA.mkdir(exist_ok=True)
    city = DATA / f"city-{n}-seed{seed}.parquet"
    if not city.exists():
        subprocess.run(
            [
                CHANYE,
                "synth",
                "city",
                "--enterprises",
                str(n),
                "--seed",
                str(seed),
                "--out",
                str(city),
            ],
            check=True,
        )
    data_dir = DATA / f"policy-registry-{n}-seed{seed}"
    found = _snapshot_in_force(data_dir)
    if found is None:
        env = {**os.environ, "CHANYE_DATA_DIR": str(data_dir)}
        env.pop("CHANYE_DATABASE_URL", None)
        subprocess.run([CHANYE, "registry", "import", str(city)], env=env, check=True)
        found = _snapshot_in_force(data_dir)
    assert found is not None, "the import left no snapshot"
    return found


def _snapshot_in_force(data_dir: Path) -> Path | None:
    if not (data_dir / "chanye.db").exists():
        return None
    from chanye.config import Settings
    from chanye.registry.context import RegistryContext

    url = f"sqlite:///{(data_dir / 'chanye.db').resolve()}"
    context = RegistryContext.from_settings(Settings(data_dir=data_dir, database_url=url))
    relative = context.state()[0]
    return None if relative is None else context.paths.snapshot(relative)


# --- the columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """The columns policies read, one entry per enterprise, in the file's order.

    Missing values: NaN in the float columns; 0 in the int and ``b""`` in the code columns, with
    the mask in ``missing`` (field → True where the value is missing) always telling. The district,
    a small closed set, is also held as a categorical (``district_index``), the usual numpy form.
    ``rd_ratio`` is missing when revenue or R&D expense is, 0 when revenue is 0; ``age_years`` is
    whole years from ``founded_on`` to ``as_of``. Tags and clusters are kept as lists (for
    per-record engines) and as bit masks over ``tag_ids`` / ``cluster_ids`` (for vectorised ones).
    """

    size: int
    as_of: dt.date
    uscc: pa.Array
    revenue: FloatArray
    rd_expense: FloatArray
    rd_ratio: FloatArray
    employees: IntArray
    age_years: IntArray
    district_code: npt.NDArray[np.bytes_]  # S6
    district_ids: tuple[str, ...]  # the districts found, sorted
    district_index: npt.NDArray[np.int8]  # into district_ids; -1 where missing
    industry_code: npt.NDArray[np.bytes_]  # S4
    tags: pa.ListArray
    clusters: pa.ListArray
    tag_ids: tuple[str, ...]
    cluster_ids: tuple[str, ...]
    tag_bits: npt.NDArray[np.uint64]
    cluster_bits: npt.NDArray[np.uint64]
    missing: dict[str, BoolArray]

    def known(self, field: str) -> BoolArray:
        return ~self.missing[field]

    def has(self, field: str, item: str) -> BoolArray:
        """Whether ``item`` is in the enterprise's tags / clusters (False where the list is missing)."""
        ids, bits = (
            (self.tag_ids, self.tag_bits)
            if field == "tags"
            else (self.cluster_ids, self.cluster_bits)
        )
        if item not in ids:
            return np.zeros(self.size, dtype=np.bool_)
        held: BoolArray = (bits & np.uint64(1 << ids.index(item))) != 0
        return held

    def records(self, rows: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
        """Plain dicts for per-record engines: None where a value is missing."""
        picked: dict[str, list[Any]] = {
            "revenue": self.revenue[rows].tolist(),
            "rd_expense": self.rd_expense[rows].tolist(),
            "rd_ratio": self.rd_ratio[rows].tolist(),
            "employees": self.employees[rows].tolist(),
            "age_years": self.age_years[rows].tolist(),
            "district_code": [v.decode() for v in self.district_code[rows]],
            "industry_code": [v.decode() for v in self.industry_code[rows]],
            "tags": self.tags.take(pa.array(rows)).to_pylist(),
            "clusters": self.clusters.take(pa.array(rows)).to_pylist(),
        }
        for field in (
            "revenue",
            "rd_expense",
            "rd_ratio",
            "employees",
            "age_years",
            "district_code",
            "industry_code",
        ):
            mask = self.missing[field][rows]
            values = picked[field]
            for i in np.flatnonzero(mask):
                values[i] = None
        names = list(picked)
        return [
            dict(zip(names, values, strict=True)) for values in zip(*picked.values(), strict=True)
        ]


def load_population(path: Path, as_of: dt.date = AS_OF) -> Population:
    table = pq.read_table(path, columns=list(COLUMNS))
    return from_table(table, as_of)


def from_table(table: pa.Table, as_of: dt.date = AS_OF) -> Population:
    """The columns of a registry-shaped table (``COLUMNS``; nulls where values are missing)."""
    table = table.combine_chunks()
    missing = {name: _nulls(table[name]) for name in COLUMNS if name != "uscc"}
    revenue = _floats(table["revenue"])
    rd_expense = _floats(table["rd_expense"])
    with np.errstate(divide="ignore", invalid="ignore"):
        rd_ratio = np.where(revenue == 0, 0.0, rd_expense / revenue)
    missing["rd_ratio"] = missing["revenue"] | missing["rd_expense"]
    rd_ratio[missing["rd_ratio"]] = np.nan
    missing["age_years"] = missing["founded_on"]
    tags, tag_ids, tag_bits = _lists(table["tags"])
    clusters, cluster_ids, cluster_bits = _lists(table["clusters"])
    district_code = _codes(table["district_code"], 6)
    district_ids, district_index = _categories(district_code)
    return Population(
        size=table.num_rows,
        as_of=as_of,
        uscc=table["uscc"].chunk(0) if table.num_rows else pa.array([], pa.string()),
        revenue=revenue,
        rd_expense=rd_expense,
        rd_ratio=rd_ratio,
        employees=_ints(table["employees"]),
        age_years=_ages(table["founded_on"], as_of),
        district_code=district_code,
        district_ids=district_ids,
        district_index=district_index,
        industry_code=_codes(table["industry_code"], 4),
        tags=tags,
        clusters=clusters,
        tag_ids=tag_ids,
        cluster_ids=cluster_ids,
        tag_bits=tag_bits,
        cluster_bits=cluster_bits,
        missing=missing,
    )


def _nulls(column: pa.ChunkedArray) -> BoolArray:
    return np.asarray(column.is_null(), dtype=np.bool_)


def _floats(column: pa.ChunkedArray) -> FloatArray:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), np.float64)


def _ints(column: pa.ChunkedArray) -> IntArray:
    filled = pc.fill_null(pc.cast(column, pa.int64()), 0)
    return np.asarray(filled.to_numpy(), dtype=np.int64)


def _codes(column: pa.ChunkedArray, width: int) -> npt.NDArray[np.bytes_]:
    filled = pc.fill_null(pc.cast(column, pa.string()), "")
    return np.asarray(filled.to_numpy(zero_copy_only=False).astype(f"S{width}"))


def _categories(codes: npt.NDArray[np.bytes_]) -> tuple[tuple[str, ...], npt.NDArray[np.int8]]:
    found, index = np.unique(codes, return_inverse=True)
    ids = [v.decode() for v in found]
    if len(ids) > 127:
        raise ValueError("more than 127 districts: too many for int8 categories")
    if "" in ids:  # missing: sorts first
        return tuple(ids[1:]), (index - 1).astype(np.int8)
    return tuple(ids), index.astype(np.int8)


def _ages(column: pa.ChunkedArray, as_of: dt.date) -> IntArray:
    """Whole years from founding to ``as_of`` (0 where the date is missing; see ``missing``)."""
    dates = pc.fill_null(pc.cast(column, pa.date32()), pa.scalar(0, pa.date32()))
    days = np.asarray(dates.to_numpy(), dtype="datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    month_day = (months - years).astype(np.int64) * 100 + (days - months).astype(np.int64)
    as_of_month_day = (as_of.month - 1) * 100 + (as_of.day - 1)
    age = as_of.year - (years.astype(np.int64) + 1970) - (as_of_month_day < month_day)
    age[_nulls(column)] = 0
    return np.asarray(age, dtype=np.int64)


def _lists(column: pa.ChunkedArray) -> tuple[pa.ListArray, tuple[str, ...], npt.NDArray[np.uint64]]:
    """The list column, the ids found in it (sorted) and one bit per id per row."""
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lists = pc.cast(lists, pa.list_(pa.string()))
    values = pc.list_flatten(lists)
    ids = tuple(sorted(str(v) for v in pc.unique(values).to_pylist()))
    if len(ids) > 64:
        raise ValueError("more than 64 distinct ids: too many for a bit mask")
    bits = np.zeros(len(lists), dtype=np.uint64)
    if ids:
        index = np.asarray(pc.index_in(values, pa.array(ids)).to_numpy(), dtype=np.uint64)
        rows = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
        np.bitwise_or.at(bits, rows, np.left_shift(np.uint64(1), index))
    return lists, ids, bits
