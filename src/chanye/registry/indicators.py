"""What the registry knows of an enterprise over time: the indicators of its annual figures and
monthly 快报, and the headers bureaus write for them (the contract is in docs/registry.md,
"Facts over time"). Money is stored in yuan, persons as whole numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from chanye.registry.schema import UNITS_TO_YUAN, normalise_header

Unit = Literal["money", "persons"]
Measure = Literal["year", "month", "ytd"]  # a year's figure; a month's 本月; 1–N月 累计

MEASURE_LABELS: dict[str, str] = {"year": "全年", "month": "本月", "ytd": "累计"}


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    headers: tuple[str, ...]  # accepted besides the label and the id
    unit: Unit
    signed: bool = False  # may be below zero (a loss is a negative 利润总额)

    @property
    def unit_label(self) -> str:
        return "元" if self.unit == "money" else "人"


INDICATORS: tuple[Indicator, ...] = (
    Indicator("revenue", "营业收入", ("营收", "主营业务收入"), "money"),
    Indicator("output_value", "工业总产值", ("总产值",), "money"),
    Indicator("value_added", "工业增加值", ("增加值",), "money"),
    Indicator("profit", "利润总额", ("利润",), "money", signed=True),
    Indicator("tax_paid", "纳税总额", ("税收总额", "实缴税金", "纳税额"), "money"),
    Indicator("rd_expense", "研发费用", ("研发投入", "研究开发费用"), "money"),
    Indicator("employees", "从业人员", ("年末从业人员", "从业人员平均人数", "从业人数"), "persons"),
    Indicator("fixed_investment", "固定资产投资", ("固定资产投资额",), "money"),
    Indicator("exports", "出口额", ("出口交货值", "出口总额"), "money"),
)
INDICATOR_BY_ID = {i.id: i for i in INDICATORS}
_INDICATOR_INDEX = {
    normalise_header(name): i for i in INDICATORS for name in (i.id, i.label, *i.headers)
}

_UNIT = re.compile(r"[(（](?P<unit>[^)）]*)[)）]")
_YEAR_FIRST = re.compile(r"^(?P<year>(?:19|20)\d{2})年度?(?P<rest>.+)$")
_YEAR_LAST = re.compile(r"^(?P<rest>.+?)(?P<year>(?:19|20)\d{2})年度?$")
_MONTHLY_MARKS: tuple[tuple[re.Pattern[str], Measure], ...] = (
    (re.compile(r"^(本月|当月)|(本月|当月)(数|值)?$"), "month"),
    (re.compile(r"^(本年|本期)?(累计|1[-—~～至]\d{1,2}月)|(本年)?累计(数|值)?$"), "ytd"),
)


@dataclass(frozen=True)
class IndicatorHeader:
    """What a header names: an indicator, for a year (wide layouts) or a measure (快报)."""

    indicator: Indicator
    unit: float  # multiplier to yuan for money
    year: int | None = None
    measure: Measure | None = None


def read_indicator_header(header: str) -> IndicatorHeader | None:
    """``2023年营业收入（千元）``, ``营业收入2023年``, ``营业收入累计（千元）``, ``本月工业总产值``."""
    text = normalise_header(header)
    unit = 1.0
    for found in _UNIT.finditer(text):
        if found.group("unit") in UNITS_TO_YUAN:
            unit = UNITS_TO_YUAN[found.group("unit")]
    text = _UNIT.sub("", text)
    year = None
    if found_year := _YEAR_FIRST.match(text) or _YEAR_LAST.match(text):
        year, text = int(found_year.group("year")), found_year.group("rest")
    measure: Measure | None = None
    for pattern, marked in _MONTHLY_MARKS:
        stripped = pattern.sub("", text)
        if stripped != text:
            measure, text = marked, stripped
            break
    indicator = _INDICATOR_INDEX.get(text)
    if indicator is None:
        return None
    return IndicatorHeader(
        indicator, unit if indicator.unit == "money" else 1.0, year=year, measure=measure
    )
