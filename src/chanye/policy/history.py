"""What a policy may ask of an enterprise's past: its figures over the years and its
recognitions, as CEL functions that the checker turns into fields of their own.

``prior(enterprise.revenue)`` (the year before the latest), ``growth(enterprise.revenue)``,
``peak_before(enterprise.revenue)`` (首次超过), ``first_recognised_between("high_tech",
"2025-01-01", "2025-12-31")`` ... each call, its arguments being constants, names one column of
the population as of the date (``chanye.registry.as_of`` works them out), so both engines, the
explanations and the near misses treat it as they treat ``enterprise.revenue``: vectorised over
the city, its value shown in each explanation with a Chinese label.

A call is named ``function:argument:...`` (``prior:revenue:1``); ``HistoryField.parse`` reads the
name back.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from chanye.beijing import years_later
from chanye.registry.fields import FIELD_BY_NAME as RECORD_FIELDS
from chanye.registry.fields import YEARLY_FIELDS, CelType

YearlyFunction = Literal["prior", "growth", "peak_before"]
EventFunction = Literal[
    "recognised_between", "first_recognised_between", "renewed_between", "first_recognised_within"
]
YEARLY_FUNCTIONS: tuple[str, ...] = ("prior", "growth", "peak_before")
EVENT_FUNCTIONS: tuple[str, ...] = (
    "recognised_between",
    "first_recognised_between",
    "renewed_between",
    "first_recognised_within",
)
FUNCTIONS = (*YEARLY_FUNCTIONS, *EVENT_FUNCTIONS)
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_YEARS_BACK = 10


@cache
def _kind_labels() -> dict[str, str]:
    """The qualification kinds' labels, for the words of an explanation (the default system's;
    a kind another city adds shows its id until its label is known here)."""
    from chanye.system.loader import load_default_system

    return {k.id: k.label for k in load_default_system().qualification_kinds}


def kind_label(kind: str) -> str:
    return _kind_labels().get(kind, kind)


@dataclass(frozen=True)
class HistoryField:
    """One call of a history function, with constant arguments: a field of its own."""

    function: str
    indicator: str | None = None  # the yearly field it reads (prior, growth, peak_before)
    kind: str | None = None  # the qualification kind (the event functions)
    years: int = 0  # prior: how many years back; growth: of which year; within: how many years
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def name(self) -> str:
        if self.indicator is not None:
            return f"{self.function}:{self.indicator}:{self.years}"
        if self.start is not None and self.end is not None:
            return f"{self.function}:{self.kind}:{self.start}:{self.end}"
        return f"{self.function}:{self.kind}:{self.years}"

    @classmethod
    def parse(cls, name: str) -> HistoryField | None:
        """The call a field name stands for; None for an ordinary field."""
        parts = name.split(":")
        if len(parts) < 3 or parts[0] not in FUNCTIONS:
            return None
        function = parts[0]
        if function in YEARLY_FUNCTIONS:
            return cls(function, indicator=parts[1], years=int(parts[2]))
        if len(parts) == 4:
            return cls(
                function,
                kind=parts[1],
                start=dt.date.fromisoformat(parts[2]),
                end=dt.date.fromisoformat(parts[3]),
            )
        return cls(function, kind=parts[1], years=int(parts[2]))

    @property
    def type(self) -> CelType:
        if self.function == "growth":
            return "double"
        if self.indicator is not None:
            cel = RECORD_FIELDS[self.indicator].cel
            assert cel is not None
            return cel
        return "bool"

    @property
    def label(self) -> str:
        """What an explanation calls it (``前一年度营业收入（元）``)."""
        if self.indicator is not None:
            base = RECORD_FIELDS[self.indicator]
            unit = f"（{base.unit}）" if base.unit and self.function != "growth" else ""
            if self.function == "prior":
                back = "前一年度" if self.years == 1 else f"前{self.years}个年度"
                return f"{back}{base.label}{unit}"
            if self.function == "growth":
                which = "最近年度" if self.years == 0 else f"前{self.years}个年度"
                return f"{base.label}增速（{which}）"
            return f"此前各年度{base.label}最高值{unit}"
        kind = kind_label(self.kind or "")
        if self.function == "first_recognised_within":
            return f"近{self.years}年内首次认定为{kind}"
        span = f"{self.start}至{self.end}"
        return {
            "recognised_between": f"{span}认定为{kind}",
            "first_recognised_between": f"{span}首次认定为{kind}",
            "renewed_between": f"{span}重新认定为{kind}",
        }[self.function]


def call_field(function: str, args: list[tuple[str, object]]) -> HistoryField | str:
    """The field a call stands for, or what is wrong with it (Chinese / English). ``args``: each
    argument as (``field`` and its name, or ``literal`` and its value)."""
    if function in YEARLY_FUNCTIONS:
        return _yearly_call(function, args)
    return _event_call(function, args)


def _yearly_call(function: str, args: list[tuple[str, object]]) -> HistoryField | str:
    usage = (
        f"{function}() 的第一个参数为年度指标，如 {function}(enterprise.revenue)"
        + ("" if function == "peak_before" else f"、{function}(enterprise.revenue, 2)")
        + f"（可用：{'、'.join(YEARLY_FIELDS)}） / {function}() takes a yearly field"
    )
    if not args or args[0][0] != "field" or args[0][1] not in YEARLY_FIELDS:
        return usage
    most = 1 if function == "peak_before" else 2
    if len(args) > most:
        return usage
    default = 1 if function == "prior" else 0
    years = args[1][1] if len(args) == 2 else default
    lowest = 1 if function == "prior" else 0
    if (
        (len(args) == 2 and args[1][0] != "literal")
        or not isinstance(years, int)
        or not lowest <= years <= MAX_YEARS_BACK
    ):
        return f"{function}() 的年数须为 {lowest} 到 {MAX_YEARS_BACK} 的整数常量 / years: a whole number"
    return HistoryField(function, indicator=str(args[0][1]), years=years)


def _event_call(function: str, args: list[tuple[str, object]]) -> HistoryField | str:
    within = function == "first_recognised_within"
    example = (
        f'{function}("above_scale", 3)'
        if within
        else f'{function}("high_tech", "2025-01-01", "2025-12-31")'
    )
    usage = f"{function}() 的参数为资质和{'年数' if within else '起止日期'}，如 {example} / usage: {example}"
    if len(args) != (2 if within else 3) or any(kind != "literal" for kind, _ in args):
        return usage
    kind = args[0][1]
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        return usage
    if within:
        years = args[1][1]
        if not isinstance(years, int) or not 1 <= years <= 50:
            return usage
        return HistoryField(function, kind=kind, years=years)
    try:
        start, end = (dt.date.fromisoformat(str(v)) for _, v in args[1:])
    except ValueError:
        return usage
    if end < start:
        return f"{function}() 的截止日期早于起始日期 / the end is before the start"
    return HistoryField(function, kind=kind, start=start, end=end)


class FactsAsOf(Protocol):
    """What the history functions read (``chanye.registry.as_of.RegistryAsOf``)."""

    def years_back(self, indicator: str, back: int) -> pa.Array: ...

    def peak_before(self, indicator: str) -> pa.Array: ...

    def recognised(
        self, kind: str, start: dt.date, end: dt.date, which: Literal["any", "first", "renewal"]
    ) -> pa.Array: ...


WHICH = {
    "recognised_between": "any",
    "first_recognised_between": "first",
    "renewed_between": "renewal",
}


def history_column(facts: FactsAsOf, call: HistoryField, as_of: dt.date) -> pa.Array:
    """The call's value for every enterprise, as of the date."""
    if call.indicator is not None:
        return _yearly_column(facts, call)
    if call.function == "first_recognised_within":
        since = years_later(as_of, -call.years) + dt.timedelta(days=1)
        return facts.recognised(call.kind or "", since, as_of, "first")
    assert call.start is not None and call.end is not None
    which = WHICH[call.function]
    return facts.recognised(call.kind or "", call.start, call.end, which)  # type: ignore[arg-type]


def _yearly_column(facts: FactsAsOf, call: HistoryField) -> pa.Array:
    indicator = call.indicator or ""
    if call.function == "peak_before":
        found = facts.peak_before(indicator)
    elif call.function == "prior":
        found = facts.years_back(indicator, call.years)
    else:
        found = _growth(
            facts.years_back(indicator, call.years), facts.years_back(indicator, call.years + 1)
        )
    if call.type == "int":
        return pc.cast(pc.round(found), pa.int64())
    return found


def _growth(now: pa.Array, before: pa.Array) -> pa.Array:
    """``now / before − 1``; unknown where either is, or where ``before`` is 0 (as CEL's
    division by zero)."""
    usable = pc.and_(pc.is_valid(now), pc.and_(pc.is_valid(before), pc.not_equal(before, 0.0)))
    ratio = pc.subtract(pc.divide(now, pc.if_else(usable, before, 1.0)), 1.0)
    return pc.if_else(usable, ratio, pa.scalar(None, pa.float64()))
