"""Where the web layer's packaged files are."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

WEB_DIR = Path(str(resources.files("chanye.web")))
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
