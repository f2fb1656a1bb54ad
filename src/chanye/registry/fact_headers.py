"""The headers of the registry's files of facts over time, as ``reading.Vocabulary`` kinds:
annual figures (long or wide), monthly 快报 and qualifications. ``chanye registry import`` tries
them in the order of ``KINDS`` on a file's header rows; ``--kind`` names one.

Columns are named for what they hold: ``revenue`` (a long layout's indicator), ``revenue@2023``
(a wide layout's year), ``revenue@ytd`` / ``revenue@month`` (a 快报's 累计 or 本月).
"""

from __future__ import annotations

from collections.abc import Callable

from chanye.registry.indicators import (
    INDICATOR_BY_ID,
    MEASURE_LABELS,
    IndicatorHeader,
    read_indicator_header,
)
from chanye.registry.reading import ENTERPRISE_LIST, Vocabulary
from chanye.registry.schema import HeaderMatch, match_header, normalise_header

IDENTITY = ("uscc", "name")  # the enterprise's columns every kind shares


def _names(*names: str) -> frozenset[str]:
    return frozenset(normalise_header(n) for n in names)


YEAR_HEADERS = _names("年度", "年份", "统计年度", "年", "year")
PERIOD_HEADERS = _names(
    "期间", "统计期间", "报告期", "月份", "年月", "所属期", "统计月份", "period"
)
QUALIFICATION_HEADERS: dict[str, frozenset[str]] = {
    "kind": _names(
        "资质", "资质类型", "资质名称", "认定类型", "认定名称", "荣誉", "资质认定", "kind"
    ),
    "level": _names("级别", "认定级别", "资质级别", "level"),
    "recognised_on": _names(
        "认定日期", "认定时间", "获评日期", "发证日期", "入统时间", "备案日期", "recognised_on"
    ),
    "valid_until": _names(
        "有效期至", "有效期截止", "有效期", "到期日期", "截止日期", "退库时间", "valid_until"
    ),
    "reference": _names("证书编号", "批次", "认定批次", "备案编号", "备案号", "reference"),
}
QUALIFICATION_LABELS = {
    "kind": "资质",
    "level": "级别",
    "recognised_on": "认定日期",
    "valid_until": "有效期至",
    "reference": "证书编号",
}


def _identity(header: str) -> HeaderMatch | None:
    match = match_header(header)
    return match if match and match.field in IDENTITY else None


def _named(header: str, names: frozenset[str], field: str) -> HeaderMatch | None:
    return HeaderMatch(field) if normalise_header(header) in names else None


def _indicator_match(
    header: str, names: frozenset[str], field: str, yearly: bool
) -> HeaderMatch | None:
    """The identity columns, the period's column (``field``, one of ``names``), or an
    indicator: with its year (``yearly``: annual figures) or its measure (快报)."""
    if found := _identity(header) or _named(header, names, field):
        return found
    read = read_indicator_header(header)
    if read is None or (read.measure if yearly else read.year) is not None:
        return None
    qualifier = read.year if yearly else read.measure
    return HeaderMatch(read.indicator.id + (f"@{qualifier}" if qualifier else ""), read.unit)


def _annual_match(header: str) -> HeaderMatch | None:
    return _indicator_match(header, YEAR_HEADERS, "year", yearly=True)


def _monthly_match(header: str) -> HeaderMatch | None:
    return _indicator_match(header, PERIOD_HEADERS, "period", yearly=False)


def _qualification_match(header: str) -> HeaderMatch | None:
    if found := _identity(header):
        return found
    return next(
        (HeaderMatch(f) for f, names in QUALIFICATION_HEADERS.items() if _named(header, names, f)),
        None,
    )


def indicator_fields(fields: set[str]) -> list[str]:
    return [f for f in fields if f.split("@")[0] in INDICATOR_BY_ID]


def field_label(field: str) -> str:
    """``revenue@2023`` → 2023年营业收入; ``revenue@ytd`` → 营业收入（累计）."""
    base, _, qualifier = field.partition("@")
    if base in INDICATOR_BY_ID:
        label = INDICATOR_BY_ID[base].label
        if qualifier.isdigit():
            return f"{qualifier}年{label}"
        return f"{label}（{MEASURE_LABELS[qualifier]}）" if qualifier else label
    if base == "year":
        return "年度"
    if base == "period":
        return "期间"
    if base in QUALIFICATION_LABELS:
        return QUALIFICATION_LABELS[base]
    return ENTERPRISE_LIST.label(base)


def _requiring(*groups: tuple[str, Callable[[set[str]], bool]]) -> Callable[[set[str]], list[str]]:
    """The labels of the groups of columns a file lacks."""
    return lambda fields: [label for label, present in groups if not present(fields)]


def _has_uscc(fields: set[str]) -> bool:
    return "uscc" in fields


def _has_years(fields: set[str]) -> bool:
    """A long layout's 年度 column, or a wide layout's year in the headers."""
    return "year" in fields or any("@" in f for f in indicator_fields(fields))


ANNUAL = Vocabulary(
    kind="annual",
    match=_annual_match,
    is_header=lambda f: _has_uscc(f) and bool(indicator_fields(f)) and _has_years(f),
    missing=_requiring(
        ("统一社会信用代码", _has_uscc),
        ("指标（如营业收入）", lambda f: bool(indicator_fields(f))),
        ("年度（或带年份的表头，如“2023年营业收入”）", _has_years),
    ),
    label=field_label,
    needs="“统一社会信用代码”“年度”和指标列（如“营业收入”），或带年份的指标列（如“2023年营业收入”）",
)
MONTHLY = Vocabulary(
    kind="monthly",
    match=_monthly_match,
    is_header=lambda f: _has_uscc(f) and "period" in f and bool(indicator_fields(f)),
    missing=_requiring(
        ("统一社会信用代码", _has_uscc),
        ("期间", lambda f: "period" in f),
        ("指标（如“本月营业收入”“营业收入累计”）", lambda f: bool(indicator_fields(f))),
    ),
    label=field_label,
    needs="“统一社会信用代码”“期间”和指标列（如“营业收入累计（千元）”）",
)
QUALIFICATIONS = Vocabulary(
    kind="qualifications",
    match=_qualification_match,
    is_header=lambda f: _has_uscc(f) and "kind" in f,
    missing=_requiring(
        ("统一社会信用代码", _has_uscc),
        ("资质", lambda f: "kind" in f),
        ("认定日期", lambda f: "recognised_on" in f),
    ),
    label=field_label,
    needs="“统一社会信用代码”“资质”“认定日期”列",
)
# The order a file's kind is recognised in: the most specific header first (an annual file also
# has the enterprise list's USCC and revenue columns).
KINDS: dict[str, Vocabulary] = {
    v.kind: v for v in (QUALIFICATIONS, MONTHLY, ANNUAL, ENTERPRISE_LIST)
}
KIND_LABELS = {
    "list": "企业名录",
    "annual": "年度数据",
    "monthly": "月度快报",
    "qualifications": "资质认定",
}


def vocabularies_for(kind: str | None) -> tuple[Vocabulary, ...]:
    """The kinds to try: the one named, or every kind in order."""
    if kind is None:
        return tuple(KINDS.values())
    if kind not in KINDS:
        raise ValueError(
            f"未知的文件类别“{kind}”（可用：{'、'.join(KINDS)}）/ unknown kind {kind!r}"
        )
    return (KINDS[kind],)


__all__ = [
    "ANNUAL",
    "KINDS",
    "MONTHLY",
    "QUALIFICATIONS",
    "IndicatorHeader",
    "field_label",
    "indicator_fields",
    "vocabularies_for",
]
