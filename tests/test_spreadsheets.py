"""Formula-safe cells: every export of chanye uses this one rule."""

from __future__ import annotations

import pytest

from chanye.spreadsheets import formula_safe


@pytest.mark.parametrize(
    "hostile", ["=1+1", '=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_a_cell_that_starts_like_a_formula_is_kept_as_text(hostile: str) -> None:
    assert formula_safe(hostile) == f"'{hostile}"


@pytest.mark.parametrize("harmless", ["", "a=b", "产业 =1", "1-2", "'=1", " =1"])
def test_other_text_is_left_as_it_is(harmless: str) -> None:
    assert formula_safe(harmless) == harmless
