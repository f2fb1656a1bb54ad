"""The plain script chanye's ``policy match`` process is measured against: pyarrow and numpy only.

What one would write by hand to match the benchmark's policies over a registry snapshot: read
the columns the policies use from the snapshot's Parquet parts (pyarrow), build the numpy arrays
(``population.from_table``), evaluate every policy as the AND of its conditions' boolean arrays
(``numpy_baseline``) and write the eligible (policy, enterprise, amount) rows ordered by policy
id and USCC to Parquet, the file ``chanye policy match --out x.parquet`` writes.

    python -m benchmarks.policy.plain_script SNAPSHOT_DIR OUT.parquet POLICIES SEED [--openfisca]

With ``--openfisca`` the policies are evaluated by the OpenFisca model instead (its load
included: the whole process is timed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.policy.generate import generate_policies
from benchmarks.policy.outcome import Outcome
from benchmarks.policy.population import COLUMNS, from_table


def read(snapshot: Path) -> pa.Table:
    parts = [pq.read_table(p, columns=list(COLUMNS)) for p in sorted(snapshot.glob("records-*"))]
    return pa.concat_tables(parts)


def write(outcomes: dict[str, Outcome], usccs: pa.Array, out: Path) -> int:
    order = np.asarray(pc.sort_indices(usccs).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    parts = []
    for policy_id in sorted(outcomes):
        outcome = outcomes[policy_id]
        rows = np.flatnonzero(outcome.eligible)
        by_uscc = np.argsort(rank[rows], kind="stable")
        amounts = outcome.amount[by_uscc]
        parts.append(
            pa.table(
                {
                    "policy_id": pa.array([policy_id] * len(rows), pa.string()),
                    "uscc": usccs.take(pa.array(rows[by_uscc])),
                    "eligible": pa.array(np.ones(len(rows), bool)),
                    "amount": pa.array(amounts, mask=np.isnan(amounts)),
                    "failed": pa.array([""] * len(rows), pa.string()),
                }
            )
        )
    table = pa.concat_tables(parts)
    pq.write_table(table, out)
    return int(table.num_rows)


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    snapshot, out, count, seed = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3])
    policies = generate_policies(count, seed)
    pop = from_table(read(snapshot))
    if "--openfisca" in argv:
        from benchmarks.policy import openfisca_model

        outcomes, _timings = openfisca_model.run(pop, policies)
    else:
        from benchmarks.policy import numpy_baseline

        outcomes = numpy_baseline.evaluate(pop, policies)
    rows = write(outcomes, pop.uscc, out)
    print(f"{rows} eligible pairs in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
