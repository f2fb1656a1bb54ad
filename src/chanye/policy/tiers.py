"""Tier tables (分档): "1亿元以上奖励10万元，5亿元以上20万元 …" as one parameter.

A table is a list of bands, each with a lower bound ``from`` (inclusive) and a value (``amount``
in yuan, or ``rate`` for a per-band rate). ``tier(x, params.table)`` is the value of the highest
band whose ``from`` is at most ``x``, and 0.0 below the first band. Every engine evaluates it
from the same ``Tiers`` (numpy ``searchsorted``, a SQL ``CASE``, or ``value_at`` for one record).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from chanye.units import format_percent, format_yuan

COLUMNS = ("amount", "rate")  # what a band gives: money in yuan, or a rate


@dataclass(frozen=True)
class Tiers:
    starts: tuple[float, ...]  # strictly increasing lower bounds
    values: tuple[float, ...]
    column: str = "amount"

    def band(self, x: float) -> int:
        """The index of the band ``x`` falls in; -1 below the first."""
        return bisect.bisect_right(self.starts, x) - 1

    def value_at(self, x: float) -> float:
        found = self.band(x)
        return 0.0 if found < 0 else self.values[found]

    def value_text(self, value: float) -> str:
        return format_percent(value, 2) if self.column == "rate" else format_yuan(value)

    def with_band(self, row: int, column: str, value: float) -> Tiers:
        """The table with band ``row`` (1-based) given another ``from`` or value."""
        starts, values = list(self.starts), list(self.values)
        (starts if column == "from" else values)[row - 1] = value
        return Tiers(tuple(starts), tuple(values), self.column)

    def __str__(self) -> str:
        """As the detail page lists it: ``≥100,000,000 → 10万元；≥500,000,000 → 20万元``."""
        return "；".join(
            f"≥{number_text(start)} → {self.value_text(value)}"
            for start, value in zip(self.starts, self.values, strict=True)
        )


def number_text(value: float) -> str:
    """A bound as written, with thousands separators: ``500,000,000``, ``50``, ``0.5``."""
    return f"{value:,.15g}"


def order_problems(name: str, starts: tuple[float, ...]) -> list[str]:
    """Why the bands of ``name`` are not in increasing order of ``from``, one message a band."""
    return [
        f"参数 {name} 第 {i + 1} 档：起点须大于上一档（第 {i} 档起点 {number_text(starts[i - 1])}，"
        f"此处 {number_text(starts[i])}），各档按起点从低到高排列且不重复 "
        f"/ bands must increase in from"
        for i in range(1, len(starts))
        if starts[i] <= starts[i - 1]
    ]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
