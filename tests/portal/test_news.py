"""News articles: checks naming the field, slugs, drafts and scheduled articles, categories and
pages, the audit trail of every change, and the demo articles."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.portal import news
from chanye.portal.news import ArticleDraft, NewsRefusedError
from chanye.store.audit import Actor, verify_chain
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import AuditEntry, NewsArticle

EDITOR = Actor("editor", "analyst", "10.0.0.8")
NOW = dt.datetime(2025, 3, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    upgrade(database_url)
    with session_scope(database_url) as session:
        yield session


def draft(**kw: str) -> ArticleDraft:
    values = {
        "title": "广州召开高质量发展大会",
        "category": "industry",
        "body_markdown": "正文**要点**",
        **kw,
    }
    return ArticleDraft(**values)


def audit_rows(db: Session, action: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(db.scalars(query))


def test_create_generates_a_dated_slug_and_audits(db: Session) -> None:
    first = news.create_article(db, draft(published_at="2025-02-06T09:30"), EDITOR, NOW)
    second = news.create_article(db, draft(published_at="2025-02-06 23:10"), EDITOR, NOW)
    assert (first.slug, second.slug) == ("2025-02-06-1", "2025-02-06-2")
    assert first.published_at.replace(tzinfo=dt.UTC) == dt.datetime(
        2025, 2, 6, 1, 30, tzinfo=dt.UTC
    )
    assert first.author == "editor" and first.status == "published"
    rows = audit_rows(db, "news.create")
    assert [r.object_id for r in rows] == [str(first.id), str(second.id)]
    after = json.loads(rows[0].after or "{}")
    assert after["slug"] == "2025-02-06-1" and after["category"] == "industry"
    assert after["body_chars"] == len("正文**要点**") and rows[0].client_addr == "10.0.0.8"
    assert verify_chain(db) == []


def test_every_problem_names_its_field(db: Session) -> None:
    with pytest.raises(NewsRefusedError) as refused:
        news.create_article(
            db,
            ArticleDraft(
                title=" ",
                category="gossip",
                body_markdown="",
                slug="Bad Slug!",
                status="hidden",
                published_at="明天",
            ),
            EDITOR,
        )
    fields = {p.field for p in refused.value.problems}
    assert fields == {"title", "body_markdown", "category", "slug", "status", "published_at"}
    messages = {p.field: f"{p.zh} / {p.en}" for p in refused.value.problems}
    assert messages["title"] == "请填写标题 / title is required"
    assert "协会动态" in messages["category"] and "category" in messages["category"]
    assert db.scalar(select(NewsArticle.id)) is None and audit_rows(db, "news.create") == []


def test_limits_and_reserved_or_taken_slugs(db: Session) -> None:
    with pytest.raises(NewsRefusedError) as refused:
        news.create_article(db, draft(title="长" * 201, summary="摘" * 501), EDITOR)
    assert {p.field for p in refused.value.problems} == {"title", "summary"}
    news.create_article(db, draft(slug="conference-2025"), EDITOR)
    for slug, fault in (("new", "不能是 new"), ("Conference-2025", "已被另一篇文章使用")):
        with pytest.raises(NewsRefusedError) as refused:
            news.create_article(db, draft(slug=slug), EDITOR)
        assert fault in refused.value.problems[0].zh


def test_update_records_before_and_after(db: Session) -> None:
    article = news.create_article(db, draft(slug="plan"), EDITOR, NOW)
    news.update_article(
        db,
        article,
        draft(title="五年冲刺6万亿元", slug="targets", category="policy", status="draft"),
        EDITOR,
    )
    assert (article.slug, article.category, article.status) == ("targets", "policy", "draft")
    assert article.published_at.replace(tzinfo=dt.UTC) == NOW  # an empty time keeps the old one
    (row,) = audit_rows(db, "news.update")
    before, after = json.loads(row.before or "{}"), json.loads(row.after or "{}")
    assert before["title"] == "广州召开高质量发展大会" and after["title"] == "五年冲刺6万亿元"
    assert (before["status"], after["status"]) == ("published", "draft")
    # Saving unchanged is not a change.
    news.update_article(db, article, news.draft_of(article), EDITOR)
    assert len(audit_rows(db, "news.update")) == 1
    # Keeping its own slug is fine; taking another article's is not.
    other = news.create_article(db, draft(slug="other"), EDITOR)
    with pytest.raises(NewsRefusedError):
        news.update_article(db, other, draft(slug="targets"), EDITOR)


def test_listing_hides_drafts_and_scheduled_and_pages(db: Session) -> None:
    for day in range(1, 13):
        news.create_article(
            db,
            draft(
                title=f"第{day}篇",
                published_at=f"2025-01-{day:02d}T10:00",
                category="policy" if day % 2 else "industry",
            ),
            EDITOR,
        )
    news.create_article(db, draft(title="草稿", status="draft"), EDITOR)
    news.create_article(db, draft(title="定时", published_at="2099-01-01T08:00"), EDITOR)

    public = news.listing(db, page=1, page_size=5)
    assert (public.total, public.pages) == (12, 3)
    assert [a.title for a in public.articles] == ["第12篇", "第11篇", "第10篇", "第9篇", "第8篇"]
    assert [a.title for a in news.listing(db, page=3, page_size=5).articles] == ["第2篇", "第1篇"]
    assert news.listing(db, page=99, page_size=5).page == 3  # past the end: the last page
    policy = news.listing(db, "policy")
    assert policy.total == 6 and {a.category for a in policy.articles} == {"policy"}
    assert news.listing(db, "members").total == 0

    everything = news.listing(db, with_unpublished=True, page_size=50)
    assert {"草稿", "定时"} <= {a.title for a in everything.articles}
    assert [a.title for a in news.latest(db, limit=2)] == ["第12篇", "第11篇"]
    scheduled = next(a for a in everything.articles if a.title == "定时")
    assert not news.is_public(scheduled)
    assert news.is_public(scheduled, now=dt.datetime(2099, 1, 1, 0, 0, tzinfo=dt.UTC))


def test_demo_articles_report_the_conference(db: Session) -> None:
    assert news.seed_demo(db) >= 4
    articles = news.listing(db, page_size=50).articles
    bodies = "\n".join(a.title + a.body_markdown for a in articles)
    for fact in (
        "12218",
        "产业第一、制造业立市",
        "两业融合",
        "6 万亿",
        "万亿级",
        "2029",
        "一个工作专班",
        "免申即享",
        "培训",
    ):
        assert fact in bodies, fact
    for article in articles:  # the reports (not the short notice) are 300–600 characters
        if article.category != "notices":
            assert 300 <= len(article.body_markdown) <= 650, article.slug
    assert {a.category for a in articles} <= set(news.CATEGORIES)
    assert news.seed_demo(db) == 0  # only into an empty table
    assert len(audit_rows(db, "news.create")) == len(articles)
