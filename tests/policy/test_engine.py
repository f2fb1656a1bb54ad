"""The batch engine's other duties: re-running only what changed, 'needs data', near misses,
explanations and simulation, on a hand-made population."""

from __future__ import annotations

import datetime as dt

import pytest

from chanye.policy.engine import BASE_TABLE, compile_set, rerun_changed, run_pairs
from chanye.policy.explain import explain, near_misses, substitute
from chanye.policy.loader import PolicyFileError, load_policy_text
from chanye.policy.simulate import parse_setting, simulate
from tests.policy.test_agreement import population_of, product_population
from tests.policy.test_loader import GOOD

AS_OF = dt.date(2026, 6, 30)
POLICY = load_policy_text(GOOD, "rd.yaml")


def enterprise(
    revenue: float | None, tags: list[str] | None, rd: float | None = 1.0e6
) -> dict[str, object]:
    return {
        "revenue": revenue,
        "rd_expense": rd,
        "employees": 50,
        "founded_on": dt.date(2015, 1, 1),
        "district_code": "440106",
        "industry_code": "3841",
        "tags": tags,
        "clusters": [],
        "status": "active",
    }


RECORDS = [
    enterprise(3.0e7, ["high_tech"]),  # U00000 eligible: 10% of 1,000,000
    enterprise(1.9e7, ["high_tech"]),  # U00001 near miss: revenue short by 1,000,000
    enterprise(None, ["high_tech"]),  # U00002 needs data: revenue missing
    enterprise(3.0e7, []),  # U00003 fails: not high-tech
    enterprise(3.0e7, ["high_tech"], rd=None),  # U00004 eligible, amount unknown
]


@pytest.fixture
def population():  # type: ignore[no-untyped-def]
    """In DuckDB: the portable path."""
    return population_of(RECORDS, AS_OF)


@pytest.fixture
def product():  # type: ignore[no-untyped-def]
    """On the columnar engine: what the product runs."""
    return product_population(RECORDS, AS_OF)


def test_explanation_in_the_words_of_the_policy(product) -> None:  # type: ignore[no-untyped-def]
    yes = explain(product, POLICY, "U00000")
    assert yes is not None and yes.eligible and yes.amount == pytest.approx(100000.0)
    assert yes.conditions[0].text == "上年度营业收入不低于2000万元（第三条）"
    assert yes.conditions[0].values == {"revenue": 3.0e7}
    assert yes.arithmetic == "min(研发费用[100万元] * 0.1, 500万元) = 10万元"
    unknown = explain(product, POLICY, "U00002")
    assert unknown is not None and not unknown.eligible and unknown.needs_data
    assert unknown.conditions[0].outcome == "unknown" and unknown.conditions[0].missing == [
        "revenue"
    ]
    assert explain(product, POLICY, "U00003").needs_data is False  # type: ignore[union-attr]
    assert explain(product, POLICY, "NO-SUCH") is None


def test_near_misses_say_by_how_much(product) -> None:  # type: ignore[no-untyped-def]
    misses = near_misses(product, POLICY)
    first = misses[0]
    assert (first.uscc, first.condition_id, first.shortfall) == ("U00001", "revenue", 1.0e6)
    assert "U00002" not in {m.uscc for m in misses}  # missing data is not a near miss


def test_rerun_only_the_changed_enterprises(population) -> None:  # type: ignore[no-untyped-def]
    previous = run_pairs(population, compile_set([POLICY], AS_OF))
    assert sorted(previous["rid"].to_pylist()) == [0, 4]
    population.con.execute(f"UPDATE {BASE_TABLE} SET revenue = 2.5e7 WHERE rid = 1")  # now eligible
    population.con.execute(f"UPDATE {BASE_TABLE} SET tags = [] WHERE rid = 0")  # no longer
    delta = rerun_changed(population, [POLICY], previous, [0, 1])
    assert delta.gained == [(0, 1)] and delta.lost == [(0, 0)]


def test_simulation_before_and_after(product) -> None:  # type: ignore[no-untyped-def]
    result = simulate(product, POLICY, {"min_revenue": 1.0e7, "rate": 0.2})
    assert (result.before.eligible, result.after.eligible) == (2, 3)
    assert result.before.total_amount == pytest.approx(100000.0)
    assert result.after.total_amount == pytest.approx(400000.0)
    assert (result.gained, result.lost) == (1, 0)
    assert result.gainers[0]["uscc"] == "U00001"
    assert result.by_district == [
        {
            "key": "440106",
            "before_eligible": 2,
            "before_amount": 100000.0,
            "after_eligible": 3,
            "after_amount": 400000.0,
        }
    ]


def test_columnar_rerun_agrees_with_the_duckdb_rerun(population) -> None:  # type: ignore[no-untyped-def]
    from chanye.policy.columnar import Columns, rerun_changed_columnar, run_columnar

    previous = run_columnar(Columns.of(population), [POLICY], AS_OF)
    population.con.execute(f"UPDATE {BASE_TABLE} SET revenue = 2.5e7 WHERE rid = 1")
    population.con.execute(f"UPDATE {BASE_TABLE} SET tags = [] WHERE rid = 0")
    changed = population.con.execute(
        f"SELECT * FROM {BASE_TABLE} WHERE rid IN (0, 1) ORDER BY rid"
    ).to_arrow_table()
    _now, gained, lost, _seconds = rerun_changed_columnar(changed, [POLICY], previous, AS_OF)
    delta = rerun_changed(population, [POLICY], previous, [0, 1])
    assert (gained, lost) == (delta.gained, delta.lost) == ([(0, 1)], [(0, 0)])


def test_a_cap_must_be_positive() -> None:
    """How a cap pays is the workflow's (tests/policy/test_workflow.py); the file refuses a bad one."""
    with pytest.raises(PolicyFileError):
        load_policy_text(GOOD + "cap_group: {id: innovation, cap: -1}\n", "c.yaml")


def test_a_parameter_whose_name_has_a_digit_is_written_into_the_arithmetic() -> None:
    written = substitute(
        "enterprise.revenue * params.rate2 + params.tier10",
        {"revenue": 1000.0},
        {
            "rate2": 0.1,
            "tier10": 5.0,
        },
    )
    assert written == "营业收入[1,000元] * 0.1 + 5"  # money as people read it, not raw yuan


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("min_revenue=2000万", 20_000_000.0),
        ("cap=1.5亿元", 150_000_000.0),
        ("rate=20%", 0.2),
        ("rate=0.25", 0.25),
    ],
)
def test_a_setting_takes_the_unit_people_write(setting: str, value: float) -> None:
    assert parse_setting(setting, POLICY)[1] == value


def test_a_setting_that_is_no_number_says_so() -> None:
    with pytest.raises(ValueError, match="参数 cap 的取值 'lots' 不是 float"):
        parse_setting("cap=lots", POLICY)
