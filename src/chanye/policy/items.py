"""Items, one to many (单个项目): one application lists several projects, contracts or models.

A policy that declares ``items`` reads each item's values as ``item.<id>``. Every item is
decided on its own, by all the policy's conditions on the enterprise's record with that item's
values: an item qualifies when every condition holds for it. The enterprise qualifies when one
item does. An amount that reads ``item.<id>`` is worked out per qualifying item, with the item's
own cap written in the formula (``min(item.equipment_spend * params.rate, params.cap)``:
单个项目不超过3000万元), and the enterprise receives their sum; an amount that reads no item is
paid once.

Until the enterprise lists its items (and staff verify them) every item value is unknown, so the
engines see the policy as they see any 快申 policy: its enterprises are 待补充.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chanye.policy.fields import plain_value
from chanye.policy.interpret import FAILS, HOLDS, UNKNOWN, amount_of, outcomes_of
from chanye.policy.model import ITEMS_KEY, Policy, reads_item
from chanye.units import format_yuan


@dataclass(frozen=True)
class ItemsDecided:
    """An enterprise decided item by item."""

    outcomes: list[str]  # each condition: as for a qualifying item, else for the nearest one
    amount: float | None  # the sum over qualifying items (None: one of them lacks a value)
    values: dict[str, Any]  # the record with the values of the item ``outcomes`` is of
    items: list[dict[str, Any]]  # per item: its values, outcomes and amount (the evidence)


def decide(policy: Policy, record: dict[str, Any], valid: bool) -> ItemsDecided | None:
    """The enterprise's decision from its items (None: it has listed none yet)."""
    listed: Sequence[dict[str, Any]] = record.get(ITEMS_KEY) or []
    if policy.items is None or not listed:
        return None
    rows = [{**record, **values} for values in listed]
    kept = [_one_item(policy, row, valid) for row in rows]
    passing = [i for i, item in enumerate(kept) if _qualifies(item["outcomes"])]
    chosen = passing[0] if passing else min(range(len(kept)), key=lambda i: _distance(kept[i]))
    amount = None
    if passing and valid and policy.amount_per_item:
        amount = _total([kept[i]["amount"] for i in passing])
    elif passing and valid:  # an amount reading no item: paid once, whatever the number
        amount = amount_of(policy, rows[chosen])
    return ItemsDecided(kept[chosen]["outcomes"], amount, rows[chosen], kept)


def _one_item(policy: Policy, row: dict[str, Any], valid: bool) -> dict[str, Any]:
    outcomes = outcomes_of(policy.conditions, row, policy.parameters)
    priced = valid and policy.amount_per_item and _qualifies(outcomes)
    return {
        "values": {f.field_name: row.get(f.field_name) for f in policy.item_fields},
        "outcomes": outcomes,
        "amount": amount_of(policy, row) if priced else None,
    }


def _qualifies(outcomes: Sequence[str]) -> bool:
    return all(o == HOLDS for o in outcomes)


def _distance(item: dict[str, Any]) -> tuple[int, int]:
    """How far an item is from qualifying: conditions failed, then unknown."""
    return item["outcomes"].count(FAILS), item["outcomes"].count(UNKNOWN)


def _total(amounts: Sequence[float | None]) -> float | None:
    return None if any(a is None for a in amounts) else float(sum(a or 0.0 for a in amounts))


def described(policy: Policy, kept: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item as its enterprise and staff read it: its values in 万元 under their labels, and
    whether it qualifies, naming the clauses it misses."""
    if policy.items is None:
        return []
    shown = []
    for number, item in enumerate(kept, start=1):
        shown.append(
            {
                "number": number,
                "title": title(policy, number, item["values"]),
                "values": {
                    f.label: plain_value(f.field_name, item["values"].get(f.field_name))
                    for f in policy.items.fields
                },
                "verdict": _verdict(policy, item["outcomes"]),
                "qualifies": _qualifies(item["outcomes"]),
                "amount": item["amount"],
            }
        )
    return shown


def _verdict(policy: Policy, outcomes: Sequence[str]) -> str:
    """符合, or the item's own clauses it misses (or cannot yet be judged on)."""
    if _qualifies(outcomes):
        return "符合"
    of_item = [
        (c.text, o) for c, o in zip(policy.conditions, outcomes, strict=True) if reads_item(c.node)
    ]
    missed = [text for text, outcome in of_item if outcome == FAILS]
    unknown = [text for text, outcome in of_item if outcome == UNKNOWN]
    if missed:
        return "不符合：" + "；".join(missed)
    if unknown:
        return "待补充：" + "；".join(unknown)
    return "不符合：企业条件未满足"


def title(policy: Policy, number: int, values: dict[str, Any]) -> str:
    """``技术改造项目 2（二号生产线改造）``: the item's number, and its name where one is asked."""
    label = policy.items.label if policy.items else "项目"
    named = next((values.get(f.field_name) for f in policy.item_fields if f.kind == "text"), None)
    return f"{label} {number}（{named}）" if named else f"{label} {number}"


def arithmetic(policy: Policy, shown: Sequence[dict[str, Any]], each: Sequence[str]) -> str:
    """The amount over the items as a person checks it: each qualifying item's formula with
    its values, then the sum."""
    paid = [(item, formula) for item, formula in zip(shown, each, strict=True) if item["qualifies"]]
    total = _total([item["amount"] for item, _formula in paid])
    lines = [
        f"{item['title']}：{formula} = {'（缺少数据）' if item['amount'] is None else format_yuan(item['amount'])}"
        for item, formula in paid
    ]
    written = "（缺少数据）" if total is None else format_yuan(total)
    return "；".join(
        [*lines, f"{len(paid)} 个{policy.items.label if policy.items else '项目'}合计 {written}"]
    )
