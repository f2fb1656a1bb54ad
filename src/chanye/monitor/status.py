"""Where an industry stands against its target: the growth the target requires, the growth its
trend gives, the projection at the target year, and a light (on_track / at_risk / off_track /
no_data) by a rule that is data (``data/status-rule.toml``, docs/monitoring.md).

The rule is read from a file a city can change; ``describe`` writes it in words, for the page and
the report to print beside every light, and every standing carries its reasons in words.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chanye.monitor.conventions import compound_growth, projected, required_growth
from chanye.problems import FileRefusedError
from chanye.units import format_percent, format_yuan

Status = Literal["on_track", "at_risk", "off_track", "no_data"]
DEFAULT_RULE_FILE = Path(__file__).with_name("data") / "status-rule.toml"


class StatusLabels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    on_track: str = Field(min_length=1)
    at_risk: str = Field(min_length=1)
    off_track: str = Field(min_length=1)
    no_data: str = Field(min_length=1)


class StatusRule(BaseModel):
    """The status rule: how many years make the trend, and how far short of the required
    growth is still only a risk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trend_years: int = Field(ge=1, le=10)
    min_years: int = Field(ge=2, le=10)
    at_risk_margin: float = Field(ge=0, le=0.5)
    labels: StatusLabels

    def describe(self) -> str:
        """The rule in words, as pages and the report print it."""
        points = f"{self.at_risk_margin * 100:g}"
        return (
            f"以近{self.trend_years}年年均增速为趋势：不低于实现目标所需的年均增速为"
            f"“{self.labels.on_track}”，低于所需不超过{points}个百分点为“{self.labels.at_risk}”，"
            f"低于更多为“{self.labels.off_track}”；已知年度少于{self.min_years}年为"
            f"“{self.labels.no_data}”。"
        )


def load_rule(path: Path = DEFAULT_RULE_FILE) -> StatusRule:
    """The rule of ``path``; a file that is not a rule is refused naming the file and field."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FileRefusedError([f"{path}：不是有效的 TOML（{exc}）"]) from None
    try:
        return StatusRule.model_validate(data)
    except ValidationError as exc:
        raise FileRefusedError(
            [f"{path}：{'.'.join(map(str, e['loc']))}：{e['msg']}" for e in exc.errors()]
        ) from None


@dataclass(frozen=True)
class Standing:
    """An industry against its target, in the shape of ``chanye monitor status --json``."""

    latest_year: int | None
    latest_value: float | None
    target_value: float
    target_year: int
    trend_growth: float | None
    required_growth: float | None
    projected_value: float | None
    status: Status
    reasons: tuple[str, ...]


def _trend_start(yearly: Mapping[int, float], latest: int, years: int) -> int:
    """The earliest known year of the trend's window (at most ``years`` before the latest)."""
    return min(y for y in yearly if latest - years <= y <= latest)


def standing(
    yearly: Mapping[int, float], target_value: float, target_year: int, rule: StatusRule
) -> Standing:
    """Where the industry with these full-year figures stands against ``target_value`` by
    ``target_year``, under ``rule``."""
    known = {y: v for y, v in yearly.items() if v is not None}
    latest = max(known, default=None)
    base = Standing(
        latest,
        known[latest] if latest is not None else None,
        target_value,
        target_year,
        None,
        None,
        None,
        "no_data",
        (),
    )
    if latest is None or len(known) < rule.min_years:
        reason = f"已知年度 {len(known)} 年，少于 {rule.min_years} 年，无法判断趋势"
        return replace(base, reasons=(reason,))
    first = _trend_start(known, latest, rule.trend_years)
    trend = compound_growth(known[first], known[latest], latest - first)
    needed = required_growth(target_value, target_year, known[latest], latest)
    base = replace(base, trend_growth=trend, required_growth=needed)
    if trend is None or needed is None:
        reason = (
            f"近{rule.trend_years}年内已知年度不足两个，无法判断趋势"
            if first == latest
            else "最近年度数值不为正或已过目标年份，无法判断"
        )
        return replace(base, reasons=(reason,))
    ahead = projected(known[latest], trend, target_year - latest)
    status: Status = (
        "on_track"
        if trend >= needed
        else "at_risk"
        if trend >= needed - rule.at_risk_margin
        else "off_track"
    )
    reasons = _reasons(status, trend, needed, ahead, target_value, target_year, latest - first)
    return replace(base, projected_value=ahead, status=status, reasons=reasons)


def _reasons(
    status: Status,
    trend: float,
    needed: float,
    ahead: float,
    target: float,
    target_year: int,
    span: int,
) -> tuple[str, ...]:
    """Why, in words: the trend against the required growth, and the projection's gap."""
    years = min(span, 3)
    compared = f"近{years}年年均增长{format_percent(trend)}，" + (
        f"不低于实现目标所需的年均{format_percent(needed)}"
        if status == "on_track"
        else f"低于实现目标所需的年均{format_percent(needed)}"
        f"（差{(needed - trend) * 100:.1f}个百分点）"
    )
    gap = target - ahead
    outlook = (
        f"按此趋势{target_year}年约{format_yuan(ahead)}，可达目标{format_yuan(target)}"
        if gap <= 0
        else f"按此趋势{target_year}年约{format_yuan(ahead)}，距目标{format_yuan(target)}"
        f"尚差{format_yuan(gap)}"
    )
    return compared, outlook
