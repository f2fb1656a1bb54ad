"""Amounts and rates as people write them, read into yuan and decimals."""

from __future__ import annotations

import pytest

from chanye.units import parse_amount, parse_percent


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("2000万", 20_000_000.0),
        ("1.5亿元", 150_000_000.0),
        ("0.35万", 3_500.0),
        ("500元", 500.0),
        ("２０００万", 20_000_000.0),
        ("2,000万元", 20_000_000.0),
        ("3千", 3_000.0),
        ("2万亿", 2e12),
        ("abc", None),
        ("20%", None),
        ("万元", None),
    ],
)
def test_amounts(text: str, yuan: float | None) -> None:
    assert parse_amount(text) == yuan


@pytest.mark.parametrize(
    ("text", "rate"), [("20%", 0.2), ("7％", 0.07), ("20.5%", 0.205), ("20", None), ("%", None)]
)
def test_rates(text: str, rate: float | None) -> None:
    assert parse_percent(text) == rate
