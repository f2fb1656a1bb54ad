"""Money is kept in yuan; people read it in 万元, 亿元 and 万亿元. Counts are read in 万 and 亿."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

_UNITS = ((1e12, "万亿元"), (1e8, "亿元"), (1e4, "万元"))
_COUNT_UNITS = ((1e8, "亿"), (1e4, "万"))


def _scaled(amount: float, units: tuple[tuple[float, str], ...], digits: int) -> str | None:
    """``amount`` in the largest of ``units`` it reaches (trailing zeros dropped), else None."""
    for scale, unit in units:
        if abs(amount) >= scale:
            value = f"{amount / scale:.{digits}f}".rstrip("0").rstrip(".")
            return f"{value}{unit}"
    return None


def format_yuan(amount: float | None, digits: int = 2) -> str:
    """``6.0e12`` → ``6万亿元``; ``5.0e11`` → ``5000亿元``; ``12345`` → ``1.23万元``."""
    if amount is None:
        return "—"
    return _scaled(amount, _UNITS, digits) or f"{amount:,.0f}元"


def format_percent(rate: float | None, digits: int = 1) -> str:
    return "—" if rate is None else f"{rate * 100:.{digits}f}%"


def format_count(count: int | None, digits: int = 2) -> str:
    """Counts as people write them: ``3_600_000`` → ``360万``; ``200_000`` → ``20万``;
    ``12_345`` → ``1.23万``; below ten thousand, every digit (``3000``)."""
    if count is None:
        return "—"
    return _scaled(count, _COUNT_UNITS, digits) or str(count)


_SCALES = {"万亿": 10**12, "亿": 10**8, "万": 10**4, "千": 10**3, "": 1}
_AMOUNT = re.compile(r"^([+-]?\d+(?:\.\d+)?)(万亿|亿|万|千|)元?$")
_PERCENT = re.compile(r"^([+-]?\d+(?:\.\d+)?)%$")


def parse_amount(text: str) -> float | None:
    """An amount as people write it, in yuan: ``2000万`` → 20000000.0, ``1.5亿元`` →
    150000000.0, ``500元`` → 500.0, ``２０００万`` (full-width) too; None when it is not one."""
    found = _AMOUNT.match(_plain_text(text))
    # Decimal, so that 0.35万 is 3500.0 and not 3499.9999999999995.
    return None if found is None else float(Decimal(found.group(1)) * _SCALES[found.group(2)])


def parse_percent(text: str) -> float | None:
    """A rate written as a percentage: ``20%`` or ``20％`` → 0.2; None when it is not one."""
    found = _PERCENT.match(_plain_text(text))
    return None if found is None else float(Decimal(found.group(1)) / 100)


def _plain_text(text: str) -> str:
    """Full-width digits and signs as ASCII, thousands separators and spaces dropped."""
    return unicodedata.normalize("NFKC", text).replace(",", "").replace(" ", "").strip()
