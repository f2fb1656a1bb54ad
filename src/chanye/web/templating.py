"""Jinja2 templates with the filters and globals every page uses."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi.templating import Jinja2Templates

from chanye.beijing import beijing_text
from chanye.system.industry_codes import catalogue
from chanye.system.model import KIND_LABELS, STAGE_LABELS
from chanye.units import format_count, format_percent, format_yuan
from chanye.web.navigation import NAVIGATION
from chanye.web.paths import TEMPLATES_DIR

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["yuan"] = format_yuan
templates.env.filters["percent"] = format_percent
templates.env.filters["people_count"] = format_count
templates.env.globals["navigation"] = NAVIGATION
templates.env.globals["stage_labels"] = STAGE_LABELS
templates.env.globals["kind_labels"] = KIND_LABELS
templates.env.globals["code_name"] = lambda code: catalogue().name(code)


templates.env.filters["beijing"] = beijing_text
templates.env.filters["urldecode"] = unquote


def static(path: str) -> str:
    """Root-relative URL of a static file: works behind any proxy host and needs no request."""
    return f"/static/{path}"


templates.env.globals["static"] = static
