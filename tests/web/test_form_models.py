"""The long forms are form models (``chanye.web.forms``): a field over its length is refused with
the Chinese error page naming it, as before, and nothing is written."""

from __future__ import annotations

import inspect

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.store.models import Account, MembershipApplication, NewsArticle, Training
from chanye.web.routes import account, members, news
from tests.web.signin import anonymous_csrf, sign_in_as

LONG = "长" * 3000


@pytest.mark.parametrize(
    "handler",
    [account.register, members.apply, news.create_article, news.update_article],
    ids=lambda h: h.__name__,
)
def test_long_forms_take_one_model(handler: object) -> None:
    assert len(inspect.signature(handler).parameters) <= 8  # type: ignore[arg-type]


def _count(settings: Settings, model: type) -> int:
    with session_scope(settings.resolved_database_url) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_register_field_too_long(client: TestClient, settings: Settings) -> None:
    before = _count(settings, Account)
    token = anonymous_csrf(client)
    data = {"csrf_token": token, "username": "x" * 65, "email": "a@example.cn"}
    refused = client.post("/register", data=data)
    assert refused.status_code == 422 and "字段 username：内容过长" in refused.text
    assert _count(settings, Account) == before


def test_staff_forms_fields_too_long(client: TestClient, settings: Settings) -> None:
    sign_in_as(client, "analyst")
    refused = client.post("/news", data={"title": "标题", "summary": LONG})
    assert refused.status_code == 422 and "字段 summary：内容过长" in refused.text
    assert _count(settings, NewsArticle) == 0
    refused = client.post("/trainings", data={"title": "培训", "location": LONG})
    assert refused.status_code == 422 and "字段 location：内容过长" in refused.text
    assert _count(settings, Training) == 0


def test_membership_application_field_too_long(client: TestClient, settings: Settings) -> None:
    sign_in_as(client, "enterprise")
    refused = client.post(
        "/members/apply",
        data={"company_name": "测试公司", "introduction": LONG},
        files={"licence": ("执照.pdf", b"%PDF-1.4\n", "application/pdf")},
    )
    assert refused.status_code == 422 and "字段 introduction：内容过长" in refused.text
    assert _count(settings, MembershipApplication) == 0
