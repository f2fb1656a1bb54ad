"""The bureau conventions, each against a worked example: figures a published release printed
(or the issue's own), computed back from their inputs and rounded as the release rounds them."""

from __future__ import annotations

import pytest

from chanye.monitor.conventions import (
    average_growth,
    compound_growth,
    contribution,
    full_year_estimate,
    growth,
    month_values,
    projected,
    pull,
    released_months,
    required_growth,
    same_scope_growth,
    seasonal_share,
    time_progress,
)


def test_two_years_of_13_5_percent_are_6_5_percent_a_year() -> None:
    assert round(average_growth(0.135, 2) * 100, 1) == 6.5
    assert average_growth(0.135, 2) != pytest.approx(0.135 / 2)  # not the arithmetic mean
    with pytest.raises(ValueError):
        average_growth(0.1, 0)


def test_pull_and_contribution_of_a_release() -> None:
    """广西 2016年1—2月: 规上工业增加值增长7.0%; 小微企业拉动4.2个百分点，贡献率60.6%; 汽车制造业
    拉动1.4个百分点，贡献率19.7%. On a base of 100 a year before, each part's increase gives both
    printed figures, and the parts' 拉动 is their 贡献率 times the whole's growth."""
    before, now = 100.0, 107.0
    for increase, printed_pull, printed_share in ((4.24, 4.2, 0.606), (1.379, 1.4, 0.197)):
        part_before = 20.0
        points = pull(part_before + increase, part_before, before)
        share = contribution(part_before + increase, part_before, now, before)
        assert points is not None and share is not None
        assert round(points, 1) == printed_pull
        assert round(share, 3) == printed_share
        assert points == pytest.approx(share * growth(now, before) * 100)  # type: ignore[operator]


def test_the_parts_pulls_add_up_to_the_whole_growth() -> None:
    """广州 1—2月: 规上工业总产值2099.20亿元，增长15.0%; 三大支柱产业1077.96亿元，占51.35%，增长
    16.4%. The year before is worked back from the growth rates; the pillars' 拉动 and the rest's
    add up to the whole's 15.0%."""
    whole, pillars = 2099.20, 1077.96
    whole_before, pillars_before = whole / 1.150, pillars / 1.164
    assert round(pillars / whole * 100, 2) == 51.35
    assert round(growth(pillars, pillars_before) * 100, 1) == 16.4  # type: ignore[operator]
    inside = pull(pillars, pillars_before, whole_before)
    outside = pull(whole - pillars, whole_before - pillars_before, whole_before)
    assert inside is not None and outside is not None
    assert inside + outside == pytest.approx(15.0)
    assert round(inside, 1) == 8.3  # more than half of the growth from half of the output


def test_a_month_is_the_difference_of_two_cumulative_releases_and_january_has_none() -> None:
    cumulative = {2: 300.0, 3: 480.0, 4: 650.0, 6: 1000.0}  # 1—2月, 1—3月, 1—4月, 1—6月
    assert month_values(cumulative) == {2: 300.0, 3: 180.0, 4: 170.0}  # no 5: 6 has no month
    assert 1 not in released_months() and released_months()[0] == 2


def test_same_scope_growth_leaves_out_who_entered_or_left() -> None:
    """An enterprise entering the statistics this year (no figure a year before) lifts the
    ratio of the totals, not the same-scope rate."""
    firms = [(110.0, 100.0), (220.0, 200.0), (500.0, None), (None, 80.0)]
    assert same_scope_growth(firms) == pytest.approx(0.10)
    naive = growth(110 + 220 + 500, 100 + 200 + 80)
    assert naive is not None and naive > 1.0
    assert same_scope_growth([(5.0, None)]) is None


def test_growth_over_nothing_or_a_loss_is_not_a_number() -> None:
    assert growth(10.0, 0.0) is None
    assert growth(10.0, -5.0) is None
    assert growth(None, 5.0) is None
    assert compound_growth(100.0, 121.0, 2) == pytest.approx(0.10)
    assert compound_growth(None, 121.0, 2) is None


def test_progress_by_time_and_by_season() -> None:
    assert time_progress(3) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        time_progress(13)
    # Two past years reached 22% and 24% of their year by March; one is missing its year.
    share = seasonal_share([(22.0, 100.0), (48.0, 200.0), (30.0, None)])
    assert share == pytest.approx(0.23)
    assert full_year_estimate(4600.0, share) == pytest.approx(20000.0)
    assert full_year_estimate(4600.0, None) is None


def test_four_trillion_to_six_trillion_by_2029_needs_8_4_percent_a_year() -> None:
    """The 12218 system: the clusters from about 4万亿 (2024) to above 6万亿 by 2029."""
    needed = required_growth(6e12, 2029, 4e12, 2024)
    assert needed is not None and round(needed * 100, 1) == 8.4
    assert projected(4e12, needed, 5) == pytest.approx(6e12)
    assert required_growth(6e12, 2024, 4e12, 2024) is None
    assert required_growth(6e12, 2029, None, 2024) is None


def test_every_convention_is_in_the_documented_table() -> None:
    """docs/monitoring.md's table names each public function of the conventions, and no other."""
    import inspect
    import re
    from pathlib import Path

    from chanye.monitor import conventions

    text = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text("utf-8")
    section = text.split("## Conventions", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    public = {
        name
        for name, member in inspect.getmembers(conventions, inspect.isfunction)
        if member.__module__ == conventions.__name__ and not name.startswith("_")
    }
    assert documented == public
