"""The portable SQL path sees the registry as of the date, as the columnar engine does, and runs
the history functions: policies reading an enterprise's past (the demo policies that do, and
clauses of growth and prior-year figures) agree between the columnar engine, the SQL path and
the interpreter, on a registry with yearly figures and dated qualifications, at two dates — the
first before one enterprise was founded and another recognised."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from chanye.policy import population as policy_population
from chanye.policy.demo import demo_policies
from chanye.policy.engine import compile_set, run_pairs
from chanye.policy.history import HistoryField
from chanye.policy.interpret import MISSING, evaluate
from chanye.policy.loader import load_policy_text
from chanye.policy.model import Policy
from chanye.policy.population import Population, load_population
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.audit import Actor
from tests.registry.factory import row, uscc, write_csv

EARLY, LATE = dt.date(2025, 6, 30), dt.date(2026, 6, 30)
TAG, RD = "企业标签", "研发费用（万元）"
# 1 first recognised 2025-03; 2 recognised 2022 and again 2025-11 (after EARLY); 3 founded in
# 2026 (after EARLY), holding the list's undated tag; 4 entered the 规上 statistics in 2024.
# Every list figure (研发费用 300万, 营业收入 5000万) differs from the yearly ones.
LISTED = [
    row(1),
    row(2),
    row(3, **{"成立日期": "2026-01-10"}),
    row(4, **{TAG: ""}),
    row(5, **{TAG: "", RD: ""}),
]
ANNUAL = (
    "统一社会信用代码,2023年营业收入（万元）,2024年营业收入（万元）,2025年营业收入（万元）,"
    "2024年研发费用（万元）,2025年研发费用（万元）\n"
    f"{uscc(1)},10000,12000,15000,1200,6000\n"
    f"{uscc(2)},10000,11000,14000,2000,2000\n"
    f"{uscc(4)},30000,30000,36000,,\n"
)
DATED = (
    "统一社会信用代码,资质,认定日期\n"
    f"{uscc(1)},高新技术企业,2025-03-01\n"
    f"{uscc(2)},高新技术企业,2022-01-01\n"
    f"{uscc(2)},高新技术企业,2025-11-20\n"
    f"{uscc(4)},规上企业,2024-03-01\n"
    f"{uscc(5)},规上企业,2019-01-01\n"
)
CLAUSES = """\
id: {id}
title: 测试政策
issuer: 广州市工业和信息化局
valid: {{from: 2025-01-01, to: 2027-12-31}}
conditions:
  - id: c
    text: 测试条件
    when: '{when}'
benefit:
  amount: '{amount}'
"""
GROWTH = CLAUSES.format(
    id="growth-increment",
    when="growth(enterprise.revenue) >= 0.15 && peak_before(enterprise.revenue) < 400000000.0",
    amount="min((enterprise.revenue - prior(enterprise.revenue)) * 0.01, 1000000.0)",
)
HELD = CLAUSES.format(
    id="held-high-tech",
    when='"high_tech" in enterprise.tags && enterprise.revenue >= 20000000.0',
    amount="100000.0",
)


@pytest.fixture
def registry(context: RegistryContext, tmp_path: Path) -> RegistryContext:
    annual, dated = tmp_path / "annual.csv", tmp_path / "zizhi.csv"
    annual.write_text(ANNUAL, encoding="utf-8")
    dated.write_text(DATED, encoding="utf-8")
    for path in (write_csv(tmp_path / "list.csv", LISTED), annual, dated):
        done = import_file(
            context.database_url, context.paths, context.system, path, Actor("system", "system")
        )
        assert done.exit_code == 0
    return context


def _policies() -> list[Policy]:
    """The demo policies that read history, and two clauses of yearly figures and tags."""
    history = [p for p in demo_policies() if any(map(HistoryField.parse, p.fields_read()))]
    assert len(history) >= 5
    own = [load_policy_text(text, "p.yaml") for text in (GROWTH, HELD)]
    return [*history, *own]


Paid = dict[str, float | None]


def _columnar(population: Population, policy: Policy) -> Paid:
    found = policy_population.eligible(population, policy)
    return _by_uscc(population, found.rows.tolist(), found.amounts.tolist())


def _sql(population: Population, policy: Policy) -> Paid:
    """The SQL path alone: no filter of the columnar engine's applied after it."""
    pairs = run_pairs(population.sql(), compile_set([policy], population.as_of)).to_pylist()
    return _by_uscc(population, [p["rid"] for p in pairs], [p["amount"] for p in pairs])


def _by_uscc(population: Population, rows: list[int], amounts: list[float | None]) -> Paid:
    usccs = population.usccs.to_pylist()
    return {
        usccs[r]: None if a is None or math.isnan(a) else a
        for r, a in zip(rows, amounts, strict=True)
    }


def _interpreted(population: Population, policy: Policy) -> Paid:
    """Record by record: the interpreter over each enterprise as it stood on the date."""
    found: Paid = {}
    usccs = [uscc(n) for n in range(1, len(LISTED) + 1)]
    records = population.records(usccs, policy)
    for key, record in records.items():
        if population.founded_after(key) is not None or not policy.valid_on(population.as_of):
            continue
        if all(evaluate(c.node, record, policy.parameters) is True for c in policy.conditions):
            value = evaluate(policy.amount, record, policy.parameters) if policy.amount else MISSING
            found[key] = None if value is MISSING else float(value)
    return found


def _candidates(found: policy_population.Candidates) -> list[tuple[int, list[bool], list[bool]]]:
    return [
        (int(r), [bool(h[i]) for h in found.holds], [bool(u[i]) for u in found.unknown])
        for i, r in enumerate(found.rows.tolist())
    ]


@pytest.mark.parametrize("as_of", [EARLY, LATE])
def test_both_engines_and_the_interpreter_agree_on_history_and_the_day(
    registry: RegistryContext, as_of: dt.date
) -> None:
    population = load_population(registry, as_of)
    for policy in _policies():
        columnar = _columnar(population, policy)
        assert _sql(population, policy) == pytest.approx(columnar), (policy.id, as_of)
        assert _interpreted(population, policy) == pytest.approx(columnar), (policy.id, as_of)
        assert _candidates(policy_population.candidates(population, policy)) == _candidates(
            policy_population._candidates_sql(population, policy)
        ), (policy.id, as_of)


# What each path must find, worked out by hand from the files above (not from an engine).
EXPECTED = {
    EARLY: {
        # 1 recognised 2025-03 with 1200万 R&D in 2024; 2 not yet recognised again.
        "demo-rd-subsidy": {uscc(1): 200_000.0},
        "demo-high-tech-reward": {uscc(1): 200_000.0},
        "demo-above-scale-upgrade": {uscc(4): 50_000.0},
        # 2024 over 2023: 1 grew 20% (+2000万 → 20万); 2 only 10%; 4 none.
        "growth-increment": {uscc(1): 200_000.0},
        # 3 did not exist yet; 1 held the kind with 1.2亿 revenue in 2024.
        "held-high-tech": {uscc(1): 100_000.0},
    },
    LATE: {
        "demo-rd-subsidy": {uscc(1): 400_000.0, uscc(2): 200_000.0},
        "demo-high-tech-reward": {uscc(1): 200_000.0, uscc(2): 100_000.0},
        "demo-above-scale-upgrade": {uscc(4): 50_000.0},
        "growth-increment": {uscc(1): 300_000.0, uscc(2): 300_000.0, uscc(4): 600_000.0},
        "held-high-tech": {uscc(1): 100_000.0, uscc(2): 100_000.0, uscc(3): 100_000.0},
    },
}


@pytest.mark.parametrize("as_of", [EARLY, LATE])
def test_the_sql_path_reads_the_registry_as_of_the_date(
    registry: RegistryContext, as_of: dt.date
) -> None:
    """Read as the list holds it today, every one of these would differ: the list's 300万 R&D
    pays no 研发投入奖励, its undated tag makes 3 and 2 high-tech on any day, and 3 exists."""
    population = load_population(registry, as_of)
    policies = {p.id: p for p in _policies()}
    for policy_id, expected in EXPECTED[as_of].items():
        assert _sql(population, policies[policy_id]) == pytest.approx(expected), policy_id


def test_a_bare_table_of_values_has_no_past_to_read() -> None:
    """A table of values (benchmarks, hand-made tests) holds no facts over time: a policy
    calling a history function is refused there, never run on nothing."""
    from tests.policy.test_agreement import population_of

    blank = dict.fromkeys(
        ("revenue", "rd_expense", "employees", "founded_on", "district_code", "industry_code")
    )
    bare = population_of([{**blank, "tags": [], "clusters": [], "status": "active"}], LATE)
    growth = load_policy_text(GROWTH, "p.yaml")
    with pytest.raises(ValueError, match="须在企业库上按日期计算"):
        run_pairs(bare, compile_set([growth], LATE))
