"""The filters pages write numbers, formulas, people and messages with."""

from __future__ import annotations

import datetime as dt

from chanye.portal.accounts import display_name_of
from chanye.units import format_count
from chanye.web.templating import templates
from chanye.web.wording import chinese, formula_in_words


def render(source: str, **values: object) -> str:
    return templates.env.from_string(source).render(**values)


def test_counts_are_written_as_people_write_them() -> None:
    assert render("{{ 3600000 | people_count }}户") == "360万户"
    assert render("{{ n | people_count }}家", n=200_000) == "20万家"
    assert format_count(12_345) == "1.23万" and format_count(3000) == "3000"
    assert format_count(250_000_000) == "2.5亿" and format_count(None) == "—"


def test_times_are_beijing_time() -> None:
    stored = dt.datetime(2026, 11, 30, 17, 5)  # naive UTC, as SQLite hands it back
    assert render("{{ t | beijing }}", t=stored) == "2026-12-01 01:05"


def test_only_the_chinese_part_of_a_message_is_shown() -> None:
    assert chinese("文件超过 20 MB 上限 / file larger than the limit") == "文件超过 20 MB 上限"
    assert (
        chinese("政策 x 没有参数 y（已有：a）/ unknown parameter") == "政策 x 没有参数 y（已有：a）"
    )
    assert (
        chinese("第 1 / 2 页") == "第 1 / 2 页" and chinese("链长 / 牵头部门") == "链长 / 牵头部门"
    )


def test_formulas_and_actors_in_words() -> None:
    assert (
        formula_in_words("min(营业收入 * 0.005, 2,000,000.00)")
        == "取较小值(营业收入 * 0.005, 2,000,000.00)"
    )
    assert render("{{ 'cli' | person }}") == "平台管理员（后台操作）"
    assert display_name_of("li", {"li": "李明"}) == "李明"
