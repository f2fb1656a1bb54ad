"""Asking before a step that cannot be taken back: the step's form posts once without
``confirmed``, and gets a page stating what will happen, with the same form to post again
``confirmed=yes``. Works without JavaScript; nothing is done until the second post."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from chanye.web.templating import templates

CONFIRMED = "yes"
# The form field the confirmation page posts back; any step taking it asks first without it.
ConfirmedField = Annotated[str, Form(max_length=3)]


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says and posts back."""

    title: str  # 确认撤销 ...
    consequence: str  # one sentence: what will happen
    action: str  # the URL the step posts to
    button: str  # 确认撤销
    back: str  # where 取消 leads
    fields: dict[str, str] = field(default_factory=dict)  # posted back with the confirmation
    details: list[str] = field(default_factory=list)  # more lines under the sentence


def confirmed(value: str) -> bool:
    return value == CONFIRMED


def confirmation_page(
    request: Request, confirmation: Confirmation, active: str | None, status: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "confirm.html",
        {"active": active, "c": confirmation, "confirmed_value": CONFIRMED},
        status_code=status,
    )
