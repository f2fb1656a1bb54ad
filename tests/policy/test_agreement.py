"""One rule definition, four evaluators that must agree: the batch engine (CEL → Ibis → DuckDB
over a table), the columnar executor (numpy over the population in memory), the single-enterprise
interpreter the explanations use, and cel-python evaluating the same CEL text per enterprise. Random policies and enterprises, with missing values, empty tag
lists, zero revenue and dates at the validity bounds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import celpy
import duckdb
import pytest
from celpy import celtypes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chanye.policy.columnar import Columns, run_columnar
from chanye.policy.engine import SqlPopulation, compile_set, run_pairs
from chanye.policy.interpret import MISSING, evaluate
from chanye.policy.loader import load_policy_text
from chanye.policy.model import Policy
from chanye.policy.population import Population
from chanye.policy.tiers import Tiers
from chanye.registry.view import RegistryView

TAGS = ["high_tech", "specialized_sme", "little_giant", "above_scale"]
CLUSTERS = ["icv-nev", "ai", "semiconductor-ic"]
DISTRICTS = ["440106", "440112", "440115"]
VALID_FROM, VALID_TO = dt.date(2025, 1, 1), dt.date(2026, 12, 31)

# Atoms of conditions, typed as CEL wants them (money as doubles, head-counts as ints; where a
# comparison mixes the two, the double is on the left, which cel-python 0.5 also evaluates).
money = st.sampled_from([0.0, 1.0e6, 5.0e6, 2.0e7])
atoms = st.one_of(
    st.builds(
        lambda op, v: f"enterprise.revenue {op} {v!r}",
        st.sampled_from([">=", "<", ">", "<="]),
        money,
    ),
    st.builds(
        lambda op, v: f"enterprise.rd_expense {op} {v!r}", st.sampled_from([">=", "<"]), money
    ),
    st.builds(lambda v: f"enterprise.revenue >= {int(v)}", money),  # double vs int
    st.builds(
        lambda op, v: f"enterprise.employees {op} {v}",
        st.sampled_from([">=", "<", "=="]),
        st.integers(0, 300),
    ),
    st.builds(lambda v: f"enterprise.age_years >= {v}", st.integers(0, 10)),
    st.builds(lambda v: f"enterprise.rd_ratio >= {v!r}", st.sampled_from([0.0, 0.03, 0.1])),
    st.builds(lambda t: f'"{t}" in enterprise.tags', st.sampled_from(TAGS)),
    st.builds(lambda c: f'"{c}" in enterprise.clusters', st.sampled_from(CLUSTERS)),
    st.builds(
        lambda d: f'enterprise.district_code in ["{d}", "440199"]', st.sampled_from(DISTRICTS)
    ),
    st.builds(
        lambda p: f'enterprise.industry_code.startsWith("{p}")', st.sampled_from(["38", "65", "3"])
    ),
    st.just('enterprise.status == "active"'),
    st.just("size(enterprise.tags) >= 1"),
    st.just('enterprise.founded_on < timestamp("2020-01-01T00:00:00Z")'),
    st.just("enterprise.revenue >= params.min_revenue"),
    # Tier tables (分档), their edges among the values drawn: 1e6, 3e6 and 2e7; 50 and 100.
    st.builds(
        lambda v: f"tier(enterprise.revenue, params.bands) >= {v!r}",
        st.sampled_from([100000.0, 250000.0, 800000.0]),
    ),
    st.just("tier(enterprise.employees, params.staff_bands) > 0.0"),
)
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a: f"!({a})", inner),
        st.builds(lambda a, b: f"({a}) && ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) || ({b})", inner, inner),
    ),
    max_leaves=3,
)
amounts = st.sampled_from(
    [
        "min(enterprise.rd_expense * params.rate, params.cap)",
        "max(enterprise.revenue * 0.001, 1000.0)",
        "enterprise.employees >= 50 ? 200000.0 : 100000.0",
        "double(enterprise.employees) * 1000.0 + 5.0",
        "params.cap",
        "tier(enterprise.revenue, params.bands)",
        "tier(enterprise.employees, params.staff_bands) + tier(enterprise.rd_expense, params.bands)",
        "min(tier(enterprise.revenue, params.bands), enterprise.rd_expense)",
        "enterprise.revenue * tier(enterprise.revenue, params.rates)",
    ]
)
BANDS = (
    "bands: [{from: 1000000.0, amount: 100000.0}, {from: 3000000.0, amount: 250000.0},"
    " {from: 20000000.0, amount: 800000.0}], staff_bands: [{from: 50, amount: 20000},"
    " {from: 100, amount: 50000}], rates: [{from: 0.0, rate: 0.001}, {from: 3000000.0, rate: 0.002}]"
)


def policy_text(whens: list[str], amount: str) -> str:
    lines = [
        "id: random-policy",
        "title: 随机政策",
        "issuer: 测试",
        f"valid: {{from: {VALID_FROM}, to: {VALID_TO}}}",
        f"parameters: {{min_revenue: 1000000.0, rate: 0.1, cap: 500000.0, {BANDS}}}",
        "conditions:",
    ]
    for i, when in enumerate(whens):
        lines += [f"  - id: c{i}", f"    when: '{when}'"]
    lines += ["benefit:", f"  amount: '{amount}'"]
    return "\n".join(lines) + "\n"


def _maybe(strategy: Any) -> Any:
    return st.one_of(st.none(), strategy)


enterprises = st.lists(
    st.fixed_dictionaries(
        {
            "revenue": _maybe(st.sampled_from([0.0, 5.0e5, 1.0e6, 3.0e6, 2.0e7, 9.0e7])),
            "rd_expense": _maybe(st.sampled_from([0.0, 1.0e5, 1.0e6, 5.0e6])),
            "employees": _maybe(st.integers(0, 400)),
            "founded_on": _maybe(st.dates(dt.date(2000, 1, 1), dt.date(2026, 6, 30))),
            "district_code": _maybe(st.sampled_from(DISTRICTS)),
            "industry_code": _maybe(st.sampled_from(["3841", "6513", "3011"])),
            "tags": _maybe(st.lists(st.sampled_from(TAGS), unique=True, max_size=3)),
            "clusters": st.lists(st.sampled_from(CLUSTERS), unique=True, max_size=2),
            "status": _maybe(st.sampled_from(["active", "closed"])),
        }
    ),
    min_size=1,
    max_size=25,
)
as_of_dates = st.sampled_from(
    [
        VALID_FROM,
        VALID_TO,
        VALID_FROM - dt.timedelta(days=1),
        VALID_TO + dt.timedelta(days=1),
        dt.date(2026, 3, 15),
    ]
)


def population_of(records: list[dict[str, Any]], as_of: dt.date) -> SqlPopulation:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE source (uscc VARCHAR, name VARCHAR, district_code VARCHAR, industry_code VARCHAR,"
        " business_scope VARCHAR, founded_on DATE, registered_capital DOUBLE, revenue DOUBLE,"
        " employees BIGINT, rd_expense DOUBLE, tags VARCHAR[], status VARCHAR, clusters VARCHAR[],"
        " change_id BIGINT)"
    )
    for i, r in enumerate(records):
        con.execute(
            "INSERT INTO source VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?, ?, ?, 1)",
            [
                f"U{i:05d}",
                f"企业{i}",
                r["district_code"],
                r["industry_code"],
                r["founded_on"],
                r["revenue"],
                r["employees"],
                r["rd_expense"],
                r["tags"],
                r["status"],
                r["clusters"],
            ],
        )
    return SqlPopulation.load(con, "source", as_of)


def product_population(records: list[dict[str, Any]], as_of: dt.date) -> Population:
    """The same enterprises as the product holds them: a registry view on the columnar engine."""
    table = population_of(records, as_of).con.execute("SELECT * FROM source").to_arrow_table()
    return Population(RegistryView.from_table(table), as_of)


def cel_python(policy: Policy, record: dict[str, Any]) -> tuple[bool, float | None]:
    """The same CEL per enterprise with cel-python; a missing value is an absent key."""
    present = {k: _cel_value(v) for k, v in record.items() if v is not None and k != "rid"}
    activation = {
        "enterprise": celtypes.MapType({celtypes.StringType(k): v for k, v in present.items()}),
        "params": celpy.json_to_cel({k: _cel_param(v) for k, v in policy.parameters.items()}),
    }
    env = celpy.Environment()
    functions = {"min": lambda a, b: min(a, b), "max": lambda a, b: max(a, b), "tier": _cel_tier}

    def run(text: str) -> Any:
        try:
            return env.program(env.compile(text), functions=functions).evaluate(activation)
        except celpy.CELEvalError:
            return None

    eligible = policy.valid_on(record["as_of"]) and all(
        run(c.when) == celtypes.BoolType(True) for c in policy.conditions
    )
    amount = run(policy.amount_text or "") if eligible else None
    return eligible, (
        None if amount is None or isinstance(amount, celpy.CELEvalError) else float(amount)
    )


def _cel_param(value: Any) -> Any:
    """A tier table as cel-python reads it: a list of bands, each a map."""
    if not isinstance(value, Tiers):
        return value
    # One key for the value, whichever the file used: the reference reads bands, not columns.
    return [{"from": s, "amount": v} for s, v in zip(value.starts, value.values, strict=True)]


def _cel_tier(x: Any, bands: Any) -> Any:
    """The reference ``tier``: the last band whose from is at most x, band by band."""
    if isinstance(x, celpy.CELEvalError):
        return x
    found = 0.0
    for band in bands:
        if float(x) >= float(band[celtypes.StringType("from")]):
            found = float(band[celtypes.StringType("amount")])
    return celtypes.DoubleType(found)


def _cel_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return celtypes.TimestampType(value.replace(tzinfo=dt.UTC))
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, list):
        return celtypes.ListType([celtypes.StringType(v) for v in value])
    return celtypes.StringType(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions, min_size=1, max_size=4), amounts, enterprises, as_of_dates)
def test_batch_interpreter_and_cel_python_agree(
    whens: list[str], amount: str, records: list[dict[str, Any]], as_of: dt.date
) -> None:
    policy = load_policy_text(policy_text(whens, amount), "random.yaml")
    population = population_of(records, as_of)
    pairs = run_pairs(population, compile_set([policy], as_of)).to_pylist()
    batch = {population.usccs[p["rid"]].as_py(): p["amount"] for p in pairs}
    columnar = run_columnar(Columns.of(population, [policy]), [policy], as_of).to_pylist()
    assert {population.usccs[p["rid"]].as_py(): p["amount"] for p in columnar} == pytest.approx(
        batch
    )
    for i in range(len(records)):
        record = population.record(f"U{i:05d}")
        assert record is not None
        interpreted = policy.valid_on(as_of) and all(
            evaluate(c.node, record, policy.parameters) is True for c in policy.conditions
        )
        reference, reference_amount = cel_python(policy, {**record, "as_of": as_of})
        uscc = f"U{i:05d}"
        assert (uscc in batch) == interpreted == reference, (whens, record)
        if reference:
            value = evaluate(policy.amount, record, policy.parameters) if policy.amount else MISSING
            mine = None if value is MISSING else float(value)
            assert batch[uscc] == pytest.approx(mine) == pytest.approx(reference_amount), (
                amount,
                record,
            )


def test_derived_fields_as_of_a_date() -> None:
    records = [
        {
            "revenue": 0.0,
            "rd_expense": 5.0,
            "employees": 3,
            "founded_on": dt.date(2020, 3, 1),
            "district_code": None,
            "industry_code": None,
            "tags": [],
            "clusters": [],
            "status": "active",
        }
    ]
    before = population_of(records, dt.date(2025, 2, 28)).record("U00000")
    on = population_of(records, dt.date(2025, 3, 1)).record("U00000")
    assert before is not None and on is not None
    assert (before["age_years"], on["age_years"]) == (4, 5)  # whole years
    assert on["rd_ratio"] == 0.0  # zero revenue: 0, as DESIGN says


# Revenue at each band's edge of ``bands`` (1e6, 3e6, 2e7), just below and above, and unknown.
EDGES = [None, 0.0, 999_999.99, 1.0e6, 2_999_999.0, 3.0e6, 3_000_001.0, 2.0e7, 9.0e7]
EDGE_AMOUNTS = [None, 0.0, 0.0, 1.0e5, 1.0e5, 2.5e5, 2.5e5, 8.0e5, 8.0e5]


def test_tier_amounts_agree_at_band_edges() -> None:
    """The amount of a tier table at and either side of every edge, and for an unknown value,
    as the SQL path, the columnar engine (both as ``match`` and as pushes), the interpreter and
    cel-python work it out."""
    from chanye.policy import population as policy_population

    blank = dict.fromkeys(("rd_expense", "employees", "founded_on", "industry_code", "tags"))
    records = [
        {**blank, "revenue": r, "district_code": "440106", "clusters": [], "status": "active"}
        for r in EDGES
    ]
    policy = load_policy_text(
        policy_text(['enterprise.status == "active"'], "tier(enterprise.revenue, params.bands)"),
        "edges.yaml",
    )
    expected = dict(enumerate(EDGE_AMOUNTS))
    population = population_of(records, VALID_FROM)
    for pairs in (
        run_pairs(population, compile_set([policy], VALID_FROM)),
        run_columnar(Columns.of(population, [policy]), [policy], VALID_FROM),
    ):
        assert {p["rid"]: p["amount"] for p in pairs.to_pylist()} == expected
    for i, amount in expected.items():
        record = population.record(f"U{i:05d}")
        assert record is not None
        value = evaluate(policy.amount, record, policy.parameters) if policy.amount else None
        assert (None if value is MISSING else value) == amount
        assert cel_python(policy, {**record, "as_of": VALID_FROM}) == (True, amount)
    product = product_population(records, VALID_FROM)
    for found in (
        policy_population.candidates(product, policy),
        policy_population._candidates_sql(product, policy),
    ):
        paid = [None if a != a else float(a) for a in found.amounts.tolist()]
        assert dict(zip(found.rows.tolist(), paid, strict=True)) == expected


@pytest.mark.parametrize(
    ("when", "eligible"),
    [
        ("!(enterprise.revenue > 1.0 && enterprise.employees > 1)", True),  # false && unknown
        ("!(enterprise.revenue < 1.0 || enterprise.employees > 1)", False),  # true || unknown
        ("!(enterprise.revenue > 1.0 || enterprise.employees > 1)", False),  # false || unknown
        ("enterprise.employees > 1 ? true : true", False),  # unknown test
        ("min(enterprise.revenue, double(enterprise.employees)) >= 0.0", False),
        ("tier(enterprise.employees, params.staff_bands) >= 0.0", False),  # unknown x
        ("enterprise.revenue < 1.0 || tier(enterprise.employees, params.staff_bands) > 0.0", True),
        ("tier(enterprise.revenue, params.bands) == 0.0", True),  # below the first band
    ],
)
def test_missing_values_follow_cel(when: str, eligible: bool) -> None:
    """The absorbing cases of CEL's error semantics, one by one, in all four evaluators."""
    records = [
        {
            "revenue": 0.0,
            "rd_expense": None,
            "employees": None,
            "founded_on": None,
            "district_code": None,
            "industry_code": None,
            "tags": None,
            "clusters": [],
            "status": None,
        }
    ]
    policy = load_policy_text(policy_text([when], "params.cap"), "m.yaml")
    population = population_of(records, VALID_FROM)
    record = population.record("U00000")
    assert record is not None
    assert (run_pairs(population, compile_set([policy], VALID_FROM)).num_rows == 1) is eligible
    assert (
        run_columnar(Columns.of(population, [policy]), [policy], VALID_FROM).num_rows == 1
    ) is eligible
    assert (evaluate(policy.conditions[0].node, record, policy.parameters) is True) is eligible
    assert cel_python(policy, {**record, "as_of": VALID_FROM})[0] is eligible


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions, min_size=1, max_size=4), amounts, enterprises, as_of_dates)
def test_the_pushes_agree_with_the_interpreter_on_both_engines(
    whens: list[str], amount: str, records: list[dict[str, Any]], as_of: dt.date
) -> None:
    """Who a policy pushes to (no condition known to fail: eligible, or waiting for data), each
    condition's state there and the amount: the columnar engine, the portable SQL path and the
    interpreter, record by record."""
    from chanye.policy import population as policy_population

    policy = load_policy_text(policy_text(whens, amount), "random.yaml")
    population = product_population(records, as_of)
    expected = {}
    for i in range(len(records)):
        record = population.record(f"U{i:05d}")
        assert record is not None
        founded = records[i]["founded_on"]
        if founded is not None and founded > as_of:
            continue  # not yet founded on the day: no policy sees it
        states = [evaluate(c.node, record, policy.parameters) for c in policy.conditions]
        if policy.valid_on(as_of) and False not in states:
            value = evaluate(policy.amount, record, policy.parameters) if policy.amount else MISSING
            paid = None if value is MISSING or MISSING in states else float(value)
            expected[i] = ([s is True for s in states], [s is MISSING for s in states], paid)
    sql = policy_population._candidates_sql if policy.valid_on(as_of) else None
    for found in [
        policy_population.candidates(population, policy),
        *([sql(population, policy)] if sql else []),
    ]:
        rows = found.rows.tolist()
        assert rows == sorted(expected), whens
        for place, row in enumerate(rows):
            holds, unknown, paid = expected[row]
            assert [bool(h[place]) for h in found.holds] == holds
            assert [bool(u[place]) for u in found.unknown] == unknown
            amount_found = float(found.amounts[place])
            assert (None if amount_found != amount_found else amount_found) == pytest.approx(paid)
