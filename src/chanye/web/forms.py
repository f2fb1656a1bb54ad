"""The fields of the longer forms as FastAPI form models (``Annotated[Model, Form()]``).

A handler takes one model instead of ten or more ``Form`` parameters. Lengths are capped as
before: a longer value is refused by validation, whose error page names the field in Chinese
(``chanye.web.errors``). Other fields the browser sends (``csrf_token``, checked by
``chanye.web.auth.verify_csrf``) are ignored here. What the values mean is checked by the domain,
which lists every problem beside its field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chanye.portal import news, trainings
from chanye.portal.accounts import Registration
from chanye.portal.membership import ApplicationForm


class FormModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class RegistrationFields(FormModel):
    """用户注册: an enterprise's or an individual's account."""

    kind: Annotated[str, Field(max_length=20)] = "enterprise"
    username: Annotated[str, Field(max_length=64)] = ""
    display_name: Annotated[str, Field(max_length=120)] = ""
    contact_name: Annotated[str, Field(max_length=60)] = ""
    enterprise_uscc: Annotated[str, Field(max_length=30)] = ""
    mobile: Annotated[str, Field(max_length=20)] = ""
    email: Annotated[str, Field(max_length=254)] = ""
    password: Annotated[str, Field(max_length=256)] = ""
    password_again: Annotated[str, Field(max_length=256)] = ""
    captcha: Annotated[str, Field(max_length=16)] = ""

    def shown(self) -> dict[str, str]:
        """What the form shows again after a refusal (never the passwords or the captcha)."""
        return self.model_dump(exclude={"password", "password_again", "captcha"})

    def registration(self) -> Registration:
        enterprise = self.kind == "enterprise"
        return Registration(
            username=self.username.strip(),
            email=self.email.strip(),
            password=self.password,
            display_name=self.display_name,
            kind=self.kind,
            mobile=self.mobile.strip() or None,
            enterprise_uscc=(self.enterprise_uscc.strip().upper() or None) if enterprise else None,
            contact_name=self.contact_name or None,
        )


class ApplicationFields(FormModel):
    """入会申请: the text fields (the documents come as files beside them)."""

    company_name: Annotated[str, Field(max_length=200)] = ""
    enterprise_uscc: Annotated[str, Field(max_length=30)] = ""
    legal_representative: Annotated[str, Field(max_length=60)] = ""
    industry_id: Annotated[str, Field(max_length=64)] = ""
    district: Annotated[str, Field(max_length=20)] = ""
    address: Annotated[str, Field(max_length=300)] = ""
    contact_name: Annotated[str, Field(max_length=60)] = ""
    contact_mobile: Annotated[str, Field(max_length=20)] = ""
    contact_email: Annotated[str, Field(max_length=254)] = ""
    introduction: Annotated[str, Field(max_length=2000)] = ""

    def form(self) -> ApplicationForm:
        return ApplicationForm(**self.model_dump())


class ArticleFields(FormModel):
    """新闻: a new article or an article's changes."""

    title: Annotated[str, Field(max_length=400)] = ""
    slug: Annotated[str, Field(max_length=160)] = ""
    category: Annotated[str, Field(max_length=40)] = ""
    summary: Annotated[str, Field(max_length=1000)] = ""
    body_markdown: Annotated[str, Field(max_length=200_000)] = ""
    status: Annotated[str, Field(max_length=20)] = news.DRAFT
    published_at: Annotated[str, Field(max_length=40)] = ""

    def draft(self) -> news.ArticleDraft:
        return news.ArticleDraft(
            self.title,
            self.category,
            self.body_markdown,
            self.summary,
            self.slug,
            self.status,
            self.published_at,
        )


class TrainingFields(FormModel):
    """培训: a new training or a training's changes (Beijing local times as typed)."""

    title: Annotated[str, Field(max_length=400)] = ""
    summary: Annotated[str, Field(max_length=40000)] = ""
    location: Annotated[str, Field(max_length=400)] = ""
    organizer: Annotated[str, Field(max_length=240)] = ""
    starts_at: Annotated[str, Field(max_length=40)] = ""
    ends_at: Annotated[str, Field(max_length=40)] = ""
    capacity: Annotated[str, Field(max_length=10)] = ""
    status: Annotated[str, Field(max_length=20)] = trainings.OPEN

    def draft(self) -> trainings.TrainingDraft:
        return trainings.TrainingDraft(
            self.title,
            self.summary,
            self.location,
            self.organizer,
            self.starts_at,
            self.ends_at,
            self.capacity,
            self.status,
        )
