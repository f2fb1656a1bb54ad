"""预警: what turned amber or red this period, and why, in words, by rules that are data
(``data/warning-rules.toml``, docs/monitoring.md).

A rule watches one thing of an industry's year so far: its cumulative growth (1—N月累计同比) month
by month, the growth its target requires and its trend. January has no release of its own (1—2月
come together), so the month before 1—3月 is 1—2月.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chanye.monitor.conventions import FIRST_RELEASED_MONTH
from chanye.problems import FileRefusedError
from chanye.units import format_percent

DEFAULT_WARNING_FILE = Path(__file__).with_name("data") / "warning-rules.toml"
Severity = Literal["amber", "red"]
SEVERITY_LABELS: dict[str, str] = {"amber": "黄色预警", "red": "红色预警"}


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    severity: Severity


class MonthsBelowRequired(_Rule):
    kind: Literal["months_below_required"]
    months: int = Field(ge=1, le=11)


class RequiredAboveTrend(_Rule):
    kind: Literal["required_above_trend"]
    points: float = Field(gt=0, le=50)


class Slowdown(_Rule):
    kind: Literal["slowdown"]
    points: float = Field(gt=0, le=50)


WarningRule = Annotated[
    MonthsBelowRequired | RequiredAboveTrend | Slowdown, Field(discriminator="kind")
]
_RULES = TypeAdapter(list[WarningRule])


@dataclass(frozen=True)
class YearSoFar:
    """What the rules read of one industry: 1—N月累计同比 by month N, the required growth and the
    trend (fractions; None when not known)."""

    ytd_growth: Mapping[int, float]
    required_growth: float | None
    trend_growth: float | None

    @property
    def latest_month(self) -> int | None:
        return max(self.ytd_growth, default=None)


@dataclass(frozen=True)
class EarlyWarning:
    rule: str
    severity: Severity
    text: str

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS[self.severity]


def load_warning_rules(path: Path = DEFAULT_WARNING_FILE) -> list[WarningRule]:
    """The rules of ``path``; a file that is not one is refused naming the file and rule."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FileRefusedError([f"{path}：不是有效的 TOML（{exc}）"]) from None
    try:
        return _RULES.validate_python(data.get("rule", []))
    except ValidationError as exc:
        raise FileRefusedError(
            [f"{path}：rule {'.'.join(map(str, e['loc']))}：{e['msg']}" for e in exc.errors()]
        ) from None


def period_words(month: int) -> str:
    """1—N月 as releases write it."""
    return f"1—{month}月"


def _months_before(month: int, count: int) -> list[int]:
    """``month`` and the releases before it, ``count`` in all (no January: 3 follows 2)."""
    return [m for m in range(month, month - count, -1) if m >= FIRST_RELEASED_MONTH]


def _below_required(rule: MonthsBelowRequired, year: YearSoFar) -> str | None:
    month, needed = year.latest_month, year.required_growth
    if month is None or needed is None:
        return None
    months = _months_before(month, rule.months)
    if len(months) < rule.months or any(
        m not in year.ytd_growth or year.ytd_growth[m] >= needed for m in months
    ):
        return None
    return (
        f"连续{rule.months}个月累计增速低于所需增速（{period_words(month)}增长"
        f"{format_percent(year.ytd_growth[month])}，所需{format_percent(needed)}）"
    )


def _required_above_trend(rule: RequiredAboveTrend, year: YearSoFar) -> str | None:
    needed, trend = year.required_growth, year.trend_growth
    if needed is None or trend is None or (needed - trend) * 100 <= rule.points:
        return None
    return (
        f"所需增速超过近三年平均增速{rule.points:g}个百分点以上（所需{format_percent(needed)}，"
        f"近三年平均{format_percent(trend)}）"
    )


def _slowdown(rule: Slowdown, year: YearSoFar) -> str | None:
    month = year.latest_month
    if month is None or month <= FIRST_RELEASED_MONTH or month - 1 not in year.ytd_growth:
        return None
    fall = (year.ytd_growth[month - 1] - year.ytd_growth[month]) * 100
    if fall < rule.points:
        return None
    return (
        f"{period_words(month)}增速比{period_words(month - 1)}回落{fall:.1f}个百分点"
        f"（{format_percent(year.ytd_growth[month - 1])} → {format_percent(year.ytd_growth[month])}）"
    )


_WATCH: dict[str, Callable[[Any, YearSoFar], str | None]] = {
    "months_below_required": _below_required,
    "required_above_trend": _required_above_trend,
    "slowdown": _slowdown,
}


def warnings_for(year: YearSoFar, rules: list[WarningRule]) -> list[EarlyWarning]:
    """The warnings ``rules`` raise on ``year``, red first, each with its reason in words."""
    raised = [
        EarlyWarning(rule.id, rule.severity, text)
        for rule in rules
        if (text := _WATCH[rule.kind](rule, year)) is not None
    ]
    return sorted(raised, key=lambda w: w.severity != "red")
