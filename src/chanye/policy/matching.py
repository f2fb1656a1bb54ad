"""Matching policies over the registry into a file: what ``chanye policy match`` does, callable
from anywhere (the web could offer the same download).

One row per eligible (policy, enterprise), or per policy and enterprise with ``every_row``:
``policy_id, uscc, eligible, amount, failed`` (the ids of the conditions that did not hold,
``;``-joined; ``valid`` when the policy is not in force on the date), ordered by policy id and
USCC, as CSV or Parquet. The file is written whole or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chanye.policy.model import Policy
from chanye.policy.population import Eligible, Population, condition_states, match_all

SUFFIXES = (".csv", ".parquet")
COLUMNS = ("policy_id", "uscc", "eligible", "amount", "failed")


class MatchFileError(ValueError):
    """The output file cannot be written in that format."""


@dataclass(frozen=True)
class MatchSummary:
    policies: int
    enterprises: int
    eligible: int  # eligible (policy, enterprise) pairs
    rows: int  # rows written
    seconds: float


def check_target(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise MatchFileError(
            f"--out 须为 .csv 或 .parquet 文件 / --out must end in .csv or .parquet: {path}"
        )


def match_to_file(
    population: Population, policies: Sequence[Policy], path: Path, every_row: bool = False
) -> MatchSummary:
    """Match ``policies`` over ``population`` and write the decisions to ``path``."""
    check_target(path)
    started = time.perf_counter()
    ordered = sorted(policies, key=lambda p: p.id)  # stable: the file is ordered by policy id
    found = match_all(population, ordered)
    rank = uscc_rank(population)
    parts = [
        _decisions(population, policy, result, rank, every_row)
        for policy, result in zip(ordered, found, strict=True)
    ]
    table = pa.concat_tables([_shaped(part) for part in parts]) if parts else _shaped(None)
    _write(table, path)
    return MatchSummary(
        len(policies),
        population.size,
        sum(len(r.rows) for r in found),
        table.num_rows,
        time.perf_counter() - started,
    )


def uscc_rank(population: Population) -> np.ndarray | None:
    """Each row's place in USCC order (None: the rows are in USCC order already)."""
    usccs = population.usccs.combine_chunks()
    if len(usccs) < 2:
        return None
    if pc.all(pc.less_equal(usccs[:-1], usccs[1:])).as_py():
        return None
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


def _decisions(
    population: Population,
    policy: Policy,
    result: Eligible,
    rank: np.ndarray | None,
    every_row: bool,
) -> pa.Table:
    if not every_row:
        rows, amounts = result.rows, result.amounts
        eligible = np.ones(len(rows), bool)
        failed = None  # every condition held
    else:
        rows = np.arange(population.size, dtype=np.int64)
        eligible = np.zeros(population.size, bool)
        eligible[result.rows] = True
        amounts = np.full(population.size, np.nan)
        amounts[result.rows] = result.amounts
        failed = _failed(population, policy)
    if rank is not None:
        order = np.argsort(rank[rows], kind="stable")
        rows, eligible, amounts = rows[order], eligible[order], amounts[order]
        if failed is not None:
            failed = failed.take(pa.array(order))
    if failed is None:
        failed = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(len(rows), np.int32)), pa.array([""])
        )
    return pa.table(
        {
            "policy_id": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(len(rows), np.int32)), pa.array([policy.id])
            ),
            "uscc": population.usccs.take(pa.array(rows, pa.int64())),
            "eligible": pa.array(eligible),
            "amount": pa.array(amounts, mask=np.isnan(amounts)),
            "failed": failed,
        }
    )


def _failed(population: Population, policy: Policy) -> pa.Array:
    """Per enterprise, the conditions that did not hold (false or unknown), ``;``-joined, as a
    dictionary array: the combinations are few."""
    if not policy.valid_on(population.as_of):
        return pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(population.size, np.int32)), pa.array(["valid"])
        )
    states = condition_states(population, policy)
    code = np.zeros(population.size, dtype=np.int64)
    for i, holds in enumerate(states.holds):
        code |= (~holds).astype(np.int64) << i
    combos, index = np.unique(code, return_inverse=True)
    ids = [c.id for c in policy.conditions]
    words = [";".join(ids[i] for i in range(len(ids)) if int(combo) >> i & 1) for combo in combos]
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), pa.array(words))


def _shaped(table: pa.Table | None) -> pa.Table:
    """Plain column types, as a reader of the file expects (no rows when None)."""
    types = {
        "policy_id": pa.string(),
        "uscc": pa.string(),
        "eligible": pa.bool_(),
        "amount": pa.float64(),
        "failed": pa.string(),
    }
    if table is None:
        return pa.table({name: pa.array([], types[name]) for name in COLUMNS})
    return pa.table({name: pc.cast(table[name], types[name]) for name in COLUMNS})


def _write(table: pa.Table, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, partial)
    else:
        import pyarrow.csv as csv

        csv.write_csv(table, partial)
    partial.replace(path)  # written whole or not at all
