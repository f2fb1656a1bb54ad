"""Matching policies over the registry into a file: what ``chanye policy match`` does, callable
from anywhere (the web could offer the same download).

One row per eligible (policy, enterprise), or per policy and enterprise with ``every_row``:
``policy_id, uscc, eligible, amount, needs_data, failed`` (the ids of the conditions that did not hold,
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
COLUMNS = ("policy_id", "uscc", "eligible", "amount", "needs_data", "failed")


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
    ranking = _Ranking.of(uscc_rank(population))
    parts = [
        _decisions(population, policy, result, ranking, every_row)
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
    return population.view.uscc_rank()


@dataclass
class _Ranking:
    """Rows in USCC order: each row's place (``rank``) and the row at each place (``order``)."""

    rank: np.ndarray
    order: np.ndarray
    scratch: np.ndarray  # one value per row, reused policy after policy

    @classmethod
    def of(cls, rank: np.ndarray | None) -> _Ranking | None:
        if rank is None:
            return None
        order = np.empty(len(rank), dtype=np.int64)
        order[rank] = np.arange(len(rank), dtype=np.int64)
        return cls(np.asarray(rank), order, np.empty(len(rank), dtype=np.float64))

    def sorted(self, rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``rows`` in USCC order, with their ``values``: the places sorted (integers, not
        strings), then looked up."""
        self.scratch[rows] = values
        by_uscc = self.order[np.sort(self.rank[rows])]
        return by_uscc, self.scratch[by_uscc]


def _decisions(
    population: Population,
    policy: Policy,
    result: Eligible,
    ranking: _Ranking | None,
    every_row: bool,
) -> pa.Table:
    if not every_row:
        rows, amounts = result.rows, result.amounts
        eligible = np.ones(len(rows), bool)
        needs = np.zeros(len(rows), bool)
        failed = None  # every condition held
    else:
        rows = np.arange(population.size, dtype=np.int64)
        eligible = np.zeros(population.size, bool)
        eligible[result.rows] = True
        amounts = np.full(population.size, np.nan)
        amounts[result.rows] = result.amounts
        failed, needs = _failed(population, policy)
    if ranking is not None and failed is None:
        rows, amounts = ranking.sorted(rows, amounts)
    elif ranking is not None and failed is not None:
        rows = ranking.order  # every row, in USCC order
        eligible, amounts, needs = eligible[rows], amounts[rows], needs[rows]
        failed = failed.take(pa.array(rows))
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
            "needs_data": pa.array(needs),
            "failed": failed,
        }
    )


def _failed(population: Population, policy: Policy) -> tuple[pa.Array, np.ndarray]:
    """Per enterprise, the conditions that did not hold (false or unknown), ``;``-joined, as a
    dictionary array (the combinations are few); and where only unknown values failed it
    (待补充: none known to fail, one unknown)."""
    if not policy.valid_on(population.as_of):
        nobody = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(population.size, np.int32)), pa.array(["valid"])
        )
        return nobody, np.zeros(population.size, bool)
    states = condition_states(population, policy)
    needs = (states.failed_counts() == 0) & states.any_unknown()
    code = np.zeros(population.size, dtype=np.int64)
    for i, holds in enumerate(states.holds):
        code |= (~holds).astype(np.int64) << i
    combos, index = np.unique(code, return_inverse=True)
    ids = [c.id for c in policy.conditions]
    words = [";".join(ids[i] for i in range(len(ids)) if int(combo) >> i & 1) for combo in combos]
    failed = pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), pa.array(words))
    return failed, needs


def _shaped(table: pa.Table | None) -> pa.Table:
    """Plain column types, as a reader of the file expects (no rows when None)."""
    types = {
        "policy_id": pa.string(),
        "uscc": pa.string(),
        "eligible": pa.bool_(),
        "amount": pa.float64(),
        "needs_data": pa.bool_(),
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
