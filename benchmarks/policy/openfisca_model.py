"""OpenFisca-core with the same policies, modelled the OpenFisca way.

One entity, ``enterprise``; a TaxBenefitSystem built in code; the policies' thresholds and rates as
OpenFisca parameters (``policies.<policy>.<name>``, in force from the policy's start); one input
Variable per enterprise field, one boolean Variable per policy condition, one per policy's
eligibility (the conjunction of its conditions) and one for its amount (0 where not eligible), all
with numpy formulas; one Simulation over the whole population for the year of the as-of date.

Data as OpenFisca holds it: the district as an Enum (OpenFisca's categorical, with an ``unknown``
member for a missing one), the industry code as a ``str`` variable with ``max_length``
(fixed-width bytes), one boolean variable per tag and per cluster (OpenFisca has no list type),
int fields as int32 with a ``<field>_known`` flag beside them (OpenFisca has no missing value),
floats NaN where missing.
OpenFisca stores ``float`` variables as float32; money at cent precision is misclassified near
thresholds in float32 (19,999,999.99 yuan rounds to 20,000,000), so the money and ratio variables are
set to float64, as the other competitors use.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np
from openfisca_core import indexed_enums
from openfisca_core.entities import build_entity
from openfisca_core.parameters import ParameterNode  # type: ignore[import-untyped]
from openfisca_core.periods import DateUnit
from openfisca_core.simulations import Simulation, SimulationBuilder  # type: ignore[import-untyped]
from openfisca_core.taxbenefitsystems import TaxBenefitSystem  # type: ignore[import-untyped]
from openfisca_core.variables import Variable  # type: ignore[import-untyped]

from benchmarks.policy.generate import VALID_FROM, Amount, Condition, Policy
from benchmarks.policy.outcome import Outcome
from benchmarks.policy.population import Population

Formula = Callable[[Any, Any, Any], Any]
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
FLOAT_INPUTS = ("revenue", "rd_expense", "rd_ratio")
INT_INPUTS = ("employees", "age_years")


def name_of(text: str) -> str:
    """An OpenFisca variable / parameter name (identifiers only)."""
    return text.replace("-", "_")


def tag_variable(field_name: str, item: str) -> str:
    return f"{'tag' if field_name == 'tags' else 'cluster'}_{name_of(item)}"


@dataclass
class Model:
    system: TaxBenefitSystem
    entity: Any
    policies: list[Policy]
    districts: Any  # the Enum of district codes
    # (field, id) pairs that have an input variable: every tag and cluster the data or policies name
    listed: set[tuple[str, str]] = field(default_factory=set)


def _add(
    model: Model, name: str, value_type: type, formula: Formula | None = None, **extra: Any
) -> None:
    attributes: dict[str, Any] = {
        "value_type": value_type,
        "entity": model.entity,
        "definition_period": DateUnit.YEAR,
        "label": name,
        **extra,
    }
    if formula is not None:
        attributes["formula"] = formula
    variable = model.system.add_variable(type(name, (Variable,), attributes))
    if value_type is float:
        variable.dtype = np.float64  # see the module docstring


def build_model(
    policies: Sequence[Policy],
    tag_ids: Sequence[str],
    cluster_ids: Sequence[str],
    district_ids: Sequence[str],
) -> Model:
    enterprise = build_entity(key="enterprise", plural="enterprises", label="企业", is_person=True)
    system = TaxBenefitSystem([enterprise])
    start = VALID_FROM.isoformat()
    system.parameters = ParameterNode(
        "",
        data={
            "policies": {
                name_of(p.id): {k: {"values": {start: v}} for k, v in p.parameters.items()}
                for p in policies
            }
        },
    )
    members = [(f"d{code}", code) for code in district_ids] + [("unknown", "未知 / unknown")]
    districts = indexed_enums.Enum("District", members)
    model = Model(system, enterprise, list(policies), districts)
    for name in FLOAT_INPUTS:
        _add(model, name, float)
    for name in INT_INPUTS:
        _add(model, name, int)
        _add(model, f"{name}_known", bool)
    _add(
        model,
        "district_code",
        indexed_enums.Enum,
        possible_values=districts,
        default_value=districts.unknown,
    )
    _add(model, "industry_code", str, max_length=4)
    _add(model, "tags_known", bool)
    named = {
        (c.field, str(c.value)) for p in policies for c in p.conditions if c.op in ("has", "lacks")
    }
    model.listed = named | {("tags", t) for t in tag_ids} | {("clusters", c) for c in cluster_ids}
    for field_name, item in sorted(model.listed):
        _add(model, tag_variable(field_name, item), bool)
    for policy in policies:
        _add_policy(model, policy)
    return model


def _condition_formula(policy_name: str, c: Condition, districts: Any) -> Formula:
    if c.op in COMPARE:
        compare, param = COMPARE[c.op], c.param
        known = f"{c.field}_known" if c.field in INT_INPUTS else None

        def numeric(enterprise: Any, period: Any, parameters: Any) -> Any:
            threshold = parameters(period).policies[policy_name][param]
            held = compare(enterprise(c.field, period), threshold)
            return held & enterprise(known, period) if known else held

        return numeric
    if c.op == "in":
        assert isinstance(c.value, tuple)
        members = [districts[f"d{v}"] for v in c.value if f"d{v}" in districts.__members__]

        def district(enterprise: Any, period: Any, parameters: Any) -> Any:
            found = enterprise(c.field, period)
            return reduce(operator.or_, (found == m for m in members), np.zeros(len(found), bool))

        return district
    if c.op == "prefix":
        assert isinstance(c.value, tuple)
        prefixes = [v.encode() for v in c.value]

        def prefix(enterprise: Any, period: Any, parameters: Any) -> Any:
            codes = enterprise(c.field, period)
            return reduce(operator.or_, (np.strings.startswith(codes, p) for p in prefixes))

        return prefix
    flag = tag_variable(c.field, str(c.value))
    if c.op == "has":
        return lambda enterprise, period, parameters: enterprise(flag, period)
    known_list = "tags_known"  # the only list that can be missing

    def lacks(enterprise: Any, period: Any, parameters: Any) -> Any:
        return ~enterprise(flag, period) & enterprise(known_list, period)

    return lacks


def _amount_formula(policy_name: str, a: Amount) -> Formula:
    eligible_name = f"{policy_name}__eligible"

    def amount(enterprise: Any, period: Any, parameters: Any) -> Any:
        eligible = enterprise(eligible_name, period)
        p = parameters(period).policies[policy_name]
        if a.kind == "fixed":
            value: Any = p.amount
        elif a.kind == "share":
            value = np.minimum(enterprise(a.field, period) * p.rate, p.cap)
        else:
            tiers = np.where(
                enterprise("employees", period) >= p.tier_employees, p.high_amount, p.low_amount
            )
            value = np.where(enterprise("employees_known", period), tiers, np.nan)
        return np.where(eligible, value, 0.0)

    return amount


def _add_policy(model: Model, policy: Policy) -> None:
    policy_name = name_of(policy.id)
    condition_names = [f"{policy_name}__{name_of(c.id)}" for c in policy.conditions]
    for c, name in zip(policy.conditions, condition_names, strict=True):
        _add(
            model, name, bool, _condition_formula(policy_name, c, model.districts), reference=c.text
        )

    def eligible(enterprise: Any, period: Any, parameters: Any) -> Any:
        return reduce(operator.and_, (enterprise(n, period) for n in condition_names))

    _add(model, f"{policy_name}__eligible", bool, eligible)
    _add(model, f"{policy_name}__amount", float, _amount_formula(policy_name, policy.amount))


def simulation(model: Model, pop: Population) -> Simulation:
    """A Simulation over the population with every input set for the as-of year."""
    sim = SimulationBuilder().build_default_simulation(model.system, count=pop.size)
    period = str(pop.as_of.year)
    for name in FLOAT_INPUTS:
        sim.set_input(name, period, getattr(pop, name))
    for name in INT_INPUTS:
        sim.set_input(name, period, getattr(pop, name))
        sim.set_input(f"{name}_known", period, pop.known(name))
    unknown = len(pop.district_ids)  # the Enum's last member
    index = np.where(pop.district_index < 0, unknown, pop.district_index).astype(np.int16)
    sim.set_input("district_code", period, model.districts.encode(index))
    sim.set_input("industry_code", period, pop.industry_code)
    sim.set_input("tags_known", period, pop.known("tags"))
    for field_name, item in sorted(model.listed):
        sim.set_input(tag_variable(field_name, item), period, pop.has(field_name, item))
    return sim


def calculate(model: Model, sim: Simulation, period: str) -> dict[str, Outcome]:
    """Every policy's amount (which computes its eligibility and conditions), then the results."""
    results = {}
    for policy in model.policies:
        name = name_of(policy.id)
        amount = sim.calculate(f"{name}__amount", period)
        results[policy.id] = Outcome.from_full(sim.calculate(f"{name}__eligible", period), amount)
    return results


def run(pop: Population, policies: Sequence[Policy]) -> tuple[dict[str, Outcome], dict[str, float]]:
    """Build, load and calculate; the results and the seconds each step took."""
    started = time.perf_counter()
    model = build_model(policies, pop.tag_ids, pop.cluster_ids, pop.district_ids)
    built = time.perf_counter()
    sim = simulation(model, pop)
    loaded = time.perf_counter()
    results = calculate(model, sim, str(pop.as_of.year))
    done = time.perf_counter()
    timings = {
        "build_system_seconds": built - started,
        "set_input_seconds": loaded - built,
        "seconds": done - loaded,
    }
    return results, timings
