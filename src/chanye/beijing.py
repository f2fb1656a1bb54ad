"""Time as people in China read and type it: UTC is stored, Beijing time is shown and entered."""

from __future__ import annotations

import datetime as dt

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def years_later(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (earlier, when negative): 29 February falls on the 28th in a
    year without one. Validity periods, instalments and look-backs all count years so."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def aware(moment: dt.datetime) -> dt.datetime:
    """A stored time with its zone (SQLite hands back naive UTC datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_beijing(text: str) -> dt.datetime | None:
    """A Beijing date (and time) as typed in a form, as UTC; None when it is not one."""
    text = text.strip().replace(" ", "T")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.astimezone(dt.UTC)


def beijing_input(moment: dt.datetime) -> str:
    """A stored time as a ``datetime-local`` input value in Beijing time."""
    return aware(moment).astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def beijing_text(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if moment is None else aware(moment).astimezone(BEIJING).strftime(fmt)


def today_in_beijing() -> dt.date:
    """Today's date in Beijing: the day policies are valid on and forms mean (the server may run
    on UTC, eight hours behind)."""
    return dt.datetime.now(BEIJING).date()
