"""The warning rules on hand-made series: N months below the required growth, a required growth
far above the trend, a slowdown (1—3月 after 1—2月), missing months; the rules are data."""

from __future__ import annotations

from pathlib import Path

import pytest

from chanye.monitor.early_warnings import (
    DEFAULT_WARNING_FILE,
    YearSoFar,
    load_warning_rules,
    warnings_for,
)
from chanye.problems import FileRefusedError

RULES = load_warning_rules()


def _texts(ytd: dict[int, float], required: float | None = 0.084, trend: float | None = 0.08):
    return [
        (w.rule, w.severity, w.text) for w in warnings_for(YearSoFar(ytd, required, trend), RULES)
    ]


def test_three_months_below_the_required_growth_turn_red() -> None:
    found = _texts({2: 0.06, 3: 0.065, 4: 0.07, 5: 0.07})
    assert found == [
        (
            "below_required",
            "red",
            "连续3个月累计增速低于所需增速（1—5月增长7.0%，所需8.4%）",
        )
    ]
    assert _texts({2: 0.06, 3: 0.09, 4: 0.07, 5: 0.07}) == []  # 1—3月 was above


def test_the_months_run_from_1_2_to_1_3_without_january() -> None:
    assert [r for r, _s, _t in _texts({2: 0.05, 3: 0.05, 4: 0.05})] == ["below_required"]
    assert _texts({2: 0.05, 3: 0.05}) == []  # two releases so far: not yet three months


def test_a_required_growth_far_above_the_trend_turns_amber() -> None:
    found = _texts({2: 0.09}, required=0.084, trend=0.06)
    assert found == [
        (
            "required_above_trend",
            "amber",
            "所需增速超过近三年平均增速2个百分点以上（所需8.4%，近三年平均6.0%）",
        )
    ]
    assert _texts({2: 0.09}, required=0.084, trend=0.075) == []
    assert _texts({2: 0.09}, required=None, trend=None) == []


def test_a_slowdown_names_both_periods_and_the_points() -> None:
    (slowing,) = _texts({2: 0.10, 3: 0.088}, required=0.05)
    assert slowing[2] == "1—3月增速比1—2月回落1.2个百分点（10.0% → 8.8%）"
    assert _texts({2: 0.10, 3: 0.095}, required=0.05) == []  # 0.5 points: below the rule's 1
    assert _texts({2: 0.10}, required=0.05) == []  # 1—2月 has nothing before it


def test_a_missing_month_decides_nothing() -> None:
    """1—4月 not released (or withdrawn for revision): neither rule guesses across the gap."""
    assert _texts({2: 0.05, 3: 0.05, 5: 0.03}) == []


def test_red_comes_first_and_a_citys_own_rules_change_what_is_raised(tmp_path: Path) -> None:
    both = warnings_for(YearSoFar({2: 0.05, 3: 0.05, 4: 0.04}, 0.084, 0.05), RULES)
    assert [w.severity for w in both] == ["red", "amber", "amber"]
    assert both[0].severity_label == "红色预警"
    own = tmp_path / "rules.toml"
    own.write_text(
        DEFAULT_WARNING_FILE.read_text(encoding="utf-8").replace("months = 3", "months = 4"),
        encoding="utf-8",
    )
    mine = warnings_for(
        YearSoFar({2: 0.05, 3: 0.05, 4: 0.04}, 0.084, 0.05), load_warning_rules(own)
    )
    assert "below_required" not in {w.rule for w in mine}


def test_a_rule_of_an_unknown_kind_is_refused_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rule]]\nid = "x"\nkind = "sideways"\nseverity = "red"\n', encoding="utf-8")
    with pytest.raises(FileRefusedError) as refused:
        load_warning_rules(bad)
    assert str(bad) in str(refused.value) and "sideways" in str(refused.value)


def test_every_kind_of_rule_is_documented() -> None:
    from chanye.monitor.early_warnings import _WATCH

    text = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text("utf-8")
    section = text.split("## Early warnings", 1)[1]
    for kind in _WATCH:
        assert f"| `{kind}` |" in section, kind
