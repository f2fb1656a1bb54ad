"""The demo policies (src/chanye/policy/data/demo): well-formed, and they pay whom they describe.

Stands alone (PyYAML + cel-python), independent of chanye's own policy engine, so the content is
checked even when the engine changes; the engine's tests cross-check it against cel-python. The
history functions (``prior``, ``growth``, ``peak_before``, the recognition functions) are taught to
cel-python here in plain Python, over a small history each test enterprise carries.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy import celtypes

DEMO = Path(__file__).resolve().parents[2] / "src" / "chanye" / "policy" / "data" / "demo"
SYSTEM = DEMO.parents[2] / "system" / "data" / "guangzhou_12218.toml"
FILES = sorted(DEMO.glob("*.yaml"))
DEMO_MARK = "# 演示用政策：据"

YEARLY = (
    "revenue",
    "output_value",
    "value_added",
    "profit",
    "tax_paid",
    "rd_expense",
    "employees",
    "fixed_investment",
    "exports",
)
FIELDS = {
    "uscc",
    "name",
    "district_code",
    "industry_code",
    "business_scope",
    "founded_on",
    "registered_capital",
    "tags",
    "status",
    "age_years",
    "rd_ratio",
    "clusters",
    *YEARLY,
}
DOUBLE_FIELDS = ("registered_capital", "revenue", "rd_expense", "rd_ratio")
INT_FIELDS = ("employees", "age_years")
_SYSTEM = tomllib.loads(SYSTEM.read_text(encoding="utf-8"))
KINDS = {kind["id"] for kind in _SYSTEM["qualification_kinds"]}
FIGURE_FUNCTIONS = ("prior", "growth", "peak_before")
RECOGNITION_FUNCTIONS = (
    "recognised_between",
    "first_recognised_between",
    "renewed_between",
    "first_recognised_within",
)
WORDS = {"enterprise", "params", "application", "item", "in", "min", "max", "tier", "true", "false"}
WORDS |= {*FIGURE_FUNCTIONS, *RECOGNITION_FUNCTIONS}
REQUIRED = ("id", "title", "issuer", "document", "valid", "parameters", "conditions", "benefit")
ALLOWED = {*REQUIRED, "exclusive_group", "cap_group", "application", "items"}
# A clause names where it comes from: an article (第三条), a part (第一部分第（一）项), or a named
# clause of the document ("认定奖励"条款, 适用范围, 申报对象), in the last parentheses of its text.
ARTICLE = re.compile(
    r"（[^（）]*(?:（[^（）]*）[^（）]*)*(第|条款|适用范围|申报对象)[^（）]*(?:（[^（）]*）[^（）]*)*）$"
)
DOCUMENT_NUMBER = re.compile(r"〔20\d\d〕\d+号$")
AS_OF = dt.date(2026, 6, 30)
LATEST = AS_OF.year - 1  # the latest full year as of AS_OF


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path.name
    return data


POLICIES = {path.stem: _load(path) for path in FILES}


def _expressions(policy: dict[str, Any]) -> list[str]:
    later = [i["when"] for i in policy["benefit"].get("schedule", []) if "when" in i]
    return [c["when"] for c in policy["conditions"]] + [policy["benefit"]["amount"], *later]


def test_there_are_eleven_demo_policies_and_a_quick_application_one_with_unique_ids() -> None:
    assert len(FILES) == 12
    quick = [p for p in POLICIES.values() if "application" in p or "items" in p]
    assert len(quick) == 1  # 快申: the enterprise applies, project by project
    ids = [p["id"] for p in POLICIES.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_structure(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith(DEMO_MARK), "every demo file says it is an adaptation"
    assert "非官方文本" in first, "and that it is not the official text"
    assert re.search(r"^# 来源：https?://", text, re.M), "every demo file names its source"
    policy = POLICIES[path.stem]
    assert policy["id"] == path.stem
    assert re.fullmatch(r"[a-z0-9-]+", policy["id"])
    assert set(REQUIRED) <= set(policy) <= ALLOWED
    for key in ("title", "issuer", "document"):
        assert isinstance(policy[key], str) and policy[key].strip()
    assert DOCUMENT_NUMBER.search(policy["document"]), "the real document number"
    assert policy["document"] in first and policy["issuer"].split("、")[0] in first
    valid_from, valid_to = policy["valid"]["from"], policy["valid"]["to"]
    assert isinstance(valid_from, dt.date) and isinstance(valid_to, dt.date)
    assert valid_from <= dt.date(2025, 12, 31) and valid_to >= dt.date(2026, 12, 31)
    assert 2 <= len(policy["conditions"]) <= 6
    condition_ids = [c["id"] for c in policy["conditions"]]
    assert len(condition_ids) == len(set(condition_ids))
    for condition in policy["conditions"]:
        assert set(condition) == {"id", "text", "when"}, condition
        assert re.fullmatch(r"[a-z0-9-]+", condition["id"])
        assert ARTICLE.search(condition["text"]), f"{condition['id']}: no article"
    assert "amount" in policy["benefit"]
    assert set(policy["benefit"]) <= {"amount", "once", "yearly_cap", "schedule"}
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
        # No identifiers other than enterprise/params, min/max and the history functions.
        bare = re.sub(r'"[^"]*"', "", expr)
        for word in re.findall(r"(?<![.\w])([A-Za-z_]\w*)", bare):
            assert word in WORDS, word
        for tag in re.findall(r'"(\w+)" in enterprise\.tags', expr):
            assert tag in KINDS, tag
        for function, field in re.findall(r"\b(\w+)\(enterprise\.(\w+)", expr):
            if function in FIGURE_FUNCTIONS:
                assert field in YEARLY, expr
        for function, kind in re.findall(r'\b(\w+)\("(\w+)"', expr):
            if function in RECOGNITION_FUNCTIONS:
                assert kind in KINDS, expr
        for start, stop in re.findall(r'_between\("\w+", "([\d-]+)", "([\d-]+)"\)', expr):
            assert dt.date.fromisoformat(start) <= dt.date.fromisoformat(stop), expr
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
    amounts = [v for k, v in params.items() if k.startswith("amount")]
    assert all(type(v) is float for v in amounts), "amounts are yuan, as decimals"


def test_groups_join_policies_of_one_document() -> None:
    """A cap group or an exclusive group joins at least two demo policies, one cap per group."""
    exclusive: dict[str, list[str]] = {}
    caps: dict[str, set[float]] = {}
    for policy in POLICIES.values():
        if "exclusive_group" in policy:
            exclusive.setdefault(policy["exclusive_group"], []).append(policy["id"])
        if "cap_group" in policy:
            caps.setdefault(policy["cap_group"]["id"], set()).add(policy["cap_group"]["cap"])
    assert all(len(members) >= 2 for members in exclusive.values()), exclusive
    assert caps == {"gz-high-tech-2021": {1000000.0}}
    members = {p["id"] for p in POLICIES.values() if "cap_group" in p}
    assert members == {
        "demo-high-tech-reward",
        "demo-rd-subsidy",
        "demo-high-tech-four-above-reward",
    }
    assert {POLICIES[m]["document"] for m in members} == {"穗科规字〔2021〕4号"}


# --- evaluation with cel-python ------------------------------------------------------------


def _min(a: Any, b: Any) -> Any:
    return a if a <= b else b


def _max(a: Any, b: Any) -> Any:
    return a if a >= b else b


def _tier(x: Any, bands: Any) -> Any:
    """tier(x, params.table): the value of the last band whose ``from`` x reaches (0 below the
    first), as docs/policy-file.md "Tiers" defines it."""
    reached = [b["amount"] for b in bands if x >= b["from"]]
    return celtypes.DoubleType(reached[-1] if reached else 0.0)


def _history_functions(record: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """The history functions over the record's ``history`` (indicator → {year: figure}) and
    ``recognitions`` (kind → [ISO dates]), as docs/policy-file.md defines them, as of AS_OF.
    A figure the fixture does not hold raises: a test enterprise states what a case reads."""
    history: dict[str, dict[int, Any]] = record["history"]
    recognitions: dict[str, list[str]] = record["recognitions"]

    def figure(name: str, year: int) -> Any:
        value = history[name][year]
        return celtypes.IntType(value) if name == "employees" else celtypes.DoubleType(value)

    def prior(name: Any, n: Any = 1) -> Any:
        return figure(str(name), LATEST - int(n))

    def growth(name: Any, n: Any = 0) -> Any:
        year = LATEST - int(n)
        later, earlier = history[str(name)][year], history[str(name)][year - 1]
        return celtypes.DoubleType(later / earlier - 1.0)

    def peak_before(name: Any) -> Any:
        years = [y for y in history[str(name)] if y < LATEST]
        return figure(str(name), max(years, key=lambda y: history[str(name)][y]))

    def dates(kind: Any) -> list[dt.date]:
        held = sorted(dt.date.fromisoformat(d) for d in recognitions.get(str(kind), []))
        return [d for d in held if d <= AS_OF]

    def span(start: Any, stop: Any) -> tuple[dt.date, dt.date]:
        return dt.date.fromisoformat(str(start)), dt.date.fromisoformat(str(stop))

    def recognised_between(kind: Any, start: Any, stop: Any) -> Any:
        low, high = span(start, stop)
        return celtypes.BoolType(any(low <= d <= high for d in dates(kind)))

    def first_recognised_between(kind: Any, start: Any, stop: Any) -> Any:
        low, high = span(start, stop)
        held = dates(kind)
        return celtypes.BoolType(bool(held) and low <= held[0] <= high)

    def renewed_between(kind: Any, start: Any, stop: Any) -> Any:
        low, high = span(start, stop)
        return celtypes.BoolType(any(low <= d <= high for d in dates(kind)[1:]))

    def first_recognised_within(kind: Any, n: Any) -> Any:
        held = dates(kind)
        since = AS_OF.replace(year=AS_OF.year - int(n))
        return celtypes.BoolType(bool(held) and since <= held[0] <= AS_OF)

    return {
        "prior": prior,
        "growth": growth,
        "peak_before": peak_before,
        "recognised_between": recognised_between,
        "first_recognised_between": first_recognised_between,
        "renewed_between": renewed_between,
        "first_recognised_within": first_recognised_within,
    }


ENV = celpy.Environment()
# cel-python hands a function the value of enterprise.X; the history functions need the name X.
_FIGURE_CALL = re.compile(r"\b(prior|growth|peak_before)\(enterprise\.(\w+)")


def enterprise(**changes: Any) -> dict[str, Any]:
    """A plausible Guangzhou enterprise; derived fields computed as the platform derives them.
    ``recognitions`` are its dated qualifications, ``history`` its yearly figures before LATEST."""
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
        "recognitions": {},
        "history": {},
        # What it supplied when applying (快申), as staff verified it.
        "application": {},
        # One of the items it listed (一对多: each item is decided on its own).
        "item": {
            "project_name": "一号车间改造",
            "equipment_spend": 0.0,
            "in_investment_stats": False,
        },
    }
    record.update(changes)
    founded = dt.date(AS_OF.year - record["age_years"], 1, 1)
    record["founded_on"] = celtypes.TimestampType(f"{founded.isoformat()}T00:00:00Z")
    revenue = record["revenue"]
    record["rd_ratio"] = record["rd_expense"] / revenue if revenue else 0.0
    for name in YEARLY:  # the latest year's figure is the field itself
        if name in record:
            record["history"] = {**record["history"]}
            record["history"][name] = {**record["history"].get(name, {}), LATEST: record[name]}
    return record


def evaluate(expr: str, record: dict[str, Any], params: dict[str, Any]) -> Any:
    functions = {"min": _min, "max": _max, "tier": _tier, **_history_functions(record)}
    program = ENV.program(ENV.compile(_FIGURE_CALL.sub(r'\1("\2"', expr)), functions=functions)
    fields = {
        k: v
        for k, v in record.items()
        if k not in ("history", "recognitions", "application", "item")
    }
    return program.evaluate(
        {
            "enterprise": celpy.json_to_cel(fields),
            "params": celpy.json_to_cel(params),
            "application": celpy.json_to_cel(record["application"]),
            "item": celpy.json_to_cel(record["item"]),
        }
    )


def failed_conditions(policy: dict[str, Any], record: dict[str, Any]) -> list[str]:
    failed = []
    for condition in policy["conditions"]:
        result = evaluate(condition["when"], record, policy["parameters"])
        assert isinstance(result, celtypes.BoolType), (condition["id"], result)
        if not result:
            failed.append(condition["id"])
    return failed


def recognised(**kinds: list[str]) -> dict[str, dict[str, list[str]]]:
    return {"recognitions": kinds}


# policy id → (an eligible enterprise, its amount, a near miss: one change and the condition it fails)
CASES: dict[str, tuple[dict[str, Any], float, dict[str, Any], str]] = {
    "demo-tech-upgrade-equipment": (  # a project with 800万 of new equipment: 20%, 160万
        {
            "item": {
                "project_name": "一号车间改造",
                "equipment_spend": 8e6,
                "in_investment_stats": True,
            }
        },
        1600000.0,
        {
            "item": {
                "project_name": "二号车间",
                "equipment_spend": 4.9e6,
                "in_investment_stats": True,
            }
        },
        "equipment",
    ),
    "demo-rd-subsidy": (
        {"tags": ["high_tech"], **recognised(high_tech=["2025-11-20"]), "rd_expense": 6e7},
        400000.0,
        {"rd_expense": 8e6},
        "rd-expense",
    ),
    "demo-high-tech-reward": (
        {"tags": ["high_tech"], **recognised(high_tech=["2025-12-01"])},
        200000.0,
        recognised(high_tech=["2024-12-01"]),
        "recognised-2025",
    ),
    "demo-high-tech-four-above-reward": (
        {"tags": ["high_tech", "four_above"], **recognised(four_above=["2024-03-01"])},
        100000.0,
        {"tags": ["four_above"]},
        "high-tech",
    ),
    "demo-above-scale-upgrade": (
        {"tags": ["above_scale"], **recognised(above_scale=["2024-01-01"])},
        50000.0,
        {"industry_code": "6513"},
        "industrial",
    ),
    "demo-specialized-sme-reward": (
        recognised(above_scale=["2023-01-01"], specialized_sme=["2024-06-01"]),
        50000.0,
        recognised(above_scale=["2023-01-01"], specialized_sme=["2025-06-01"]),
        "specialized-2024",
    ),
    "demo-little-giant-reward": (
        recognised(little_giant=["2025-09-01"]),
        1000000.0,
        recognised(little_giant=["2022-08-01", "2025-09-01"]),  # renewed, not new
        "newly-recognised",
    ),
    "demo-single-champion-reward": (
        recognised(single_champion=["2025-11-01"]),
        1500000.0,
        {"district_code": "440303"},  # 深圳
        "registered",
    ),
    "demo-ai-genai-filing-reward": (
        {
            "district_code": "440105",
            "tags": ["above_scale"],
            "clusters": ["ai", "software-internet"],
            **recognised(genai_filing=["2025-03-01"]),
        },
        1000000.0,
        {"clusters": ["software-internet"]},
        "ai",
    ),
    "demo-low-altitude-hq-reward": (
        {"clusters": ["low-altitude-aerospace"], "tags": ["headquarters"]},
        1000000.0,
        {"tags": ["above_scale"]},
        "headquarters",
    ),
    "demo-output-breakthrough-reward": (  # 12亿元, never above 4亿 before: the 10亿 band
        {
            "district_code": "440115",
            "tags": ["above_scale"],
            "output_value": 1.2e9,
            "history": {"output_value": {LATEST - 2: 3e8, LATEST - 1: 4e8}},
        },
        200000.0,
        {"history": {"output_value": {LATEST - 2: 3e8, LATEST - 1: 1.1e9}}},  # 10亿 passed before
        "first-breakthrough",
    ),
    "demo-major-platform-manufacturing": (
        {"district_code": "440115", **recognised(above_scale=["2024-01-01"])},
        200000.0,
        {"district_code": "440106"},
        "district",
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
    output_value=1000000.0,
    history={"output_value": {LATEST - 1: 1000000.0}},
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


def test_tiers_and_recognitions() -> None:
    rd = POLICIES["demo-rd-subsidy"]
    for rd_expense, expected in ((1.5e7, 200000.0), (6e7, 400000.0), (1.2e8, 700000.0)):
        firm = enterprise(**recognised(high_tech=["2025-11-20"]), rd_expense=rd_expense)
        assert failed_conditions(rd, firm) == []
        assert evaluate(rd["benefit"]["amount"], firm, rd["parameters"]) == expected
    high_tech = POLICIES["demo-high-tech-reward"]
    renewed = enterprise(**recognised(high_tech=["2022-11-01", "2025-11-01"]))
    assert failed_conditions(high_tech, renewed) == []
    assert evaluate(high_tech["benefit"]["amount"], renewed, high_tech["parameters"]) == 100000.0
    upgrade = POLICIES["demo-above-scale-upgrade"]
    earlier = enterprise(**recognised(above_scale=["2021-01-01", "2024-01-01"]))
    assert failed_conditions(upgrade, earlier) == ["first-upgrade"]  # 2024 was not the first time
    giant = POLICIES["demo-little-giant-reward"]
    before = enterprise(**recognised(little_giant=["2025-07-01"]))
    assert failed_conditions(giant, before) == ["newly-recognised"]  # before the measures


def test_the_history_functions_of_the_fixture() -> None:
    """The evaluator's own history functions read as docs/policy-file.md says."""
    firm = enterprise(
        revenue=1.5e8,
        history={"revenue": {LATEST - 2: 1.0e8, LATEST - 1: 1.2e8}},
        **recognised(high_tech=["2019-12-01", "2022-12-01", "2025-12-01"]),
    )
    params: dict[str, Any] = {}
    assert evaluate("prior(enterprise.revenue)", firm, params) == 1.2e8
    assert float(evaluate("growth(enterprise.revenue)", firm, params)) == pytest.approx(0.25)
    assert float(evaluate("growth(enterprise.revenue, 1)", firm, params)) == pytest.approx(0.2)
    assert evaluate("peak_before(enterprise.revenue)", firm, params) == 1.2e8
    between = '("high_tech", "2025-01-01", "2025-12-31")'
    assert evaluate("recognised_between" + between, firm, params)
    assert not evaluate("first_recognised_between" + between, firm, params)
    assert evaluate("renewed_between" + between, firm, params)
    assert not evaluate('first_recognised_within("high_tech", 3)', firm, params)


def test_the_output_reward_pays_its_second_half_only_if_output_held() -> None:
    """分两年平均支付, the second half only if the second year's output is not below the year the
    band was reached (read a year later: the latest year against the one before)."""
    policy = POLICIES["demo-output-breakthrough-reward"]
    first, second = policy["benefit"]["schedule"]
    assert (first["share"], second["share"], second["after_years"]) == ("50%", "50%", 1)
    assert "when" not in first
    held = enterprise(output_value=1.3e9, history={"output_value": {LATEST - 1: 1.2e9}})
    fell = enterprise(output_value=1.1e9, history={"output_value": {LATEST - 1: 1.2e9}})
    assert evaluate(second["when"], held, policy["parameters"])
    assert not evaluate(second["when"], fell, policy["parameters"])
