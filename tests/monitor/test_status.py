"""The status rule on hand-made series: on track, at risk, off track, too few years, a missing
year; the rule is data (a city's own file changes the lights) and is written in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from chanye.monitor.status import DEFAULT_RULE_FILE, load_rule, standing
from chanye.problems import FileRefusedError

RULE = load_rule()
TRILLION = 1e12


def _series(latest: float, growth: float, years: range) -> dict[int, float]:
    """Figures growing at ``growth`` a year, ending at ``latest`` in the last year."""
    last = years[-1]
    return {y: latest / (1 + growth) ** (last - y) for y in years}


def test_a_trend_above_the_required_growth_is_on_track() -> None:
    found = standing(_series(133.1, 0.10, range(2021, 2025)), 180.0, 2029, RULE)
    assert found.status == "on_track"
    assert found.trend_growth == pytest.approx(0.10)
    assert found.required_growth == pytest.approx((180 / 133.1) ** 0.2 - 1)
    assert found.projected_value == pytest.approx(133.1 * 1.1**5)
    assert "可达目标" in found.reasons[1]


def test_four_trillion_growing_7_5_percent_is_at_risk_of_missing_six_trillion() -> None:
    """The clusters: about 4万亿 in 2024 after about 7.5% a year; above 6万亿 by 2029 needs 8.4%."""
    found = standing(_series(4 * TRILLION, 0.075, range(2021, 2025)), 6 * TRILLION, 2029, RULE)
    assert found.status == "at_risk"
    assert found.reasons[0] == "近3年年均增长7.5%，低于实现目标所需的年均8.4%（差0.9个百分点）"
    assert found.reasons[1].startswith("按此趋势2029年约5.74万亿元，距目标6万亿元尚差")


def test_a_trend_far_below_is_off_track() -> None:
    found = standing(_series(4 * TRILLION, 0.03, range(2020, 2025)), 6 * TRILLION, 2029, RULE)
    assert found.status == "off_track"
    assert found.trend_growth == pytest.approx(0.03)  # the last three years, not all five


def test_too_few_years_is_no_data_and_says_so() -> None:
    found = standing({2024: 100.0}, 200.0, 2029, RULE)
    assert found.status == "no_data"
    assert found.trend_growth is None and found.projected_value is None
    assert "少于 2 年" in found.reasons[0]
    gap = standing({2018: 80.0, 2024: 100.0}, 200.0, 2029, RULE)  # nothing within three years
    assert gap.status == "no_data" and "已知年度不足两个" in gap.reasons[0]


def test_a_missing_year_spans_the_years_that_are_known() -> None:
    """2022 not known: the trend runs from 2021 to 2024, three years."""
    found = standing({2021: 100.0, 2023: 118.0, 2024: 133.1}, 150.0, 2029, RULE)
    assert found.trend_growth == pytest.approx(0.10)


def test_a_citys_own_rule_changes_the_lights_and_is_printed_in_words(tmp_path: Path) -> None:
    strict = tmp_path / "rule.toml"
    strict.write_text(
        DEFAULT_RULE_FILE.read_text(encoding="utf-8").replace(
            "at_risk_margin = 0.02", "at_risk_margin = 0.005"
        ),
        encoding="utf-8",
    )
    series = _series(4 * TRILLION, 0.075, range(2021, 2025))
    assert standing(series, 6 * TRILLION, 2029, load_rule(strict)).status == "off_track"
    assert "低于所需不超过2个百分点为“存在风险”" in RULE.describe()
    assert "不超过0.5个百分点" in load_rule(strict).describe()


def test_a_bad_rule_file_is_refused_naming_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "rule.toml"
    bad.write_text(
        DEFAULT_RULE_FILE.read_text(encoding="utf-8").replace("trend_years = 3", "trend_years = 0"),
        encoding="utf-8",
    )
    with pytest.raises(FileRefusedError) as refused:
        load_rule(bad)
    assert str(bad) in str(refused.value) and "trend_years" in str(refused.value)
    broken = tmp_path / "broken.toml"
    broken.write_text("trend_years = = 3", encoding="utf-8")
    with pytest.raises(FileRefusedError, match="不是有效的 TOML"):
        load_rule(broken)


def test_every_field_of_the_rule_is_documented() -> None:
    from chanye.monitor.status import StatusRule

    text = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text("utf-8")
    for field in StatusRule.model_fields:
        assert f"| `{field}` |" in text, field
