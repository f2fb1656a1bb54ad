"""Every page as each role sees it, on the demo city: Chinese only (no English outside the names of
formats and products), no raw industry ids, no command-line hints, no UTC, no tracker numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chanye.beijing import beijing_text
from chanye.config import Settings
from chanye.portal import emails
from chanye.portal.roles import STAFF_ROLES
from chanye.store.database import session_scope
from chanye.store.models import (
    MembershipApplication,
    NewsArticle,
    PolicyVersion,
    RegistryChange,
    Training,
)
from chanye.system.loader import load_default_system
from chanye.web.app import create_app
from tests.portal.test_documents import PDF
from tests.registry.factory import row, uscc
from tests.web.signin import make_account, sign_in
from tests.web.test_access_matrix import app_routes
from tests.web.test_members_pages import apply
from tests.web.test_registry_pages import _import

# Names of formats, products and standards that people read as they are.
FORMATS = (
    "Excel",
    "CSV",
    "XLSX",
    "Parquet",
    "YAML",
    "PDF",
    "PNG",
    "JPG",
    "HTML",
    "Markdown",
    "MB",
    "KB",
    "GB",
)  # file formats and units
TERMS = (
    "AI",
    "BIM",
    "EDA",
    "LED",
    "Micro",
    "API",
    "App",
    "Google",
    "Microsoft",
    "Authenticator",
)  # industry terms and products written in Latin letters in Chinese text
# ... and the platform's name, as the authenticator app shows it.
ALLOWED_WORDS = frozenset((*FORMATS, *TERMS, "chanye"))
ROLES = (
    "public",
    "individual",
    "enterprise",
    "member",
    "analyst",
    "chain_leader",
    "investment",
    "policy_office",
    "admin",
)
SCOPE = "icv-nev"
# Raw-data pages: files, JSON, images, calendars, the API documentation.
SKIPPED = re.compile(r"^/(api/|openapi|docs|static|healthz|captcha|testing/)|\.(xlsx|csv|ics|png)$")
ENGLISH = re.compile(r"(?<![A-Za-z0-9_.@/-])[A-Za-z]{2,}(?![A-Za-z0-9_@-])")
CLI_HINT = re.compile(r"chanye [a-z]")
VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


class _Visible(HTMLParser):
    """The text a person sees: element text and the attributes browsers show."""

    def __init__(self, rules_shown: bool) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.rules_shown = rules_shown
        self._hidden = 0
        self._hiding: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown_as_is = any(name == "data-verbatim" for name, _ in attrs)
        if (
            tag in ("script", "style", "template")
            or shown_as_is
            or (self.rules_shown and _verbatim(attrs))
        ):
            self._hidden += 1
            self._hiding.append(tag)
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if self._hiding and tag == self._hiding[-1]:
            self._hiding.pop()
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _verbatim(attrs: list[tuple[str, str | None]]) -> bool:
    """Policy rules as written (``data-rule``) and audit records as stored (``data-record``)."""
    names = {name for name, _ in attrs}
    return "data-rule" in names or "data-record" in names


def visible_text(html: str, rules_shown: bool = False) -> str:
    """``rules_shown``: skip policy rules as written (``data-rule``), which staff who analyse and
    write policies read in their own notation, and audit records as stored (``data-record``, for
    administrators); no one else is shown either. Key material typed in as it is (``data-verbatim``,
    such as a TOTP secret, which may happen to be all letters) is skipped for everyone."""
    parser = _Visible(rules_shown)
    parser.feed(html)
    return " ".join(parser.parts)


def faults(text: str, industry_ids: set[str]) -> list[str]:
    """What a page must not show people."""
    words = [w for w in ENGLISH.findall(text) if w not in ALLOWED_WORDS and w != "UTC"]
    found = [f"English “{w}”" for w in words]
    found += [f"command “{m}…”" for m in CLI_HINT.findall(text)]
    found += ["UTC"] if re.search(r"(?<![A-Za-z])UTC(?![A-Za-z])", text) else []
    found += [
        f"industry id “{i}”" for i in industry_ids if re.search(rf"(?<![\w-]){i}(?![\w-])", text)
    ]
    found += [f"tracker number “{m}”" for m in re.findall(r"#\d+", text)]
    return found


@pytest.fixture(scope="module")
def demo(live_data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=live_data_dir, warm_up=False)
    with TestClient(create_app(settings), base_url="https://testserver.local") as client:
        yield client


def _path_values(client: TestClient) -> dict[str, str]:
    """A real value for each path parameter, from the demo's data."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    values: dict[str, str] = {"industry_id": SCOPE, "tier": "1"}
    with session_scope(settings.resolved_database_url) as db:
        version = db.scalars(
            select(PolicyVersion).where(PolicyVersion.status == "published")
        ).first()
        if version is not None:
            values.update(policy_id=version.policy_id, version_id=str(version.id))
        training = db.scalars(select(Training)).first()
        if training is not None:
            values["training_id"] = str(training.id)
        article = db.scalars(select(NewsArticle)).first()
        if article is not None:
            values["slug"] = article.slug
        application = db.scalars(select(MembershipApplication)).first()
        if application is not None:
            values["application_id"] = str(application.id)
        change = db.scalars(select(RegistryChange)).first()
        if change is not None:
            values["change_id"] = str(change.id)
    return values


def _pages(client: TestClient, uscc: str) -> list[str]:
    values = {**_path_values(client), "uscc": uscc}
    paths = []
    for method, route, _need in app_routes(client.app):
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "\0"), route)
        if method == "GET" and "\0" not in path and not SKIPPED.search(path):
            paths.append(path)
    assert len(paths) > 40
    assert "/workbench" in paths  # every role's workbench is read too
    return [*paths, "/registry/links?cluster=" + SCOPE, "/no-such-page", "/registry?page=x"]


def _an_enterprise_in_scope(client: TestClient) -> str:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    sign_in(client, make_account(settings, "analyst"))
    found = client.get("/api/registry/search", params={"cluster": SCOPE, "size": 1}).json()
    client.cookies.clear()
    return str(found["rows"][0]["uscc"])


def test_every_page_speaks_chinese_to_every_role(demo: TestClient) -> None:
    settings: Settings = demo.app.state.settings  # type: ignore[attr-defined]
    system = load_default_system()
    industry_ids = {ind.id for _, ind in system.industries()}
    uscc = _an_enterprise_in_scope(demo)
    pages = _pages(demo, uscc)
    problems: dict[str, list[str]] = {}
    for role in ROLES:
        demo.cookies.clear()
        own_names: tuple[str, ...] = ()
        if role != "public":
            extra = {"scope_clusters": [SCOPE]} if role == "chain_leader" else {}
            extra = {"enterprise_uscc": uscc} if role in ("enterprise", "member") else extra
            account = make_account(settings, role, **extra)  # type: ignore[arg-type]
            sign_in(demo, account)
            # The test's own account, named in the page header (names made up by the test).
            own_names = (account.display_name, account.username)
        for path in pages:
            answer = demo.get(path, follow_redirects=False)
            if "text/html" not in answer.headers.get("content-type", ""):
                continue
            text = visible_text(answer.text, rules_shown=role in STAFF_ROLES)
            for name in own_names:
                text = text.replace(name, "")
            found = faults(text, industry_ids)
            if found:
                problems[f"{role} {path} ({answer.status_code})"] = sorted(set(found))
    assert not problems, "\n".join(
        f"{page}: {', '.join(found)}" for page, found in problems.items()
    )


def test_the_check_finds_what_it_looks_for() -> None:
    """The checks above can fail: each fault is found in a sample page."""
    page = visible_text(
        '<p title="Not Found">请运行 <code>chanye registry override</code>：icv-nev，'
        "2026-12-01 08:00 UTC，开发任务 #5</p><script>var english = 1;</script>"
    )
    found = faults(page, {"icv-nev"})
    assert set(found) == {
        "English “Not”",
        "English “Found”",
        "English “registry”",
        "English “override”",
        "command “chanye r…”",
        "UTC",
        "industry id “icv-nev”",
        "tracker number “#5”",
    }
    assert (
        faults(visible_text("<p>上传 Excel 文件，统一社会信用代码 91440106MA5D0000X1</p>"), set())
        == []
    )


def test_error_pages_and_refusals_are_in_chinese(client: TestClient) -> None:
    missing = client.get("/no-such-page")
    assert (
        missing.status_code == 404
        and "页面不存在" in missing.text
        and "Not Found" not in missing.text
    )
    assert client.get("/api/no-such-thing").json()["detail"].startswith("您要找的页面不存在")
    sign_in(client, make_account(client.app.state.settings, "individual"))  # type: ignore[attr-defined]
    refused = client.get("/registry")
    assert refused.status_code == 403 and "无权访问此功能" in refused.text
    assert "may not" not in refused.text
    assert (
        client.get("/api/registry/search").json()["detail"] == "您的角色（个人用户）无权访问此功能"
    )


def test_mails_are_in_chinese() -> None:
    """Every mail the portal sends, subject and body, has no English besides its link."""
    link = "https://chanye.example.cn/x"
    written = [
        emails.confirm_email("李明", link),
        emails.reset_password("李明", link, 30),
        emails.password_changed("李明"),
        emails.membership_submitted("李明", "星河公司", 3, link),
        emails.membership_under_review("李明", "星河公司", 3, link),
        emails.membership_approved("李明", "星河公司", 3, link),
        emails.membership_rejected("李明", "星河公司", 3, "材料不全", link),
        emails.training_moved_up("李明", "培训", "12月7日", "报告厅", link),
        emails.training_cancelled("李明", "培训", "12月7日"),
        emails.policy_pushed("李明", "奖励", "工信局", 300000.0, ["条款 — 数据 — 满足"], link),
    ]
    for mail in written:
        text = f"{mail.subject}\n{mail.body}".replace(link, "")
        assert not ENGLISH.findall(text), mail.subject


def test_pages_after_an_import_and_an_application_speak_chinese(
    client: TestClient, tmp_path: Path
) -> None:
    """Pages the demo walk does not reach: an import's progress and history, an application."""
    industry_ids = {ind.id for _, ind in load_default_system().industries()}
    sign_in(client, make_account(client.app.state.settings, "analyst"))  # type: ignore[attr-defined]
    progress = _import(client, tmp_path, [row(1), row(2, **{"营业收入（万元）": "很多"})])
    assert not faults(visible_text(progress), industry_ids)
    history = client.get("/registry/imports").text
    assert not faults(visible_text(history), industry_ids)
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    with session_scope(settings.resolved_database_url) as db:
        change = db.scalars(select(RegistryChange)).one()
        started = beijing_text(change.started_at)
    assert "时间（北京时间）" in history and f"<td>{started}</td>" in history

    client.cookies.clear()
    sign_in(client, make_account(settings, "enterprise", enterprise_uscc=uscc(1)))
    submitted = apply(client, uscc(1), [("licence", ("营业执照.pdf", PDF, "application/pdf"))])
    assert submitted.status_code == 303
    application = client.get(submitted.headers["location"])
    assert application.status_code == 200
    assert not faults(visible_text(application.text), industry_ids)
