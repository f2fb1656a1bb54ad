"""The policy benchmark's competitors agree with each other, and with cel-python on the policy
files' CEL, on a small population with missing values and values exactly at the thresholds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import celpy
import numpy as np
import pyarrow as pa
import pytest
import yaml
from benchmarks.policy import numpy_baseline
from benchmarks.policy import rule_engine_baseline as rule_engine
from benchmarks.policy.generate import (
    EMPLOYEES_MAX,
    EMPLOYEES_MIN,
    KINDS,
    REVENUE_MAX,
    REVENUE_MIN,
    Condition,
    Policy,
    amount_cel,
    condition_cel,
    districts,
    generate_policies,
    to_policy_yaml,
)
from benchmarks.policy.outcome import Outcome, disagreements
from benchmarks.policy.population import AS_OF, Population, from_table
from benchmarks.policy.run import ChanyeRun, run_chanye

from chanye.policy.demo import demo_files

TAGS = [
    "high_tech",
    "above_scale",
    "specialized_sme",
    "little_giant",
    "chain_leader",
    "listed",
    "unicorn",
]
CLUSTERS = ["icv-nev", "ai", "biomed-health", "software-internet", "low-altitude-aerospace"]


def _with_nulls(rng: np.random.Generator, values: list[Any], share: float) -> list[Any]:
    return [None if rng.random() < share else v for v in values]


def tiny_table(n: int = 2000, seed: int = 5) -> pa.Table:
    """Registry-shaped rows: values often exactly at the menu's thresholds, zero revenue, empty and
    missing tag lists, founding dates on and around the as-of day, about 5% missing per field."""
    rng = np.random.default_rng(seed)
    revenue = np.round(10 ** rng.uniform(4, 9.5, n), 2)
    at_threshold = rng.random(n) < 0.2
    revenue[at_threshold] = rng.choice(
        [*REVENUE_MIN, *REVENUE_MAX, 19_999_999.99], at_threshold.sum()
    )
    revenue[rng.random(n) < 0.03] = 0.0
    rd = np.round(revenue * rng.choice([0.0, 0.01, 0.02, 0.03, 0.05, 0.08], n), 2)
    employees = rng.integers(0, 1500, n)
    at_threshold = rng.random(n) < 0.3
    employees[at_threshold] = rng.choice([*EMPLOYEES_MIN, *EMPLOYEES_MAX], at_threshold.sum())
    founded = [AS_OF - dt.timedelta(days=int(d)) for d in rng.integers(0, 20 * 366, n)]
    for i in rng.choice(
        n, min(n, 60), replace=False
    ):  # anniversaries: exactly k years old on the day
        founded[i] = AS_OF.replace(year=AS_OF.year - int(rng.integers(1, 12)))
    codes = [c for c, _ in districts()]
    prefixes = ["26", "27", "36", "38", "39", "65", "72", "51"]
    tags = [sorted(set(rng.choice(TAGS, int(rng.integers(0, 4))).tolist())) for _ in range(n)]
    clusters = [
        sorted(set(rng.choice(CLUSTERS, int(rng.integers(0, 3))).tolist())) for _ in range(n)
    ]
    industry = [f"{rng.choice(prefixes)}{rng.integers(0, 100):02d}" for _ in range(n)]
    columns = {
        "uscc": pa.array([f"91440101TEST{i:06d}" for i in range(n)]),
        "revenue": pa.array(_with_nulls(rng, revenue.tolist(), 0.05), pa.float64()),
        "employees": pa.array(_with_nulls(rng, employees.tolist(), 0.05), pa.int64()),
        "rd_expense": pa.array(_with_nulls(rng, rd.tolist(), 0.05), pa.float64()),
        "founded_on": pa.array(_with_nulls(rng, founded, 0.05), pa.date32()),
        "district_code": pa.array(_with_nulls(rng, rng.choice(codes, n).tolist(), 0.05)),
        "industry_code": pa.array(_with_nulls(rng, industry, 0.05), pa.string()),
        "tags": pa.array(_with_nulls(rng, tags, 0.05), pa.list_(pa.string())),
        "clusters": pa.array(clusters, pa.list_(pa.string())),
    }
    return pa.table(columns)


@pytest.fixture(scope="module")
def pop() -> Population:
    return from_table(tiny_table())


@pytest.fixture(scope="module")
def policies() -> list[Policy]:
    """10 generated policies (seed 3 uses every kind of condition and amount), and each of their
    conditions alone, so that a condition wrong on a few enterprises cannot hide in a conjunction."""
    generated = generate_policies(10, seed=3)
    alone = [
        Policy(f"{p.id}-{c.id}", p.title, p.issuer, (c,), p.amount)
        for p in generated
        for c in p.conditions
    ]
    return generated + alone


@pytest.fixture(scope="module")
def reference(pop: Population, policies: list[Policy]) -> dict[str, Outcome]:
    return numpy_baseline.evaluate(pop, policies)


def test_the_population_marks_what_is_missing(pop: Population) -> None:
    for field in ("revenue", "employees", "rd_expense", "founded_on", "district_code", "tags"):
        assert 40 < pop.missing[field].sum() < 200, field
    assert np.isnan(pop.revenue[pop.missing["revenue"]]).all()
    assert np.isnan(pop.rd_ratio[pop.missing["revenue"] | pop.missing["rd_expense"]]).all()
    zero = (pop.revenue == 0) & pop.known("rd_expense")
    assert zero.any() and (pop.rd_ratio[zero] == 0).all()
    birthdays = pop.known("age_years") & (pop.age_years > 0)
    assert birthdays.any()


def test_age_counts_whole_years_to_the_as_of_day() -> None:
    founded = [
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 2),
        dt.date(2016, 1, 1),
        dt.date(2015, 12, 31),
        None,
    ]
    table = tiny_table(5).set_column(4, "founded_on", pa.array(founded, pa.date32()))
    pop = from_table(table, dt.date(2026, 1, 1))
    assert pop.age_years[:4].tolist() == [1, 0, 10, 10]
    assert pop.missing["age_years"].tolist() == [False] * 4 + [True]


def test_the_policies_are_deterministic_and_of_realistic_shape(policies: list[Policy]) -> None:
    again = generate_policies(10, seed=3)
    assert [to_policy_yaml(p) for p in again] == [to_policy_yaml(p) for p in policies[:10]]
    assert generate_policies(10, seed=4) != policies[:10]
    assert {c.id for p in again for c in p.conditions} == {kind for kind, _ in KINDS}
    assert {p.amount.kind for p in again} == {"fixed", "share", "tiered"}
    for policy in generate_policies(100, seed=1):
        assert 3 <= len(policy.conditions) <= 8
        assert len({c.id for c in policy.conditions}) == len(policy.conditions)


def test_the_policy_file_has_doubles_for_money_and_ints_for_counts(policies: list[Policy]) -> None:
    for policy in generate_policies(100, seed=1):
        document = yaml.safe_load(to_policy_yaml(policy))
        assert document["id"] == policy.id and document["valid"]["from"] == dt.date(2025, 1, 1)
        for name, value in document["parameters"].items():
            counted = name in (
                "min_employees",
                "max_employees",
                "min_age",
                "max_age",
                "tier_employees",
            )
            assert isinstance(value, int if counted else float), (policy.id, name, value)
        assert [c["id"] for c in document["conditions"]] == [c.id for c in policy.conditions]
        assert document["benefit"]["amount"] == amount_cel(policy.amount)


def test_numpy_and_rule_engine_agree(
    pop: Population, policies: list[Policy], reference: dict[str, Outcome]
) -> None:
    compiled = rule_engine.compile_policies(policies)
    per_record = rule_engine.evaluate(compiled, pop.records(np.arange(pop.size)))
    assert disagreements(reference, per_record) == {}
    eligible = [int(o.eligible.sum()) for o in reference.values()]
    assert sum(eligible) > 0 and all(e < pop.size for e in eligible)
    assert any(np.isnan(o.amount).any() for o in reference.values())  # amounts reading a gap


def test_openfisca_agrees(
    pop: Population, policies: list[Policy], reference: dict[str, Outcome]
) -> None:
    pytest.importorskip(
        "openfisca_core",
        reason="openfisca-core is not installed: "
        "`pip install -e '.[bench]'` (make bench installs it)",
    )
    from benchmarks.policy import openfisca_model

    results, timings = openfisca_model.run(pop, policies)
    assert disagreements(reference, results) == {}
    assert timings["seconds"] > 0


def test_a_flipped_decision_is_caught(reference: dict[str, Outcome]) -> None:
    policy_id, outcome = next((k, o) for k, o in reference.items() if o.eligible.any())
    flipped = outcome.eligible.copy()
    flipped[np.flatnonzero(~flipped)[0]] = True
    changed = {**reference, policy_id: Outcome(flipped, np.append(outcome.amount, 1.0))}
    assert disagreements(reference, changed) == {policy_id: {"eligibility": 1, "amount": 0}}
    doubled = {**reference, policy_id: Outcome(outcome.eligible, outcome.amount * 2)}
    assert disagreements(reference, doubled)[policy_id]["amount"] > 0


def test_a_missing_value_never_holds() -> None:
    table = tiny_table(4)
    blank = {
        "revenue": pa.array([None, 3e7, 3e7, 0.0], pa.float64()),
        "tags": pa.array([["high_tech"], None, [], []], pa.list_(pa.string())),
    }
    for name, column in blank.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    pop = from_table(table)
    revenue = Condition("revenue-min", "revenue", ">=", 2.0e7, "", "min_revenue")
    not_listed = Condition("tag-lacks", "tags", "lacks", "listed", "")
    rd = Condition("rd-ratio-min", "rd_ratio", ">=", 0.0, "", "min_rd_ratio")
    assert numpy_baseline.condition_holds(pop, revenue).tolist() == [False, True, True, False]
    assert numpy_baseline.condition_holds(pop, not_listed).tolist() == [True, False, True, True]
    assert numpy_baseline.condition_holds(pop, rd)[[0, 3]].tolist() == [
        False,
        pop.known("rd_expense")[3],
    ]


def _holds(program: Any, activation: dict[str, Any]) -> bool:
    try:
        value = program.evaluate(activation)
    except celpy.CELEvalError:  # a missing value: the condition does not hold
        return False
    return isinstance(value, celpy.celtypes.BoolType) and bool(value)


def _value(program: Any, activation: dict[str, Any]) -> float:
    try:
        return float(program.evaluate(activation))
    except celpy.CELEvalError:
        return float("nan")


def _cel_record(record: dict[str, Any]) -> Any:
    return celpy.json_to_cel({k: v for k, v in record.items() if v is not None})


def test_the_policy_files_cel_means_what_the_competitors_compute(
    pop: Population, policies: list[Policy], reference: dict[str, Outcome]
) -> None:
    """cel-python, per enterprise, on the CEL written into the policy files (a missing value is an
    absent field: the condition errs, so it does not hold)."""
    env = celpy.Environment()

    def cel_min(a: Any, b: Any) -> Any:
        return a if a <= b else b

    rows = np.arange(0, pop.size, 14)
    records = [_cel_record(r) for r in pop.records(rows)]
    for policy in policies:
        params = celpy.json_to_cel(policy.parameters)
        programs = [env.program(env.compile(condition_cel(c))) for c in policy.conditions]
        amount = env.program(env.compile(amount_cel(policy.amount)), functions={"min": cel_min})
        eligible, amounts = [], []
        for record in records:
            activation = {"enterprise": record, "params": params}
            held = all(_holds(p, activation) for p in programs)
            eligible.append(held)
            if held:
                amounts.append(_value(amount, activation))
        cel = Outcome(np.array(eligible), np.array(amounts, dtype=np.float64))
        assert disagreements({policy.id: reference[policy.id].subset(rows)}, {policy.id: cel}) == {}


def test_chanye_plugs_in_through_the_hook(
    pop: Population, policies: list[Policy], reference: dict[str, Outcome], tmp_path: Path
) -> None:
    """A stand-in for chanye's engine: full-length arrays in, compared like every competitor."""
    seen: dict[str, Any] = {}

    def evaluate(texts: Any, population: Path, *, as_of: dt.date) -> ChanyeRun:
        seen.update(texts=list(texts), population=population, as_of=as_of)
        results = {}
        for policy_id, outcome in reference.items():
            amounts = np.full(pop.size, -1.0)  # ignored where not eligible
            amounts[outcome.eligible] = outcome.amount
            results[policy_id] = (outcome.eligible.copy(), amounts)
        results[policies[0].id][0][np.flatnonzero(~reference[policies[0].id].eligible)[0]] = True
        return ChanyeRun(results, cold_seconds=2.0, warm_seconds=0.5, write_seconds=0.1)

    texts = [to_policy_yaml(p) for p in policies]
    outcomes, figures = run_chanye(evaluate, texts, tmp_path / "population.parquet")
    assert seen == {"texts": texts, "population": tmp_path / "population.parquet", "as_of": AS_OF}
    assert figures["warm_seconds"] == 0.5 and figures["write_seconds"] == 0.1
    assert disagreements(reference, outcomes) == {policies[0].id: {"eligibility": 1, "amount": 0}}


def test_one_run_measures_what_users_run_on_a_small_registry() -> None:
    """The whole benchmark, small: chanye's engine in process, then `chanye policy match` as a
    process beside the plain script and OpenFisca (their files compared row by row), publishing
    the demo policies, and `chanye serve`'s memory."""
    pytest.importorskip("openfisca_core", reason="openfisca-core is not installed (make bench)")
    from benchmarks.policy.run import chanye_hook, run

    figures = run(
        chanye_hook(), enterprises=3000, policy_count=5, rule_sample=200, repeats=1, out=None
    )
    assert figures["all_agree"], figures["agreement"]
    match = figures["product"]["match_process"]
    assert match["agreement"]["chanye_vs_script"]["rows"][0] > 0
    assert {"chanye", "script", "openfisca"} <= set(match)
    assert figures["product"]["publishing"]["published"] == len(demo_files())
    memory = figures["product"]["web_memory"]["later_start"]
    assert memory["after_policy_pages"]["VmRSS_mb"] > 0
