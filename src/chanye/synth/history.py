"""A synthetic city's past, as its bureaus would hand it over (``chanye synth city --history``).

Three files about the years before the list, each of a kind ``chanye registry import`` reads:
yearly figures 2020–2024 (one wide file, money in 千元), the 规上 firms' monthly 快报 for 2024 and
2025, and dated qualifications. The profile's ``[history]`` shapes them:

- each of the 15 clusters grows along its own path (``growth``) to the list's 2024 revenue
  exactly, and its 2025 快报 along ``ytd_growth``: a few clusters slip on purpose;
- nothing has a figure before the firm was founded (the first year counts from its founding);
- every list tag is held today by a dated recognition, some of them renewals; some firms hold a
  recognition that lapsed, and some entered 规上 and left it again.

Numbers are numpy arithmetic over firms × years; only qualification rows are built per firm.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from chanye.registry.indicators import INDICATOR_BY_ID, INDICATORS
from chanye.registry.schema import TAG_IDS
from chanye.synth.city import Profile, SynthCity, load_profile, scale_to_totals
from chanye.system.model import IndustrialSystem

UNIT = 100  # the city's money unit: 0.01 万元 = 100 yuan
FILES = {  # named as a bureau would name them: the names show on the imports page
    "annual": "年度数据2020-2024.csv",
    "monthly": "规上企业月度快报2024-2025.csv",
    "qualifications": "资质认定.csv",
}
MONEY_INDICATORS = frozenset(i.id for i in INDICATORS if i.unit == "money")
LEVELS = {
    "high_tech": "国家级",
    "innovative_sme": "省级",
    "specialized_sme": "省级",
    "little_giant": "国家级",
    "single_champion": "国家级",
    "chain_leader": "市级",
    "unicorn": "市级",
    "headquarters": "市级",
    "gazelle": "区级",
    "genai_filing": "国家级",
    "digital_pilot": "国家级",
    "smart_factory": "国家级",
}
QUALIFICATION_HEADERS = ("统一社会信用代码", "资质", "级别", "认定日期", "有效期至", "证书编号")


@dataclass(frozen=True)
class CityHistory:
    """The three files' tables and the truth behind them (for tests and the demo)."""

    annual: pa.Table
    monthly: pa.Table
    qualifications: pa.Table
    cluster_revenue_yuan: dict[str, dict[int, float]]  # cluster → year → revenue
    cluster_ytd_yuan: dict[str, dict[str, float]]  # cluster → YYYY-MM → its 规上 firms' 1—N月


@dataclass(frozen=True)
class _Past:
    """What the generator works from: the city's rows that an import accepts."""

    city: SynthCity
    profile: Profile
    keep: np.ndarray  # bool: not spoiled on purpose (a spoiled row is refused on import)
    cluster: np.ndarray  # index into ``clusters``; -1 outside the 15
    clusters: tuple[str, ...]
    years: np.ndarray  # first_year … last_year
    founded_year: np.ndarray
    settings: dict[str, Any]

    def has(self, tag: str) -> np.ndarray:
        holds: np.ndarray = (self.city.rows.tags & np.uint8(1 << TAG_IDS.index(tag))) > 0
        held: np.ndarray = holds & self.keep
        return held


def generate_history(
    city: SynthCity, seed: int, system: IndustrialSystem, profile: Profile | None = None
) -> CityHistory:
    """The past of ``city``; the same city and seed always give the same history."""
    past = _past(city, system, profile or load_profile())
    yearly, monthly, qualify = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(3)
    )
    revenue, cluster_truth = _yearly_revenue(yearly, past)
    months, ytd_truth = _monthly_revenue(monthly, past, revenue)
    return CityHistory(
        annual=_annual_table(yearly, past, revenue),
        monthly=_monthly_table(past, revenue, months),
        qualifications=_qualification_table(qualify, past, revenue, system),
        cluster_revenue_yuan=cluster_truth,
        cluster_ytd_yuan=ytd_truth,
    )


def _past(city: SynthCity, system: IndustrialSystem, profile: Profile) -> _Past:
    settings = profile.raw["history"]
    years = np.arange(int(settings["first_year"]), int(settings["last_year"]) + 1)
    clusters = tuple(c.id for c in system.clusters)
    index = {c: i for i, c in enumerate(clusters)}
    keep = np.ones(len(city.segment_of_row), dtype=bool)
    for rows in city.spoiled.values():
        keep[rows] = False
    for cluster_id in clusters:
        growth = profile.raw["clusters"].get(cluster_id, {}).get("growth", [])
        if len(growth) != len(years) - 1:
            raise ValueError(f"profile: clusters.{cluster_id}.growth needs {len(years) - 1} years")
    return _Past(
        city=city,
        profile=profile,
        keep=keep,
        cluster=np.array([index.get(c, -1) for c in city.intended_cluster], np.int64),
        clusters=clusters,
        years=years,
        founded_year=city.rows.founded.astype("datetime64[Y]").astype(np.int64) + 1970,
        settings=settings,
    )


# --- yearly figures -----------------------------------------------------------------------------


def _yearly_revenue(
    rng: np.random.Generator, past: _Past
) -> tuple[np.ndarray, dict[str, dict[int, float]]]:
    """Revenue (0.01 万元) per firm and year, walked back from the list's year: each firm shrinks
    by its cluster's growth give or take its own, and each cluster's firms are then scaled so the
    cluster follows its path exactly (new firms' revenue is growth the others did not need)."""
    rows, years = past.city.rows, past.years
    growth = np.array(
        [past.profile.raw["clusters"][c]["growth"] for c in past.clusters]
        + [[float(past.settings["growth"])] * (len(years) - 1)]
    )
    sigma = float(past.settings["firm_sigma"])
    group = np.where(past.cluster >= 0, past.cluster, len(past.clusters))
    inside = past.cluster >= 0
    revenue = np.zeros((len(rows.revenue), len(years)), np.int64)
    revenue[:, -1] = rows.revenue
    totals = np.zeros((len(past.clusters), len(years)), np.int64)
    totals[:, -1] = np.bincount(
        past.cluster[inside], weights=rows.revenue[inside], minlength=len(past.clusters)
    ).astype(np.int64)
    for col in range(len(years) - 2, -1, -1):
        rate = growth[group, col]
        firm = np.exp(np.log1p(rate) + sigma * rng.standard_normal(len(rate)) - sigma**2 / 2)
        back = revenue[:, col + 1] / firm * _share_of_year_open(rows.founded, int(years[col]))
        totals[:, col] = np.rint(totals[:, col + 1] / (1 + growth[: len(past.clusters), col]))
        revenue[:, col] = np.rint(back)
        revenue[inside, col] = scale_to_totals(back[inside], past.cluster[inside], totals[:, col])
    held = np.stack(
        [
            np.bincount(past.cluster[inside], weights=revenue[inside, j], minlength=len(totals))
            for j in range(len(years))
        ],
        axis=1,
    )
    truth = {
        c: {int(y): float(held[i, j]) * UNIT for j, y in enumerate(years)}
        for i, c in enumerate(past.clusters)
    }
    return revenue, truth


def _share_of_year_open(founded: np.ndarray, year: int) -> np.ndarray:
    """The part of ``year`` each firm existed in: 0 before its founding, 1 after."""
    start = np.datetime64(f"{year}-01-01", "D")
    end = np.datetime64(f"{year + 1}-01-01", "D")
    days = float((end - start) / np.timedelta64(1, "D"))
    open_days = (end - np.maximum(founded, start)) / np.timedelta64(1, "D")
    result: np.ndarray = np.clip(open_days / days, 0.0, 1.0)
    return result


def _lognormal(rng: np.random.Generator, spec: list[float], shape: tuple[int, ...]) -> np.ndarray:
    median, sigma = spec
    result: np.ndarray = median * np.exp(sigma * rng.standard_normal(shape))
    return result


def _yearly_figures(
    rng: np.random.Generator, past: _Past, revenue: np.ndarray
) -> dict[str, np.ndarray]:
    """Every yearly indicator per firm and year, in yuan (persons for employees); NaN where the
    firm reports none. Ratios are the firm's own, give or take a little each year."""
    rows, ratios = past.city.rows, past.settings["ratios"]
    n, years = revenue.shape
    money = revenue.astype(np.float64) * UNIT
    held = money > 0
    industrial = (rows.industrial & past.has("above_scale"))[:, None] & held
    above = past.has("above_scale")[:, None] & held
    exporter = np.asarray(rng.random(n) < float(ratios["export_share"]))

    def ratio(name: str) -> np.ndarray:
        firm = _lognormal(rng, ratios[name], (n, 1))
        return firm * np.exp(0.05 * rng.standard_normal((n, years)))

    rd_share = np.where(rows.revenue > 0, rows.rd / np.maximum(rows.revenue, 1), 0.0)[:, None]
    rd = money * rd_share * np.exp(0.1 * rng.standard_normal((n, years)))
    scale = np.sqrt(money / np.maximum(rows.revenue * UNIT, 1)[:, None])
    people = np.maximum(np.rint(rows.employees[:, None] * scale), 1)
    # The list is the latest year's snapshot: its figures and the file's last year agree.
    rd[:, -1], people[:, -1] = rows.rd * UNIT, rows.employees
    output = money * ratio("output_value")
    figures = {
        "revenue": money,
        "output_value": output,
        "value_added": output * ratio("value_added"),
        "profit": money * (ratio("profit") - 0.02),  # some firms make a loss
        "tax_paid": money * ratio("tax_paid"),
        "rd_expense": rd,
        "employees": people,
        "fixed_investment": money * ratio("fixed_investment"),
        "exports": money * ratio("exports"),
    }
    reports: dict[str, np.ndarray] = {
        "output_value": industrial,
        "value_added": industrial,
        "profit": above,
        "fixed_investment": above,
        "exports": industrial & exporter[:, None],
    }
    return {k: np.where(reports.get(k, held), v, np.nan) for k, v in figures.items()}


def _annual_table(rng: np.random.Generator, past: _Past, revenue: np.ndarray) -> pa.Table:
    """One row per firm with any revenue, headers ``2023年营业收入（千元）`` as a tax bureau
    exports them; a blank cell is a year the firm reported nothing for."""
    figures = _yearly_figures(rng, past, revenue)
    rows = np.flatnonzero(past.keep & (revenue > 0).any(axis=1))
    columns: dict[str, pa.Array] = {"统一社会信用代码": _usccs(past, rows)}
    for col, year in enumerate(past.years):
        for indicator, values in figures.items():
            label = INDICATOR_BY_ID[indicator].label
            cells = values[rows, col]
            if indicator in MONEY_INDICATORS:
                columns[f"{year}年{label}（千元）"] = _numbers(np.round(cells / 1000, 1))
            else:
                columns[f"{year}年{label}"] = _numbers(cells)
    return pa.table(columns)


def _numbers(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=np.isnan(values))


def _usccs(past: _Past, rows: np.ndarray) -> pa.Array:
    return past.city.table.column("统一社会信用代码").take(pa.array(rows)).combine_chunks()


# --- monthly 快报 --------------------------------------------------------------------------------


def _monthly_revenue(
    rng: np.random.Generator, past: _Past, revenue: np.ndarray
) -> tuple[dict[int, np.ndarray], dict[str, dict[str, float]]]:
    """Revenue (0.01 万元) of the 规上 firms per 快报 period (1—2月, 3月 … 12月). The first year
    splits the list's year by season; each later year follows the cluster's 1—N月 growth."""
    firms = np.flatnonzero(past.has("above_scale") & (revenue[:, -1] > 0))
    season = np.array(past.settings["season"], np.float64)
    sigma = float(past.settings["month_sigma"])
    noise = np.exp(sigma * rng.standard_normal((len(firms), len(season))))
    base = revenue[firms, -1]
    shares = season * noise
    first = np.floor(base[:, None] * shares / shares.sum(axis=1, keepdims=True)).astype(np.int64)
    first[:, -1] += base - first.sum(axis=1)
    group = np.where(past.cluster[firms] >= 0, past.cluster[firms], len(past.clusters))
    years = [int(y) for y in past.settings["monthly_years"]]
    months = {years[0]: first}
    for year in years[1:]:
        previous = months[year - 1]
        cumulative = _group_cumulative(previous, group, len(past.clusters) + 1)
        target = np.rint(cumulative * (1 + _ytd_growth(past, len(season))))
        own = np.diff(target, axis=1, prepend=0).clip(min=0).astype(np.int64)
        weight = previous * np.exp(sigma * rng.standard_normal(previous.shape))
        months[year] = np.column_stack(
            [scale_to_totals(weight[:, j], group, own[:, j]) for j in range(len(season))]
        )
    truth = _ytd_truth(past, months, firms, group)
    return {y: _spread(m, firms, len(revenue)) for y, m in months.items()}, truth


def _spread(values: np.ndarray, firms: np.ndarray, n: int) -> np.ndarray:
    full = np.zeros((n, values.shape[1]), np.int64)
    full[firms] = values
    return full


def _group_cumulative(months: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    sums = np.stack(
        [
            np.bincount(group, weights=months[:, j], minlength=groups)
            for j in range(months.shape[1])
        ],
        axis=1,
    )
    result: np.ndarray = np.cumsum(sums, axis=1)
    return result


def _ytd_growth(past: _Past, periods: int) -> np.ndarray:
    """1—N月 growth per group and period: a straight line between the profile's 1—2月 and
    1—12月 figures; firms outside the clusters grow at the profile's ``growth``."""
    ends = [past.profile.raw["clusters"][c]["ytd_growth"] for c in past.clusters]
    ends.append([float(past.settings["growth"])] * 2)
    return np.array([np.linspace(a, b, periods) for a, b in ends])


def _ytd_truth(
    past: _Past, months: dict[int, np.ndarray], firms: np.ndarray, group: np.ndarray
) -> dict[str, dict[str, float]]:
    truth: dict[str, dict[str, float]] = {c: {} for c in past.clusters}
    for year, values in months.items():
        cumulative = _group_cumulative(values, group, len(past.clusters) + 1)
        for i, cluster_id in enumerate(past.clusters):
            for j, month in enumerate(range(2, 13)):
                truth[cluster_id][f"{year}-{month:02d}"] = float(cumulative[i, j]) * UNIT
    return truth


def _monthly_table(past: _Past, revenue: np.ndarray, months: dict[int, np.ndarray]) -> pa.Table:
    """Long, one row per firm and period, as a statistics bureau's 快报 export: 本月 and 累计 in
    千元, 工业总产值 for industrial firms only."""
    firms = np.flatnonzero(past.has("above_scale") & (revenue[:, -1] > 0))
    usccs = _usccs(past, firms)
    output_share = np.where(past.city.rows.industrial[firms], 1.02, np.nan)
    parts = []
    for year, values in months.items():
        own = values[firms] * UNIT
        ytd = np.cumsum(own, axis=1)
        for j, month in enumerate(range(2, 13)):
            period = f"{year}年1-2月" if month == 2 else f"{year}年{month}月"
            parts.append(
                pa.table(
                    {
                        "统一社会信用代码": usccs,
                        "期间": pa.array([period] * len(firms)),
                        "本月营业收入（千元）": _numbers(np.round(own[:, j] / 1000, 1)),
                        "营业收入累计（千元）": _numbers(np.round(ytd[:, j] / 1000, 1)),
                        "本月工业总产值（千元）": _numbers(
                            np.round(own[:, j] * output_share / 1000, 1)
                        ),
                        "工业总产值累计（千元）": _numbers(
                            np.round(ytd[:, j] * output_share / 1000, 1)
                        ),
                    }
                )
            )
    return pa.concat_tables(parts)


# --- qualifications -----------------------------------------------------------------------------

Record = tuple[int, str, str, dt.date, dt.date | None, str]  # row, kind, level, from, until, ref


def _qualification_table(
    rng: np.random.Generator, past: _Past, revenue: np.ndarray, system: IndustrialSystem
) -> pa.Table:
    labels = {k.id: k.label for k in system.qualification_kinds}
    records = sorted(
        [
            *_above_scale_spells(rng, past, revenue),
            *_recognitions(rng, past),
            *_chosen_honours(rng, past, revenue),
        ],
        key=lambda r: (r[0], r[3], r[1]),
    )
    rows = np.array([r[0] for r in records], np.int64)
    return pa.table(
        dict(
            zip(
                QUALIFICATION_HEADERS,
                (
                    _usccs(past, rows),
                    pa.array([labels[r[1]] for r in records]),
                    pa.array([r[2] or None for r in records], pa.string()),
                    pa.array([r[3].isoformat() for r in records]),
                    pa.array([r[4].isoformat() if r[4] else None for r in records], pa.string()),
                    pa.array([r[5] or None for r in records], pa.string()),
                ),
                strict=True,
            )
        )
    )


def _above_scale_spells(
    rng: np.random.Generator, past: _Past, revenue: np.ndarray
) -> Iterator[Record]:
    """纳统 spells from the yearly revenue: a firm enters in the January after its first year at
    the threshold. A list 规上 firm holds it still; a firm that fell below left (退库) after its
    last year above. One threshold for every sector, a simplification of the bureaus' own."""
    above = revenue * UNIT >= past.profile.numbers("tags")["above_scale_yuan"]
    holders = past.has("above_scale")
    first_year = int(past.years[0])
    spell: tuple[dt.date, dt.date | None, str]
    for row in np.flatnonzero(past.keep & (above.any(axis=1) | holders)):
        years_above = past.years[above[row]]
        founded = int(past.founded_year[row])
        if holders[row]:
            entry = int(years_above[0]) + 1 if len(years_above) else founded + 1
            if len(years_above) and years_above[0] == first_year:  # before the figures begin
                low = founded + 1
                entry = int(rng.integers(low, first_year + 1)) if low <= first_year else low
            spell = (dt.date(entry, 1, 1), None, f"{entry}年入统")
        elif len(years_above) and years_above[-1] < past.years[-1]:
            entry, last = int(years_above[0]) + 1, int(years_above[-1])
            if entry > last:
                continue
            spell = (dt.date(entry, 1, 1), dt.date(last, 12, 31), "")
        else:
            continue
        # A 规上 firm is 四上 for as long (the 四上 are 规上工业, 限上, 资质建筑 and 规上服务业).
        for kind in ("above_scale", "four_above"):
            yield (int(row), kind, "", *spell)


def _recognitions(rng: np.random.Generator, past: _Past) -> Iterator[Record]:
    """Every list tag with a batch calendar gets its holder's latest recognition from a recent
    batch (one at least a year after founding where there is one), often a renewal of one three
    years earlier; a share of other firms held the kind once and let it lapse."""
    settings = past.settings["qualifications"]
    renewal, lapsed = float(settings["renewal_rate"]), float(settings["lapsed_rate"])
    founded = past.city.rows.founded
    for kind, dates in settings["batches"].items():
        batches = [dt.date.fromisoformat(d) for d in dates]
        holders = _holders(rng, past, kind, settings)
        serial = _serials()
        for row in np.flatnonzero(holders):
            born = founded[row].astype(dt.date)
            latest = _latest_batch(rng, batches, born)
            if latest is None:
                continue
            yield (
                int(row),
                kind,
                LEVELS.get(kind, ""),
                latest,
                None,
                _reference(kind, latest, serial),
            )
            earlier = _years_before(latest, 3)
            if kind in VALIDITY_KINDS and earlier >= born and rng.random() < renewal:
                yield (
                    int(row),
                    kind,
                    LEVELS.get(kind, ""),
                    earlier,
                    None,
                    _reference(kind, earlier, serial),
                )
        if kind in VALIDITY_KINDS:
            yield from _lapsed(rng, past, kind, holders, lapsed, batches, serial)


VALIDITY_KINDS = {
    "high_tech",
    "innovative_sme",
    "specialized_sme",
    "little_giant",
    "single_champion",
}


def _holders(
    rng: np.random.Generator, past: _Past, kind: str, settings: dict[str, Any]
) -> np.ndarray:
    if kind in TAG_IDS:
        return past.has(kind)
    if kind == "headquarters":  # 总部企业: the largest live firms of each cluster
        return _largest_per_cluster(past, int(settings["headquarters_per_cluster"]))
    # 创新型中小企业: every 专精特新 firm was one first (梯度培育), and more besides.
    specialised = past.has("specialized_sme")
    extra = round(float(settings["innovative_sme_rate"]) * specialised.sum()) - specialised.sum()
    pool = np.flatnonzero(_live_system_firms(past) & ~specialised & (past.city.rows.rd > 0))
    chosen = specialised.copy()
    chosen[rng.choice(pool, min(max(extra, 0), len(pool)), replace=False)] = True
    return chosen


def _largest_per_cluster(past: _Past, count: int) -> np.ndarray:
    rows = past.city.rows
    live = past.keep & ~rows.closed & (rows.revenue > 0) & (past.cluster >= 0)
    chosen = np.zeros(len(live), dtype=bool)
    for index in range(len(past.clusters)):
        mine = np.flatnonzero(live & (past.cluster == index))
        chosen[mine[np.argsort(-rows.revenue[mine], kind="stable")[:count]]] = True
    return chosen


def _live_system_firms(past: _Past) -> np.ndarray:
    rows = past.city.rows
    system = np.isin(past.city.intended_kind, ("cluster", "future"))
    live: np.ndarray = past.keep & ~rows.closed & (rows.revenue > 0) & system
    return live


def _latest_batch(
    rng: np.random.Generator, batches: list[dt.date], born: dt.date
) -> dt.date | None:
    settled = [b for b in batches if (b - born).days >= 365]
    usable = settled or [b for b in batches if b >= born]
    return usable[int(rng.integers(0, len(usable)))] if usable else None


def _years_before(day: dt.date, years: int) -> dt.date:
    return day.replace(year=day.year - years, day=min(day.day, 28))


def _lapsed(
    rng: np.random.Generator,
    past: _Past,
    kind: str,
    holders: np.ndarray,
    rate: float,
    batches: list[dt.date],
    serial: Callable[[], int],
) -> Iterator[Record]:
    """Firms that held ``kind`` from a batch four years before the recent ones, and not since."""
    pool = np.flatnonzero(_live_system_firms(past) & ~holders)
    count = min(round(rate * holders.sum()), len(pool))
    founded = past.city.rows.founded
    for row in rng.choice(pool, count, replace=False):
        day = _years_before(batches[int(rng.integers(0, len(batches)))], 4)
        if founded[row].astype(dt.date) <= day:
            yield int(row), kind, LEVELS.get(kind, ""), day, None, _reference(kind, day, serial)


def _serials() -> Callable[[], int]:
    counter = iter(range(1, 1_000_000))
    return lambda: next(counter)


def _reference(kind: str, day: dt.date, serial: Callable[[], int]) -> str:
    """Certificate or batch numbers in the style each kind is written with."""
    if kind == "high_tech":
        return f"GR{day.year}44{serial():06d}"
    if kind == "little_giant":
        return f"第{'一二三四五六七八九'[min(day.year - 2019, 8)]}批"
    if kind == "genai_filing":
        return f"Guangdong-Model{serial():03d}-{day:%Y%m%d}"
    return f"{day.year}年"


def _chosen_honours(rng: np.random.Generator, past: _Past, revenue: np.ndarray) -> Iterator[Record]:
    """Kinds no list tag carries: 上市 dates, 瞪羚 (the fastest growers), generative-AI filings
    of the ai cluster's firms, 数字领航 and 智能制造示范工厂 among industrial 规上 firms."""
    settings, rows = past.settings["qualifications"], past.city.rows
    for row in np.flatnonzero(past.has("listed")):
        start = max(
            rows.founded[row].astype(dt.date) + dt.timedelta(days=3 * 365), dt.date(1993, 1, 1)
        )
        span = max((dt.date(2024, 12, 31) - start).days, 1)
        yield (
            int(row),
            "listed",
            "",
            start + dt.timedelta(days=int(rng.integers(0, span))),
            None,
            "",
        )
    live = _live_system_firms(past)
    span = revenue[:, -4].astype(np.float64)
    growth = np.where(span >= 50_000, revenue[:, -1] / np.maximum(span, 1), 0.0)
    ai = live & (past.city.intended_cluster == "ai")
    industrial = live & rows.industrial & past.has("above_scale")
    picks = {
        "gazelle": (growth * live, "2025-04-18"),
        "genai_filing": (rows.rd * ai, None),
        "digital_pilot": (rows.revenue * industrial, "2024-11-08"),
        "smart_factory": (rows.revenue * industrial, "2024-12-20"),
    }
    serial = _serials()
    for kind, (score, on) in picks.items():
        for row in _top_rows(score, int(settings[kind])):
            day = dt.date.fromisoformat(on) if on else _filing_day(rng)
            if rows.founded[row].astype(dt.date) <= day:
                yield int(row), kind, LEVELS[kind], day, None, _reference(kind, day, serial)


def _top_rows(score: np.ndarray, count: int) -> np.ndarray:
    order = np.argsort(-score, kind="stable")[:count]
    top: np.ndarray = order[score[order] > 0]
    return top


def _filing_day(rng: np.random.Generator) -> dt.date:
    return dt.date(2024, 3, 1) + dt.timedelta(days=int(rng.integers(0, 600)))


# --- writing ------------------------------------------------------------------------------------


def write_history(history: CityHistory, directory: Path) -> dict[str, Path]:
    """The three files in ``directory`` (CSV, UTF-8), each whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, name in FILES.items():
        path = directory / name
        temporary = path.with_name(f".{name}.{os.getpid()}.partial")
        try:
            options = pa_csv.WriteOptions(quoting_style="needed")
            pa_csv.write_csv(getattr(history, kind), str(temporary), options)
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        written[kind] = path
    return written
