"""News (新闻): the public list with category tabs and the article pages; for news writers
(``news:write``) drafts, the create form and the edit form.

Thin: the rules are ``chanye.portal.news``'s; article bodies go through
``chanye.portal.markdown.render`` (sanitised) and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chanye.portal import news
from chanye.portal.markdown import render
from chanye.store.models import NewsArticle
from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep
from chanye.web.forms import ArticleFields
from chanye.web.templating import templates

router = APIRouter(prefix="/news", tags=["新闻"])
AREA = Area(
    "news",
    router,
    Permission("news", "read"),
    docs="routes.md",
    nav=NavEntry("新闻", "产业动态与政策新闻。"),
)

Read = Annotated[Viewer, requires("news", "read")]
Write = Annotated[Viewer, requires("news", "write")]

# Pages everywhere (the home page's news list too) show a category's Chinese name.
templates.env.globals["news_category"] = news.category_label

RESULTS = {"created": "文章已保存。", "updated": "修改已保存。"}


def show(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    context = {
        "active": "news",
        "categories": news.CATEGORIES,
        "statuses": news.STATUSES,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, context, status_code=status)


def _writer(viewer: Viewer) -> bool:
    return viewer.may("news", "write")


def _article(db: SessionDep, slug: str, viewer: Viewer) -> NewsArticle:
    """The article, or 404 — also for a draft or scheduled article shown to a non-writer."""
    article = news.by_slug(db, slug)
    if article is None or not (news.is_public(article) or _writer(viewer)):
        raise HTTPException(404, "没有这篇文章，或它尚未发布")
    return article


@router.get("", response_class=HTMLResponse, summary="News: category tabs, newest first")
def news_list(
    request: Request,
    db: SessionDep,
    viewer: Read,
    category: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    chosen = category if category in news.CATEGORIES else ""
    found = news.listing(db, chosen or None, page, with_unpublished=_writer(viewer))
    hidden = {a.id for a in found.articles if not news.is_public(a)}
    context = {"found": found, "category": chosen, "writer": _writer(viewer), "hidden": hidden}
    return show(request, "news/list.html", context)


@router.get("/new", response_class=HTMLResponse, summary="Form: a new article")
def new_article_page(request: Request, viewer: Write) -> HTMLResponse:
    draft = news.ArticleDraft("", "association", "", status=news.DRAFT)
    return show(request, "news/form.html", {"form": draft, "problems": {}, "article": None})


def _problems(refused: news.NewsRefusedError) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for problem in refused.problems:
        problems.setdefault(problem.field, []).append(f"{problem.zh} / {problem.en}")
    return problems


ArticleForm = Annotated[ArticleFields, Form()]


@router.post("", summary="Create an article (draft or published)")
def create_article(
    request: Request,
    db: SessionDep,
    viewer: Write,
    fields: ArticleForm,
) -> Response:
    draft = fields.draft()
    try:
        article = news.create_article(db, draft, viewer.actor)
    except news.NewsRefusedError as refused:
        context = {"form": draft, "problems": _problems(refused), "article": None}
        return show(request, "news/form.html", context, status=400)
    return RedirectResponse(f"/news/{article.slug}?result=created", status_code=303)


@router.get("/{slug}", response_class=HTMLResponse, summary="An article")
def article_page(
    request: Request, slug: str, db: SessionDep, viewer: Read, result: str = ""
) -> HTMLResponse:
    article = _article(db, slug, viewer)
    context = {
        "article": article,
        "body_html": render(article.body_markdown),
        "public": news.is_public(article),
        "writer": _writer(viewer),
        "message": RESULTS.get(result),
    }
    return show(request, "news/article.html", context)


@router.get("/{slug}/edit", response_class=HTMLResponse, summary="Form: edit")
def edit_article_page(request: Request, slug: str, db: SessionDep, viewer: Write) -> HTMLResponse:
    article = _article(db, slug, viewer)
    context = {"form": news.draft_of(article), "problems": {}, "article": article}
    return show(request, "news/form.html", context)


@router.post("/{slug}", summary="Save an article's changes")
def update_article(
    request: Request,
    slug: str,
    db: SessionDep,
    viewer: Write,
    fields: ArticleForm,  # its slug field is the new slug; the path's is the article's
) -> Response:
    article = _article(db, slug, viewer)
    draft = fields.draft()
    try:
        news.update_article(db, article, draft, viewer.actor)
    except news.NewsRefusedError as refused:
        context = {"form": draft, "problems": _problems(refused), "article": article}
        return show(request, "news/form.html", context, status=400)
    return RedirectResponse(f"/news/{article.slug}?result=updated", status_code=303)
