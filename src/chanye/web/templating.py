"""Jinja2 templates with the filters and globals every page uses."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import Request
from fastapi.templating import Jinja2Templates

from chanye.beijing import beijing_text
from chanye.config import Settings
from chanye.portal.accounts import display_name_of
from chanye.registry.fact_headers import KIND_LABELS as CONTENT_LABELS
from chanye.system.industry_codes import catalogue
from chanye.system.model import KIND_LABELS, STAGE_LABELS
from chanye.units import format_count, format_percent, format_yuan
from chanye.web.areas import navigation
from chanye.web.paths import TEMPLATES_DIR
from chanye.web.wording import chinese, formula_in_words


def _page_facts(request: Request) -> dict[str, Any]:
    """What every page may name: the year the registry's annual figures are for."""
    settings: Settings = request.app.state.settings
    return {"figures_year": settings.annual_figures_year}


templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[_page_facts])
templates.env.filters["yuan"] = format_yuan
templates.env.filters["percent"] = format_percent
templates.env.filters["people_count"] = format_count
templates.env.globals["navigation"] = navigation  # navigation(request): what the viewer may open
templates.env.globals["stage_labels"] = STAGE_LABELS
templates.env.globals["kind_labels"] = KIND_LABELS
templates.env.globals["content_labels"] = CONTENT_LABELS  # what a registry import brought
templates.env.globals["code_name"] = lambda code: catalogue().name(code)


templates.env.filters["beijing"] = beijing_text
templates.env.filters["person"] = display_name_of
templates.env.filters["formula"] = formula_in_words
templates.env.filters["zh"] = chinese
templates.env.filters["urldecode"] = unquote


def static(path: str) -> str:
    """Root-relative URL of a static file: works behind any proxy host and needs no request."""
    return f"/static/{path}"


templates.env.globals["static"] = static
