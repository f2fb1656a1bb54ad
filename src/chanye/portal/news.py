"""News (新闻): articles in Markdown, in categories, newest first.

An article is a draft or published; a published article whose ``published_at`` lies in the
future is shown from that moment on. Drafts and scheduled articles are for news writers only (the
web layer decides who that is). Every create and update is audited with the state before and
after; the body is recorded by length and digest, not in full.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from chanye.beijing import BEIJING, aware, beijing_input, parse_beijing
from chanye.portal.news_seed import ARTICLES
from chanye.problems import Problem, RefusedError
from chanye.store.audit import Actor, record
from chanye.store.models import NewsArticle, utcnow

DRAFT, PUBLISHED = "draft", "published"
STATUSES = {DRAFT: "草稿", PUBLISHED: "已发布"}
CATEGORIES: dict[str, str] = {
    "association": "协会动态",
    "industry": "产业动态",
    "policy": "政策解读",
    "members": "会员风采",
    "notices": "通知公告",
}
LIMITS = {"title": 200, "slug": 80, "summary": 500, "body_markdown": 100_000}
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
RESERVED_SLUGS = frozenset({"new"})  # /news/new is the form, not an article
PAGE_SIZE = 10


def category_label(category: str) -> str:
    return CATEGORIES.get(category, category)


def _visible(now: dt.datetime) -> ColumnElement[bool]:
    return (NewsArticle.status == PUBLISHED) & (NewsArticle.published_at <= now)


def is_public(article: NewsArticle, now: dt.datetime | None = None) -> bool:
    """Whether anyone may read it: published, and its publication time has come."""
    return article.status == PUBLISHED and aware(article.published_at) <= (now or utcnow())


def latest(session: Session, limit: int = 6) -> list[NewsArticle]:
    query = (
        select(NewsArticle)
        .where(_visible(utcnow()))
        .order_by(NewsArticle.published_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewsPage:
    articles: list[NewsArticle]
    total: int
    page: int
    pages: int


def listing(
    session: Session,
    category: str | None = None,
    page: int = 1,
    *,
    with_unpublished: bool = False,
    page_size: int = PAGE_SIZE,
    now: dt.datetime | None = None,
) -> NewsPage:
    """One page of articles, newest first; ``with_unpublished`` adds drafts and scheduled ones."""
    conditions: list[ColumnElement[bool]] = []
    if not with_unpublished:
        conditions.append(_visible(now or utcnow()))
    if category:
        conditions.append(NewsArticle.category == category)
    total = int(
        session.scalar(select(func.count()).select_from(NewsArticle).where(*conditions)) or 0
    )
    pages = max(math.ceil(total / page_size), 1)
    page = min(max(page, 1), pages)
    query = (
        select(NewsArticle)
        .where(*conditions)
        .order_by(NewsArticle.published_at.desc(), NewsArticle.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return NewsPage(list(session.scalars(query)), total, page, pages)


def by_slug(session: Session, slug: str) -> NewsArticle | None:
    return session.scalars(select(NewsArticle).where(NewsArticle.slug == slug)).one_or_none()


# --- writing -------------------------------------------------------------------------------


class NewsRefusedError(RefusedError):
    """A change that breaks a rule; ``problems`` name the fields (forms show them beside it)."""


@dataclass(frozen=True)
class ArticleDraft:
    """What the form says; ``published_at`` is Beijing local time as typed, empty for now."""

    title: str
    category: str
    body_markdown: str
    summary: str = ""
    slug: str = ""
    status: str = PUBLISHED
    published_at: str = ""


def draft_of(article: NewsArticle) -> ArticleDraft:
    return ArticleDraft(
        article.title,
        article.category,
        article.body_markdown,
        article.summary,
        article.slug,
        article.status,
        beijing_input(article.published_at),
    )


NAMES = {
    "title": ("标题", "title"),
    "slug": ("网址标识", "slug"),
    "summary": ("摘要", "summary"),
    "body_markdown": ("正文", "body"),
}


def _check(
    session: Session, draft: ArticleDraft, article: NewsArticle | None, now: dt.datetime
) -> tuple[str, dt.datetime]:
    """Every problem of the draft at once (``NewsRefusedError``); else (slug or "", when)."""
    problems: list[Problem] = []
    for field in ("title", "body_markdown"):
        if not getattr(draft, field).strip():
            zh, en = NAMES[field]
            problems.append(Problem(field, f"请填写{zh}", f"{en} is required"))
    for field, limit in LIMITS.items():
        if len(getattr(draft, field).strip()) > limit:
            zh, en = NAMES[field]
            problems.append(
                Problem(
                    field, f"{zh}不能超过 {limit} 个字", f"{en} is longer than {limit} characters"
                )
            )
    if draft.category not in CATEGORIES:
        problems.append(
            Problem(
                "category",
                "请选择栏目（" + "、".join(CATEGORIES.values()) + "）",
                "category must be one of " + ", ".join(CATEGORIES),
            )
        )
    if draft.status not in STATUSES:
        problems.append(
            Problem("status", "状态只能是草稿或已发布", "status must be draft or published")
        )
    slug = draft.slug.strip().lower()
    if slug and len(slug) <= LIMITS["slug"]:
        problems += _slug_problems(session, slug, article)
    when = parse_beijing(draft.published_at) if draft.published_at.strip() else now
    if when is None:
        problems.append(
            Problem(
                "published_at",
                "发布时间格式不正确（北京时间，如 2025-02-06 09:30）",
                "published_at must be a date and time",
            )
        )
    if problems or when is None:
        raise NewsRefusedError(problems)
    return slug, when


def _slug_problems(session: Session, slug: str, article: NewsArticle | None) -> list[Problem]:
    if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
        return [
            Problem(
                "slug",
                "网址标识只能用小写字母、数字和连字符（-），且不能是 new",
                "slug: lowercase letters, digits and hyphens only, not 'new'",
            )
        ]
    holder = by_slug(session, slug)
    if holder is not None and (article is None or holder.id != article.id):
        return [
            Problem(
                "slug",
                f"网址标识 {slug} 已被另一篇文章使用",
                f"slug {slug} is taken by another article",
            )
        ]
    return []


def _generated_slug(session: Session, when: dt.datetime) -> str:
    """Titles are Chinese: the slug is the Beijing date and a number ("2025-02-06-2")."""
    day = when.astimezone(BEIJING).strftime("%Y-%m-%d")
    taken = set(session.scalars(select(NewsArticle.slug).where(NewsArticle.slug.like(f"{day}-%"))))
    number = 1
    while f"{day}-{number}" in taken:
        number += 1
    return f"{day}-{number}"


def _snapshot(article: NewsArticle) -> dict[str, Any]:
    body = article.body_markdown.encode()
    return {
        "title": article.title,
        "slug": article.slug,
        "category": article.category,
        "status": article.status,
        "published_at": aware(article.published_at).isoformat(),
        "summary": article.summary,
        "body_chars": len(article.body_markdown),
        "body_sha256": hashlib.sha256(body).hexdigest()[:16],
    }


def create_article(
    session: Session, draft: ArticleDraft, actor: Actor, now: dt.datetime | None = None
) -> NewsArticle:
    now = now or utcnow()
    slug, when = _check(session, draft, None, now)
    article = NewsArticle(
        slug=slug or _generated_slug(session, when),
        title=draft.title.strip(),
        category=draft.category,
        summary=draft.summary.strip(),
        body_markdown=draft.body_markdown.strip(),
        author=actor.name,
        status=draft.status,
        published_at=when,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    record(session, actor, "news.create", "news_article", str(article.id), after=_snapshot(article))
    return article


def update_article(
    session: Session,
    article: NewsArticle,
    draft: ArticleDraft,
    actor: Actor,
    now: dt.datetime | None = None,
) -> NewsArticle:
    now = now or utcnow()
    slug, when = _check(session, draft, article, now)
    before = _snapshot(article)
    if not draft.published_at.strip():
        when = aware(article.published_at)  # an empty field keeps the time it had
    article.title, article.category = draft.title.strip(), draft.category
    article.summary, article.body_markdown = draft.summary.strip(), draft.body_markdown.strip()
    article.status, article.published_at = draft.status, when
    article.slug = slug or article.slug
    article.updated_at = now
    session.flush()
    after = _snapshot(article)
    if after != before:
        record(
            session,
            actor,
            "news.update",
            "news_article",
            str(article.id),
            before=before,
            after=after,
        )
    return article


# --- demo ----------------------------------------------------------------------------------

DEMO_ACTOR = Actor(name="demo", role="admin")


def seed_demo(session: Session) -> int:
    """Demo articles for `chanye demo` (only into an empty table); returns how many were added."""
    if session.scalar(select(func.count()).select_from(NewsArticle)):
        return 0
    for article in ARTICLES:
        create_article(session, ArticleDraft(**article), DEMO_ACTOR)
    return len(ARTICLES)
