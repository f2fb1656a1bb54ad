"""News (新闻): articles in Markdown, in categories, newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.store.models import NewsArticle


def latest(session: Session, limit: int = 6) -> list[NewsArticle]:
    query = (
        select(NewsArticle)
        .where(NewsArticle.status == "published")
        .order_by(NewsArticle.published_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def seed_demo(session: Session) -> int:
    """Demo articles for `chanye demo` (only into an empty table); returns how many were added."""
    return 0
