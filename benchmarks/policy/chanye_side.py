"""chanye's side of the policy benchmark: the product's own engine on the population file.

Cold: read the columns the policies read from the Parquet (deriving age_years and rd_ratio in
numpy), parse and check the policies, evaluate: the product's own path (``Population``). Warm: evaluate again with everything
loaded (the state of a running server). Write: the eligible pairs to Parquet. Also timed: an
incremental re-run after 1% of enterprises change, one explanation, one simulation.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.policy.run import ChanyeRun
from chanye.policy.columnar import fields_for, rerun_changed_columnar
from chanye.policy.explain import explain
from chanye.policy.loader import load_policy_text
from chanye.policy.population import Eligible, Population, match_all
from chanye.policy.simulate import simulate
from chanye.registry.view import RegistryView

WARM_REPEATS = 3
CHANGED_SHARE = 0.01


def evaluate(policies: Sequence[str], population: Path, *, as_of: dt.date) -> ChanyeRun:
    started = time.perf_counter()
    loaded = Population(RegistryView.of_files([population]), as_of)
    parsed = [load_policy_text(text, f"generated-{i}.yaml") for i, text in enumerate(policies)]
    found = match_all(loaded, parsed)
    cold = time.perf_counter() - started

    warm_runs = []
    for _ in range(WARM_REPEATS):
        began = time.perf_counter()
        found = match_all(loaded, parsed)
        warm_runs.append(time.perf_counter() - began)

    pairs = _pairs(found)
    write_seconds = _write(pairs, parsed, loaded)
    details = {
        "warm_runs_seconds": [round(s, 3) for s in warm_runs],
        "eligible_pairs": pairs.num_rows,
        "engine": "columnar executor (numpy, selection vectors, all cores) over the Parquet "
        "columns the policies read (chanye.policy.population, the product's path)",
        **_incremental(loaded, parsed, pairs),
        **_explain_and_simulate(loaded, parsed, pairs),
    }
    return ChanyeRun(
        _by_policy(pairs, parsed, loaded.size), cold, min(warm_runs), write_seconds, details
    )


def _pairs(found: list[Eligible]) -> pa.Table:
    return pa.table(
        {
            "p": np.concatenate(
                [np.full(len(e.rows), i, np.int16) for i, e in enumerate(found)]
                or [np.zeros(0, np.int16)]
            ),
            "rid": np.concatenate([e.rows for e in found] or [np.zeros(0, np.int64)]),
            "amount": np.concatenate([e.amounts for e in found] or [np.zeros(0)]),
        }
    )


def _write(pairs: pa.Table, policies: list[Any], population: Population) -> float:
    began = time.perf_counter()
    ids = pa.array([p.id for p in policies])
    table = pa.table(
        {
            "policy_id": ids.take(pairs["p"]),
            "uscc": population.usccs.take(pairs["rid"]),
            "amount": pairs["amount"],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        pq.write_table(table, Path(folder) / "eligible.parquet")
    return time.perf_counter() - began


def _incremental(population: Population, policies: list[Any], previous: pa.Table) -> dict[str, Any]:
    """1% of enterprises change (revenue and R&D expense move), then only they are re-evaluated."""
    rng = np.random.default_rng(7)
    changed = np.sort(
        rng.choice(population.size, int(population.size * CHANGED_SHARE), replace=False)
    )
    # What the import hands over: the changed enterprises' new rows (not timed: that is the import).
    fields = fields_for(policies)
    rows = population.policy_table(fields).take(pa.array(changed))
    for name, factor in (("revenue", 1.5), ("rd_expense", 2.0)):
        if name in rows.column_names:
            moved = pc.multiply(rows[name], factor)
            rows = rows.set_column(rows.schema.get_field_index(name), name, moved)
    if "rd_ratio" in rows.column_names:  # derived from the two moved above
        ratio = pc.multiply(rows["rd_ratio"], 2.0 / 1.5)
        rows = rows.set_column(rows.schema.get_field_index("rd_ratio"), "rd_ratio", ratio)
    rows = rows.add_column(0, "rid", pa.array(changed))
    _now, gained, lost, seconds = rerun_changed_columnar(rows, policies, previous, population.as_of)
    return {
        "incremental_changed": len(changed),
        "incremental_seconds": round(seconds, 4),
        "incremental_gained": len(gained),
        "incremental_lost": len(lost),
    }


def _explain_and_simulate(
    population: Population, policies: list[Any], pairs: pa.Table
) -> dict[str, Any]:
    policy = policies[int(pairs["p"][0].as_py())] if pairs.num_rows else policies[0]
    uscc = (
        population.usccs[int(pairs["rid"][0].as_py())].as_py()
        if pairs.num_rows
        else population.usccs[0].as_py()
    )
    explain(population, policy, uscc)  # the first lookup opens the file's metadata
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        explain(population, policy, uscc)
        runs.append(time.perf_counter() - began)
    number = next((k for k, v in policy.parameters.items() if isinstance(v, float)), None)
    simulated = None
    if number is not None:
        simulated = simulate(population, policy, {number: policy.parameters[number] * 0.8}).seconds
    return {
        "explain_seconds": round(min(runs), 5),
        "simulate_seconds": None if simulated is None else round(simulated, 3),
        "simulated_policy": policy.id,
    }


def _by_policy(pairs: pa.Table, policies: list[Any], size: int) -> dict[str, tuple[Any, Any]]:
    p = pairs["p"].to_numpy()
    rid = pairs["rid"].to_numpy()
    amount = pairs["amount"].to_numpy(zero_copy_only=False)
    results = {}
    for index, policy in enumerate(policies):
        chosen = p == index
        eligible = np.zeros(size, dtype=bool)
        eligible[rid[chosen]] = True
        amounts = np.full(size, np.nan)
        amounts[rid[chosen]] = amount[chosen]
        results[policy.id] = (eligible, amounts)
    return results
