"""Explanations in the words of the policy: each condition's clause, the expression, the values it
read and whether it held; the amount with its arithmetic; and the near misses of a policy."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from chanye.policy import items
from chanye.policy.cel import Node
from chanye.policy.columnar import Candidates
from chanye.policy.fields import field_spec, label_of, plain_value
from chanye.policy.interpret import FAILS, HOLDS, MISSING, UNKNOWN, evaluate, outcomes_of
from chanye.policy.interpret import amount_of as _amount
from chanye.policy.model import ITEMS_KEY, ApplicationField, Policy
from chanye.policy.population import Population, condition_states, in_scope
from chanye.policy.tiers import Tiers, number_text
from chanye.registry.scope import Scope
from chanye.units import format_yuan

OUTCOME_LABELS = {HOLDS: "满足", FAILS: "不满足", UNKNOWN: "待补充（缺少数据）"}


@dataclass
class ConditionResult:
    id: str
    text: str
    expression: str
    values: dict[str, Any]  # field → value read (None: missing)
    outcome: str  # holds / fails / unknown
    missing: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    policy_id: str
    policy_title: str
    uscc: str
    name: str
    as_of: str
    valid: bool  # the policy is in force on the date
    eligible: bool
    needs_data: bool  # fails only for missing values (待补充)
    mode: str  # 免申即享 / 快申
    conditions: list[ConditionResult]
    amount: float | None
    arithmetic: str | None
    source_change: int | None  # the registry change the values come from
    founded_on: str | None = None  # set when the enterprise was founded after the date
    labels: dict[str, str] = field(default_factory=dict)  # the policy's own fields' labels
    items: list[dict[str, Any]] = field(default_factory=list)  # each item (一对多), as shown
    # What the payout ledger left of the decision (``workflow.apply_ledger``): notes, blocked.
    ledger: dict[str, Any] | None = None

    def label(self, name: str) -> str:
        return self.labels.get(name) or label_of(name)

    @classmethod
    def of(cls, explained: dict[str, Any]) -> Explanation:
        """An explanation (``expanded``'s dict) as an object."""
        conditions = [ConditionResult(**c) for c in explained["conditions"]]
        return cls(**{**explained, "conditions": conditions})

    def to_dict(self) -> dict[str, Any]:
        # By hand, not ``asdict``: its deep copy costs seconds over thousands of pushes.
        conditions = [
            {**vars(c), "values": dict(c.values), "missing": list(c.missing)}
            for c in self.conditions
        ]
        shown = {**vars(self), "conditions": conditions}
        if shown["founded_on"] is None:  # said only of an enterprise not yet founded
            del shown["founded_on"]
        if not shown["labels"]:  # only a policy with application fields has its own
            del shown["labels"]
        if not shown["items"]:
            del shown["items"]
        if shown["ledger"] is None:  # only a decision read against the payout ledger
            del shown["ledger"]
        return shown


@dataclass(frozen=True)
class Known:
    """What the engine worked out already for one candidate: each condition's outcome, in the
    policy's order, and the amount (NaN: not eligible, or it reads a missing value)."""

    outcomes: Sequence[str]
    amount: float


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def explain(population: Population, policy: Policy, uscc: str) -> Explanation | None:
    key = uscc.strip().upper()
    # Only the fields the policy reads (held in memory), not the whole record from the files.
    record = population.records([key], policy).get(key)
    if record is None:
        return None
    explained = explain_record(policy, record, uscc, population.as_of)
    founded = population.founded_after(key)
    if founded is None:
        return explained
    # Not yet founded on the date: no policy sees it then, whatever its values today.
    return replace(explained, eligible=False, needs_data=False, founded_on=founded.isoformat())


def explain_record(
    policy: Policy,
    record: dict[str, Any],
    uscc: str,
    as_of: dt.date,
    said: dict[str, Any] | None = None,
) -> Explanation:
    """The explanation of one enterprise's record (as ``Population.record`` gives it); ``said``:
    what is kept beside the evidence (the payout ledger's word, ``workflow.apply_ledger``)."""
    kept = {**evidence(policy, [record], as_of)[0], **(said or {})}
    return Explanation.of(expanded(policy, kept, uscc))


# What a push keeps (``evidence``); anything else stored beside it (the run, the registry change)
# is carried into the explanation as it is.
EVIDENCE = ("name", "as_of", "values", "outcomes", "amount", "source_change")


def evidence(
    policy: Policy,
    records: Sequence[dict[str, Any]],
    as_of: dt.date,
    known: Sequence[Known | None] | None = None,
) -> list[dict[str, Any]]:
    """What a push keeps of each decision: the values the policy read, each condition's outcome,
    the amount, the enterprise's name and the registry change the values came from.

    The clauses, their expressions and the formula are the version's, which never changes once
    published: ``expanded`` puts them back, rather than every push of a run copying them (the
    evidence is then about a quarter of the size). ``known``: what the
    engine worked out already for each record, where it has (``known_at``); the others are
    evaluated one record at a time.
    """
    names, day, valid = policy.fields_read(), as_of.isoformat(), policy.valid_on(as_of)
    found = []
    for index, record in enumerate(records):
        worked_out = None if known is None else known[index]
        by_item = items.decide(policy, record, valid) if worked_out is None else None
        if by_item is not None:  # several items (一对多): each decided on its own
            outcomes, amount, read = by_item.outcomes, by_item.amount, by_item.values
        else:
            outcomes, amount, read = _decided(policy, record, valid, worked_out)
        kept = {
            "name": str(record.get("name") or ""),
            "as_of": day,
            "values": {n: _plain(read.get(n)) for n in names},
            "outcomes": outcomes,
            "amount": amount,
            "source_change": record.get("change_id"),
        }
        if by_item is not None:
            kept[ITEMS_KEY] = by_item.items
        found.append(kept)
    return found


def _decided(
    policy: Policy, record: dict[str, Any], valid: bool, worked_out: Known | None
) -> tuple[list[str], float | None, dict[str, Any]]:
    """Outcomes and amount of one record: the engine's where it worked them out already."""
    if worked_out is None:
        outcomes = outcomes_of(policy.conditions, record, policy.parameters)
    else:
        outcomes = list(worked_out.outcomes)
    amount = None
    if valid and policy.amount is not None and all(o == HOLDS for o in outcomes):
        amount = _amount(policy, record) if worked_out is None else worked_out.amount
        amount = None if amount is None or math.isnan(amount) else amount
    return outcomes, amount, record


def expanded(policy: Policy, kept: dict[str, Any], uscc: str) -> dict[str, Any]:
    """The explanation (``Explanation``'s fields) of a decision's ``evidence``, in the words
    of the policy it was decided by."""
    if "conditions" in kept:  # a push written before evidence was kept apart from the clauses
        return kept
    values, outcomes = kept["values"], kept["outcomes"]
    valid = policy.valid_on(dt.date.fromisoformat(kept["as_of"]))
    conditions = []
    for condition, outcome in zip(policy.conditions, outcomes, strict=True):
        names = condition.node.fields()
        conditions.append(
            {
                "id": condition.id,
                "text": condition.text,
                "expression": condition.when,
                "values": {n: values.get(n) for n in names},
                "outcome": outcome,
                "missing": [n for n in names if values.get(n) is None],
            }
        )
    paid = kept.get("ledger") or {}  # what the payout ledger left (chanye.policy.ledger)
    eligible = valid and all(o == HOLDS for o in outcomes) and not paid.get("blocked")
    amount, arithmetic = kept["amount"] if eligible else None, None
    if eligible and paid.get("amount") is not None:
        amount = paid["amount"]
    listed = items.described(policy, kept.get(ITEMS_KEY) or [])
    if eligible and policy.amount_per_item and listed:
        each = [{**values, **item["values"]} for item in kept[ITEMS_KEY]]
        formulas = [
            substitute(policy.amount_text or "", v, policy.parameters, policy) for v in each
        ]
        arithmetic = items.arithmetic(policy, listed, formulas)
    elif eligible and policy.amount is not None:
        written = "（缺少数据）" if amount is None else format_yuan(amount)
        formula = substitute(policy.amount_text or "", values, policy.parameters, policy)
        arithmetic = "；".join(
            [f"{formula} = {written}", *tier_notes(policy.amount, values, policy.parameters)]
        )
    return {
        "policy_id": policy.id,
        "policy_title": policy.title,
        "uscc": uscc,
        "name": kept["name"],
        "as_of": kept["as_of"],
        "valid": valid,
        "eligible": eligible,
        "needs_data": valid and FAILS not in outcomes and UNKNOWN in outcomes,
        "mode": policy.mode_label,
        "conditions": conditions,
        "amount": amount,
        "arithmetic": arithmetic,
        "source_change": kept["source_change"],
        **_own_labels(policy),
        **{k: v for k, v in kept.items() if k not in EVIDENCE},
        **({ITEMS_KEY: listed} if listed else {}),
    }


def _own_labels(policy: Policy) -> dict[str, dict[str, str]]:
    """The labels of the values an applicant supplies, which only the policy knows."""
    labels = {a.field_name: a.labelled for a in policy.supplied_fields}
    return {"labels": labels} if labels else {}


def known_at(candidates: Candidates, places: Sequence[int]) -> list[Known]:
    """What the engine knows at these places among its candidates, with the same three-valued
    logic as ``evaluate``."""
    picked = np.asarray(places, dtype=np.int64)
    columns = [
        np.where(h[picked], HOLDS, np.where(u[picked], UNKNOWN, FAILS)).tolist()
        for h, u in zip(candidates.holds, candidates.unknown, strict=True)
    ]
    outcomes = list(zip(*columns, strict=True)) if columns else [() for _ in places]
    amounts = candidates.amounts[picked].tolist()
    return [Known(o, a) for o, a in zip(outcomes, amounts, strict=True)]


def tier_notes(amount: Node, values: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """Each ``tier()`` of an amount with the band it fell in, as a person says it:
    ``工业总产值 12.3亿元 落在“10亿元以上”档，奖励 50万元``."""
    return [
        _tier_note(node, values, params)
        for node in amount.walk()
        if node.kind == "call" and node.op == "tier"
    ]


def _tier_note(node: Node, values: dict[str, Any], params: dict[str, Any]) -> str:
    table: Tiers = params[node.value]
    basis = node.args[0]
    subject, shown = _tier_basis(basis)
    x = evaluate(basis, values, params)
    if x is MISSING:
        return f"{subject}缺失，所在档次待补充"
    band = table.band(x)
    given = "比例" if table.column == "rate" else "奖励"
    if band < 0:
        lowest = f"{shown(table.starts[0])}以上"
        return f"{subject} {shown(x)} 未达最低一档（{lowest}），{given} {table.value_text(0.0)}"
    applied = f"{shown(table.starts[band])}以上"
    return f"{subject} {shown(x)} 落在“{applied}”档，{given} {table.value_text(table.values[band])}"


def _tier_basis(basis: Node) -> tuple[str, Callable[[float], str]]:
    """What a tier is decided on, and how its values read: a field by its label without the
    unit (money in 万元 / 亿元, rates in %), a computed value by its fields' unit."""
    if basis.kind == "field":
        spec = field_spec(basis.op)
        whole = spec.type == "int"
        subject = re.sub(r"（[^（）]*）$", "", spec.label)
        return subject, lambda v: plain_value(spec.name, int(v) if whole else float(v))
    money = bool(basis.fields()) and all(field_spec(n).unit == "元" for n in basis.fields())
    return "分档依据（计算值）", format_yuan if money else number_text


# A yearly history function as written in an amount: prior(enterprise.revenue, 2).
HISTORY_CALL = (
    r"\b(prior|growth|peak_before)\(\s*enterprise\.([a-z_][a-z0-9_]*)\s*(?:,\s*(\d+)\s*)?\)"
)


def substitute(
    text: str, record: dict[str, Any], params: dict[str, Any], policy: Policy | None = None
) -> str:
    """The expression with each value it reads written in: the arithmetic a person can check."""
    declared = {a.id: a for a in policy.application} if policy else {}
    per_item = {a.id: a for a in policy.item_fields} if policy else {}

    def read_declared(match: re.Match[str], fields: dict[str, ApplicationField]) -> str:
        found = fields.get(match.group(1))
        if found is None:
            return match.group(0)
        return _read(found.field_name, found.labelled, record.get(found.field_name))

    def supplied_value(match: re.Match[str]) -> str:
        return read_declared(match, declared)

    def item_value(match: re.Match[str]) -> str:
        return read_declared(match, per_item)

    def field_value(match: re.Match[str]) -> str:
        name = match.group(1)
        return _read(name, label_of(name), record.get(name))

    def history_value(match: re.Match[str]) -> str:
        function, name, years = match.group(1), match.group(2), match.group(3)
        default = "1" if function == "prior" else "0"
        key = f"{function}:{name}:{years or default}"
        return _read(key, label_of(key), record.get(key))

    text = re.sub(HISTORY_CALL, history_value, text)
    text = re.sub(r"enterprise\.([a-z_][a-z0-9_]*)", field_value, text)
    text = re.sub(r"application\.([a-z_][a-z0-9_]*)", supplied_value, text)
    text = re.sub(r"item\.([a-z_][a-z0-9_]*)", item_value, text)

    def param_value(match: re.Match[str]) -> str:
        value = params.get(match.group(1))
        if isinstance(value, Tiers):
            return f"分档表 {match.group(1)}"
        # Money is written in yuan as a decimal (rates are below one, counts whole numbers).
        money = isinstance(value, float) and abs(value) >= 1000
        return format_yuan(value) if money else _number(value)

    return re.sub(r"params\.([a-z_][a-z0-9_]*)", param_value, text)


def _read(name: str, label: str, value: Any) -> str:
    """A value as the arithmetic shows it: money in 万元 / 亿元 under its label without the
    unit (people read 万元, not raw yuan), anything else as it is."""
    if value is None:
        return f"{label}[缺失]"
    try:
        money = field_spec(name).unit == "元" and isinstance(value, int | float)
    except KeyError:
        money = False
    if money:
        return f"{re.sub(r'（元）$', '', label)}[{format_yuan(float(value))}]"
    return f"{label}[{_number(value)}]"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:g}"
    return str(_plain(value))


@dataclass
class NearMiss:
    uscc: str
    name: str
    condition_id: str
    condition_text: str
    values: dict[str, Any]
    shortfall: float | None  # how far the value is from the threshold, when that is a number


def shortfall(node: Node, record: dict[str, Any], params: dict[str, Any]) -> float | None:
    """For a comparison of a field with a constant or parameter: how far off the enterprise is."""
    if node.kind != "compare" or node.op in ("==", "!="):
        return None
    left, right = node.args
    if left.kind != "field" or right.kind not in ("literal", "param"):
        return None
    value = record.get(left.op)
    threshold = right.value if right.kind == "literal" else params.get(right.op)
    if not isinstance(value, int | float) or not isinstance(threshold, int | float):
        return None
    return float(abs(threshold - value))


def near_misses(
    population: Population, policy: Policy, limit: int = 100, scope: Scope | None = None
) -> list[NearMiss]:
    """Enterprises failing exactly one condition (for a known reason), nearest first; only
    those in ``scope`` (a chain leader's industries, decided by ``chanye.registry.scope``).
    Empty for a policy not in force on the date: nobody is near what it would not pay."""
    if not policy.valid_on(population.as_of):
        return []
    states = condition_states(population, policy)
    near = (states.failed_counts() == 1) & ~states.any_unknown()
    admitted = in_scope(population, scope or Scope.all())
    if admitted is not None:
        near &= admitted
    rows = np.flatnonzero(near)[: limit * 20]
    failing = states.known_false()
    which = [next(i for i, f in enumerate(failing) if f[row]) for row in rows.tolist()]
    misses: list[NearMiss] = []
    for record, index in zip(population.records_at(rows, policy), which, strict=True):
        condition = policy.conditions[index]
        misses.append(
            NearMiss(
                str(record["uscc"]),
                str(record["name"] or ""),
                condition.id,
                condition.text,
                {n: _plain(record.get(n)) for n in condition.node.fields()},
                shortfall(condition.node, record, policy.parameters),
            )
        )
    misses.sort(key=lambda m: (m.shortfall is None, m.shortfall or 0.0))
    return misses[:limit]
