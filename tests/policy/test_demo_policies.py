"""The demo policies (src/chanye/policy/data/demo): well-formed, and they pay whom they describe.

Stands alone (PyYAML + cel-python), independent of chanye's own policy engine, so the content is
checked even when the engine changes; the engine's tests cross-check it against cel-python.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy import celtypes

DEMO = Path(__file__).resolve().parents[2] / "src" / "chanye" / "policy" / "data" / "demo"
FILES = sorted(DEMO.glob("*.yaml"))
DEMO_MARK = "# 演示用政策：条款为平台示例改写，非真实文件"

FIELDS = {
    "uscc",
    "name",
    "district_code",
    "industry_code",
    "business_scope",
    "founded_on",
    "registered_capital",
    "revenue",
    "employees",
    "rd_expense",
    "tags",
    "status",
    "age_years",
    "rd_ratio",
    "clusters",
}
DOUBLE_FIELDS = ("registered_capital", "revenue", "rd_expense", "rd_ratio")
INT_FIELDS = ("employees", "age_years")
TAGS = {
    "above_scale",
    "high_tech",
    "specialized_sme",
    "little_giant",
    "single_champion",
    "unicorn",
    "listed",
    "chain_leader",
}
REQUIRED = ("id", "title", "issuer", "document", "valid", "parameters", "conditions", "benefit")
ALLOWED = {*REQUIRED, "exclusive_group"}
ARTICLE = re.compile(r"（第[一二三四五六七八九十]+条(第[一二三四五六七八九十]+款)?[^（）]*）$")
AS_OF = dt.date(2025, 12, 31)


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path.name
    return data


POLICIES = {path.stem: _load(path) for path in FILES}


def _expressions(policy: dict[str, Any]) -> list[str]:
    return [c["when"] for c in policy["conditions"]] + [policy["benefit"]["amount"]]


def test_there_are_enough_demo_policies_with_unique_ids() -> None:
    assert len(FILES) >= 8
    ids = [p["id"] for p in POLICIES.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_structure(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(DEMO_MARK), "every demo file says it is not a real policy"
    policy = POLICIES[path.stem]
    assert policy["id"] == path.stem
    assert re.fullmatch(r"[a-z0-9-]+", policy["id"])
    assert set(REQUIRED) <= set(policy) <= ALLOWED
    for key in ("title", "issuer", "document"):
        assert isinstance(policy[key], str) and policy[key].strip()
    assert "演示" in policy["document"]
    valid_from, valid_to = policy["valid"]["from"], policy["valid"]["to"]
    assert isinstance(valid_from, dt.date) and isinstance(valid_to, dt.date)
    assert valid_from < valid_to
    assert valid_from.year >= 2025 and valid_to.year <= 2027
    assert 3 <= len(policy["conditions"]) <= 6
    condition_ids = [c["id"] for c in policy["conditions"]]
    assert len(condition_ids) == len(set(condition_ids))
    for condition in policy["conditions"]:
        assert set(condition) == {"id", "text", "when"}, condition
        assert re.fullmatch(r"[a-z0-9-]+", condition["id"])
        assert ARTICLE.search(condition["text"]), f"{condition['id']}: no article number"
    assert set(policy["benefit"]) == {"amount"}
    assert isinstance(policy["benefit"]["amount"], str)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_expressions_read_known_fields_and_defined_parameters(path: Path) -> None:
    policy = POLICIES[path.stem]
    params = policy["parameters"]
    used: set[str] = set()
    for expr in _expressions(policy):
        assert set(re.findall(r"\benterprise\.(\w+)", expr)) <= FIELDS, expr
        names = set(re.findall(r"\bparams\.(\w+)", expr))
        assert names <= set(params), expr
        used |= names
        # No identifiers other than enterprise/params (and the functions min/max).
        bare = re.sub(r'"[^"]*"', "", expr)
        for word in re.findall(r"(?<![.\w])([A-Za-z_]\w*)", bare):
            assert word in {"enterprise", "params", "in", "min", "max", "true", "false"}, word
        for tag in re.findall(r'"(\w+)" in enterprise\.tags', expr):
            assert tag in TAGS, tag
    assert used == set(params), "every parameter is used"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_parameters_have_the_type_of_what_they_meet(path: Path) -> None:
    """CEL does not mix int and double: money thresholds are decimals, head counts whole."""
    policy = POLICIES[path.stem]
    params = policy["parameters"]
    for expr in _expressions(policy):
        for field, name in re.findall(r"enterprise\.(\w+)\s*(?:[<>=!]=?|\*)\s*params\.(\w+)", expr):
            if field in DOUBLE_FIELDS:
                assert type(params[name]) is float, f"{name} meets {field}: write it as a decimal"
            if field in INT_FIELDS:
                assert type(params[name]) is int, f"{name} meets {field}: write it as an integer"


def test_exclusive_groups_join_at_least_two_policies() -> None:
    groups: dict[str, list[str]] = {}
    for policy in POLICIES.values():
        if "exclusive_group" in policy:
            groups.setdefault(policy["exclusive_group"], []).append(policy["id"])
    assert {"demo-rd-subsidy", "demo-low-altitude-rd"} <= set(groups["rd-expense"])
    assert all(len(members) >= 2 for members in groups.values()), groups


# --- evaluation with cel-python ------------------------------------------------------------


def _min(a: Any, b: Any) -> Any:
    return a if a <= b else b


def _max(a: Any, b: Any) -> Any:
    return a if a >= b else b


FUNCTIONS = {"min": _min, "max": _max}
ENV = celpy.Environment()


def enterprise(**changes: Any) -> dict[str, Any]:
    """A plausible Guangzhou enterprise; derived fields computed as the platform derives them."""
    record: dict[str, Any] = {
        "uscc": "91440101MA59XXXX0X",
        "name": "广州示例科技有限公司",
        "district_code": "440106",
        "industry_code": "3670",
        "business_scope": "汽车零部件及配件制造；软件开发",
        "registered_capital": 10000000.0,
        "revenue": 80000000.0,
        "employees": 120,
        "rd_expense": 4000000.0,
        "tags": [],
        "status": "active",
        "clusters": [],
        "age_years": 10,
    }
    record.update(changes)
    founded = dt.date(AS_OF.year - record["age_years"], 1, 1)
    record["founded_on"] = celtypes.TimestampType(f"{founded.isoformat()}T00:00:00Z")
    revenue = record["revenue"]
    record["rd_ratio"] = record["rd_expense"] / revenue if revenue else 0.0
    return record


def evaluate(expr: str, record: dict[str, Any], params: dict[str, Any]) -> Any:
    program = ENV.program(ENV.compile(expr), functions=FUNCTIONS)
    return program.evaluate(
        {"enterprise": celpy.json_to_cel(record), "params": celpy.json_to_cel(params)}
    )


def failed_conditions(policy: dict[str, Any], record: dict[str, Any]) -> list[str]:
    failed = []
    for condition in policy["conditions"]:
        result = evaluate(condition["when"], record, policy["parameters"])
        assert isinstance(result, celtypes.BoolType), (condition["id"], result)
        if not result:
            failed.append(condition["id"])
    return failed


# policy id → (an eligible enterprise, its amount, a near miss: one change and the condition it fails)
CASES: dict[str, tuple[dict[str, Any], float, dict[str, Any], str]] = {
    "demo-rd-subsidy": (
        {"tags": ["high_tech"]},
        400000.0,
        {"tags": ["above_scale"]},
        "qualification",
    ),
    "demo-specialized-sme-reward": (
        {"tags": ["specialized_sme"], "employees": 1500},
        200000.0,
        {"age_years": 1},
        "years",
    ),
    "demo-little-giant-reward": (
        {"tags": ["specialized_sme", "little_giant"]},
        500000.0,
        {"rd_expense": 1000000.0},
        "rd-ratio",
    ),
    "demo-above-scale-upgrade": (
        {"tags": ["above_scale"], "age_years": 2, "revenue": 30000000.0, "rd_expense": 600000.0},
        100000.0,
        {"industry_code": "6513"},
        "industrial",
    ),
    "demo-nev-chain-support": (
        {"clusters": ["icv-nev"], "tags": ["above_scale"]},
        400000.0,
        {"clusters": ["ai"]},
        "chain",
    ),
    "demo-low-altitude-rd": (
        {"clusters": ["low-altitude-aerospace"], "rd_expense": 20000000.0, "revenue": 2e8},
        3000000.0,
        {"employees": 15},
        "employees",
    ),
    "demo-ai-compute-voucher": (
        {"clusters": ["ai", "software-internet"]},
        600000.0,
        {"rd_expense": 300000.0},
        "rd-expense",
    ),
    "demo-major-platform-manufacturing": (
        {"district_code": "440115", "tags": ["above_scale", "high_tech"], "revenue": 1e9},
        2000000.0,
        {"district_code": "440106"},
        "district",
    ),
    "demo-huangpu-high-tech-reward": (
        {"district_code": "440112", "tags": ["high_tech"], "revenue": 3e8, "rd_expense": 1.5e7},
        300000.0,
        {"district_code": "440113"},
        "district",
    ),
    "demo-single-champion-reward": (
        {"tags": ["above_scale", "single_champion"], "age_years": 15},
        1000000.0,
        {"age_years": 8},
        "years",
    ),
}
NOBODY = enterprise(
    status="closed",
    district_code="440103",
    industry_code="5191",
    revenue=1000000.0,
    employees=5,
    rd_expense=0.0,
    age_years=1,
)


def test_every_policy_has_a_case() -> None:
    assert set(CASES) == set(POLICIES)


@pytest.mark.parametrize("policy_id", sorted(CASES))
def test_eligible_enterprise_passes_every_condition_and_gets_its_amount(policy_id: str) -> None:
    policy = POLICIES[policy_id]
    changes, expected, _miss, _fails = CASES[policy_id]
    record = enterprise(**changes)
    assert failed_conditions(policy, record) == []
    amount = evaluate(policy["benefit"]["amount"], record, policy["parameters"])
    assert isinstance(amount, float), "amounts are double arithmetic"
    assert amount > 0
    assert float(amount) == pytest.approx(expected)


@pytest.mark.parametrize("policy_id", sorted(CASES))
def test_near_miss_fails_exactly_the_condition_it_breaks(policy_id: str) -> None:
    policy = POLICIES[policy_id]
    changes, _expected, miss, fails = CASES[policy_id]
    assert failed_conditions(policy, enterprise(**{**changes, **miss})) == [fails]


@pytest.mark.parametrize("policy_id", sorted(CASES))
def test_closed_small_enterprise_qualifies_for_nothing(policy_id: str) -> None:
    assert failed_conditions(POLICIES[policy_id], NOBODY)


def test_caps_and_tiers() -> None:
    rd = POLICIES["demo-rd-subsidy"]
    big = enterprise(tags=["high_tech"], revenue=2e9, rd_expense=1.2e8)
    assert failed_conditions(rd, big) == []
    assert evaluate(rd["benefit"]["amount"], big, rd["parameters"]) == 5000000.0
    voucher = POLICIES["demo-ai-compute-voucher"]
    heavy = enterprise(clusters=["ai"], rd_expense=5e7)
    assert evaluate(voucher["benefit"]["amount"], heavy, voucher["parameters"]) == 2000000.0
    giant = POLICIES["demo-little-giant-reward"]
    large = enterprise(tags=["little_giant"], revenue=2e8, rd_expense=1e7)
    assert evaluate(giant["benefit"]["amount"], large, giant["parameters"]) == 1000000.0
    upgrade = POLICIES["demo-above-scale-upgrade"]
    young = enterprise(tags=["above_scale", "high_tech"], age_years=1, revenue=2.5e7)
    assert failed_conditions(upgrade, young) == []
    assert evaluate(upgrade["benefit"]["amount"], young, upgrade["parameters"]) == 200000.0
