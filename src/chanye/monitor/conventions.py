"""统计口径: the conventions by which statistics bureaus turn figures into the numbers a release
prints (docs/monitoring.md, "Conventions", gives each formula with its worked example).

- Releases are cumulative (1—N月累计); a month's own figure (当月) is the difference of two
  consecutive cumulative figures. January and February are released together (1—2月, because
  of the Spring Festival): there is no January point, and February's cumulative is the first.
- 同比 compares a period with the same period a year before. Computed from enterprise figures it
  is same-scope (同口径): only the enterprises that report in both periods count, as the National
  Bureau of Statistics computes it; the plain ratio of two published totals is not.
- An average over n years is geometric: 13.5% over two years is 6.5% a year.
- 拉动 (percentage points) is a part's increase over the whole's figure a year before; 贡献率 is
  its share of the whole's increase, so the parts' 拉动 add up to the whole's growth.
- 序时进度 is how far the year has gone: by time (N/12) or by the share of a year's figure that
  past years had reached by the same month (the seasonal share).

Every function takes and returns plain numbers (yuan, fractions: 0.075 for 7.5%) and gives None
where the figures do not decide (a missing or non-positive base): a number is never made up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

MONTHS = 12
FIRST_RELEASED_MONTH = 2  # 1—2月 together: February's cumulative is the first of the year


def released_months() -> tuple[int, ...]:
    """The months a year's cumulative releases end on: 2 (1—2月), 3, … 12."""
    return tuple(range(FIRST_RELEASED_MONTH, MONTHS + 1))


def month_values(cumulative: Mapping[int, float]) -> dict[int, float]:
    """当月 from 1—N月累计, keyed by month. February's is the 1—2月 figure (the two months
    together); a month whose previous cumulative figure is missing has none."""
    found: dict[int, float] = {}
    for month, value in sorted(cumulative.items()):
        if month == FIRST_RELEASED_MONTH:
            found[month] = value
        elif month - 1 in cumulative:
            found[month] = value - cumulative[month - 1]
    return found


def growth(current: float | None, before: float | None) -> float | None:
    """Growth of ``current`` over ``before`` (同比 when ``before`` is a year earlier); None
    when either is missing or the base is not positive (a growth rate over a loss means
    nothing)."""
    if current is None or before is None or before <= 0:
        return None
    return current / before - 1


def same_scope_growth(pairs: Iterable[tuple[float | None, float | None]]) -> float | None:
    """同口径同比 from each enterprise's (current, year before) figures: only those with both
    count, so an enterprise entering or leaving the statistics does not move the rate."""
    now = before = 0.0
    for current, earlier in pairs:
        if current is not None and earlier is not None:
            now += current
            before += earlier
    return growth(now, before) if before > 0 else None


def average_growth(total_growth: float, years: int) -> float:
    """The yearly rate that compounds to ``total_growth`` over ``years`` (geometric)."""
    if years <= 0:
        raise ValueError("years must be at least 1")
    return float((1 + total_growth) ** (1 / years) - 1)


def compound_growth(first: float | None, last: float | None, years: int) -> float | None:
    """The yearly rate from ``first`` to ``last``, ``years`` apart (年均增速)."""
    total = growth(last, first)
    return None if total is None or years <= 0 else average_growth(total, years)


def pull(part_now: float, part_before: float, whole_before: float) -> float | None:
    """拉动, in percentage points: the part's increase over the whole's figure a year before."""
    if whole_before <= 0:
        return None
    return (part_now - part_before) / whole_before * 100


def contribution(
    part_now: float, part_before: float, whole_now: float, whole_before: float
) -> float | None:
    """贡献率: the part's share of the whole's increase (a fraction; 拉动 ÷ the whole's growth)."""
    increase = whole_now - whole_before
    if increase == 0:
        return None
    return (part_now - part_before) / increase


def time_progress(month: int) -> float:
    """序时进度 by time: the share of the year gone by the end of ``month``."""
    if not 1 <= month <= MONTHS:
        raise ValueError(f"month must be 1–12, not {month}")
    return month / MONTHS


def seasonal_share(years: Sequence[tuple[float | None, float | None]]) -> float | None:
    """The share of a year's figure reached by the same month, averaged over past years: each
    pair is one year's (1—N月累计, full year). Years missing either figure are left out."""
    shares = [c / y for c, y in years if c is not None and y is not None and y > 0]
    return sum(shares) / len(shares) if shares else None


def full_year_estimate(cumulative: float, share: float | None) -> float | None:
    """This year's figure estimated from 1—N月累计 and the seasonal share of month N."""
    return None if share is None or share <= 0 else cumulative / share


def required_growth(
    target_value: float, target_year: int, latest_value: float | None, latest_year: int
) -> float | None:
    """The yearly growth that takes ``latest_value`` to the target by ``target_year``."""
    years = target_year - latest_year
    if latest_value is None or latest_value <= 0 or years <= 0:
        return None
    return float((target_value / latest_value) ** (1 / years) - 1)


def projected(value: float, yearly_growth: float, years: int) -> float:
    """``value`` grown at ``yearly_growth`` for ``years`` (the projection at the target year)."""
    return float(value * (1 + yearly_growth) ** years)
