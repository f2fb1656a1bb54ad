"""News pages through the app: the public list with category tabs and pages, articles rendered
safely, drafts only for writers, and writers creating and editing articles."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from chanye.config import Settings
from chanye.portal import news
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry, NewsArticle
from tests.web.signin import sign_in_as

EDITOR = Actor("editor", "analyst")


def add(settings: Settings, **kw: str) -> str:
    values = {
        "title": "广州召开高质量发展大会",
        "category": "industry",
        "body_markdown": "大会提出**产业第一、制造业立市**。",
        **kw,
    }
    with session_scope(settings.resolved_database_url) as db:
        return news.create_article(db, news.ArticleDraft(**values), EDITOR).slug


def form(**kw: str) -> dict[str, str]:
    return {
        "title": "协会召开会员大会",
        "category": "association",
        "summary": "一句话摘要",
        "body_markdown": "## 会议内容\n\n- 培训计划\n- 政策推送",
        "status": "published",
        "published_at": "",
        "slug": "",
        **kw,
    }


def test_list_tabs_pages_and_article(client: TestClient, settings: Settings) -> None:
    add(
        settings,
        title="五年冲刺6万亿元",
        category="policy",
        published_at="2025-02-08T10:00",
        slug="targets",
        summary="总规模超过6万亿元",
    )
    for n in range(11):
        add(settings, title=f"产业动态第{n}篇", published_at=f"2025-01-{n + 1:02d}T09:00")

    page = client.get("/news")
    assert page.status_code == 200
    assert page.text.index("五年冲刺6万亿元") < page.text.index("产业动态第10篇")
    assert "第 1 / 2 页（共 12 篇）" in page.text and 'href="/news?page=2"' in page.text
    assert "撰写文章" not in page.text  # not for visitors
    for name in news.CATEGORIES.values():
        assert name in page.text
    assert "产业动态第0篇" in client.get("/news?page=2").text

    policy = client.get("/news?category=policy")
    assert "五年冲刺6万亿元" in policy.text and "产业动态第" not in policy.text
    assert 'aria-current="page">政策解读' in policy.text
    assert "该栏目暂无新闻" in client.get("/news?category=members").text
    assert client.get("/news?category=nonsense").status_code == 200  # unknown: all categories

    article = client.get("/news/targets")
    assert article.status_code == 200
    assert "<strong>产业第一、制造业立市</strong>" in article.text
    assert "2025-02-08 10:00" in article.text and "政策解读" in article.text
    assert "编辑</a>" not in article.text
    assert client.get("/news/no-such").status_code == 404


def test_article_body_is_sanitised(client: TestClient, settings: Settings) -> None:
    slug = add(
        settings,
        body_markdown='<script>alert("x")</script>\n\n[点我](javascript:alert(1))'
        '\n\n<img src=x onerror=alert(1)>\n\n<iframe src="https://evil.example"></iframe>',
    )
    body = re.search(
        r'<div class="news-body" id="news-body">(.*?)</div>', client.get(f"/news/{slug}").text, re.S
    )
    assert body
    html = body.group(1)
    assert "<script" not in html and "<iframe" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert not re.search(r"<[^>]*\son\w+=", html)  # no event handler in any tag
    assert "&lt;script&gt;" in html  # shown as text


def test_drafts_and_scheduled_only_for_writers(client: TestClient, settings: Settings) -> None:
    draft = add(settings, title="内部草稿", status="draft", slug="internal-draft")
    later = add(settings, title="定时文章", published_at="2099-01-01T09:00", slug="later")
    assert client.get(f"/news/{draft}").status_code == 404
    assert client.get(f"/news/{later}").status_code == 404
    assert "内部草稿" not in client.get("/news").text

    sign_in_as(client, "member")
    assert client.get(f"/news/{draft}").status_code == 404

    sign_in_as(client, "analyst")
    listing = client.get("/news").text
    assert "内部草稿" in listing and "定时文章" in listing and "定时发布" in listing
    page = client.get(f"/news/{draft}")
    assert page.status_code == 200 and "草稿：只有编辑可见" in page.text
    assert f'href="/news/{draft}/edit"' in page.text


def test_writer_creates_and_edits_an_article(client: TestClient, settings: Settings) -> None:
    sign_in_as(client, "analyst")
    assert "撰写文章" in client.get("/news").text
    new = client.get("/news/new")
    assert new.status_code == 200 and 'action="/news"' in new.text

    refused = client.post("/news", data=form(title="", category="gossip", slug="No Good"))
    assert refused.status_code == 400
    assert "请填写标题" in refused.text and "title is required" not in refused.text
    assert "请选择栏目" in refused.text and "网址标识只能用" in refused.text
    assert "一句话摘要" in refused.text  # what was typed is kept

    created = client.post("/news", data=form(), follow_redirects=False)
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/news/\d{4}-\d{2}-\d{2}-1\?result=created", location)
    slug = location.split("/")[2].split("?")[0]
    shown = client.get(location)
    assert "文章已保存" in shown.text and "<h2>会议内容</h2>" in shown.text

    edit = client.get(f"/news/{slug}/edit")
    assert edit.status_code == 200 and "协会召开会员大会" in edit.text
    changed = client.post(
        f"/news/{slug}",
        data=form(title="会员大会圆满召开", slug="members-meeting", status="draft"),
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/news/members-meeting?result=updated"
    assert client.get(f"/news/{slug}").status_code == 404  # the old address is gone
    bad = client.post("/news/members-meeting", data=form(published_at="someday"))
    assert bad.status_code == 400 and "发布时间格式不正确" in bad.text and "must be" not in bad.text

    with session_scope(settings.resolved_database_url) as db:
        article = db.scalars(select(NewsArticle)).one()
        assert (article.title, article.status) == ("会员大会圆满召开", "draft")
        actions = db.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "news_article")
        ).all()
        assert list(actions) == ["news.create", "news.update"]


def test_who_may_write(client: TestClient, settings: Settings) -> None:
    slug = add(settings)
    anonymous = client.get("/news/new", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert client.get(f"/news/{slug}/edit", follow_redirects=False).status_code == 303

    sign_in_as(client, "member")
    assert client.get("/news/new").status_code == 403
    assert client.post("/news", data=form()).status_code == 403
    assert client.post(f"/news/{slug}", data=form()).status_code == 403

    sign_in_as(client, "admin")  # admins inherit the analysts' rights
    assert client.get(f"/news/{slug}/edit").status_code == 200


def test_home_page_shows_category_names(client: TestClient, settings: Settings) -> None:
    add(settings, title="五年冲刺6万亿元", category="policy")
    home = client.get("/")
    assert "五年冲刺6万亿元" in home.text
