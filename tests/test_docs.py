"""Documentation keeps up with the code (in the Datasette manner): every CLI command and option,
every setting, every area and every route must be documented, or this fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from starlette.routing import Mount

from chanye.cli import app as cli_app
from chanye.config import Settings
from chanye.web.app import AREAS, create_app
from chanye.web.areas import Area

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(command: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Every leaf command with its full name (Typer bundles its own click, so duck-type). Groups
    are asked through click's ``list_commands``/``get_command``: the CLI builds them on demand."""
    if hasattr(command, "list_commands"):
        context = type(command).context_class(command)
        for name in command.list_commands(context):
            yield from _commands(command.get_command(context, name), f"{prefix} {name}")
    else:
        yield prefix, command


CLI_COMMANDS = list(_commands(typer.main.get_command(cli_app), "chanye"))


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^### |\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize(("name", "command"), CLI_COMMANDS, ids=[n for n, _ in CLI_COMMANDS])
def test_cli_command_and_options_are_documented(name: str, command: Any) -> None:
    section = _section((DOCS / "cli.md").read_text(encoding="utf-8"), name)
    assert section, f"docs/cli.md has no '### {name}' section"
    for param in command.params:
        if param.param_type_name == "option" and param.name != "help":
            for option in param.opts:
                assert f"`{option}`" in section, f"{name}: option {option} is not documented"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_setting_is_documented(field: str) -> None:
    assert f"`CHANYE_{field.upper()}`" in (DOCS / "settings.md").read_text(encoding="utf-8")


def _flatten(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's wrapper of include_router
        if included is not None:
            yield from _flatten(included.routes)
        else:
            yield route


def _routes() -> list[str]:
    app = create_app(Settings())
    found = []
    for route in _flatten(app.routes):
        if isinstance(route, Mount):
            found.append(f"GET {route.path}/...")
            continue
        for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
            found.append(f"{method} {getattr(route, 'path', '')}")
    return found


@pytest.mark.parametrize("route", _routes())
def test_route_is_documented(route: str) -> None:
    assert f"`{route}`" in (DOCS / "routes.md").read_text(encoding="utf-8")


def area_docs_problems(area: Area, docs: Path = DOCS) -> list[str]:
    """What is missing from the docs of ``area``: its line in areas.md, its docs page, and every
    route of it on that page (the throwaway-area test asks the same of an area of its own)."""
    listing = docs / "areas.md"
    problems = [] if f"| `{area.key}` |" in _text(listing) else [f"{listing.name}: no `{area.key}`"]
    page = docs / area.docs
    if not page.is_file():
        return [*problems, f"{area.key}: docs/{area.docs} does not exist"]
    text = page.read_text(encoding="utf-8")
    for route in area.routes():
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if f"`{method} {route.path}`" not in text:
                problems.append(f"{area.key}: {method} {route.path} is not in docs/{area.docs}")
    return problems


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@pytest.mark.parametrize("area", AREAS, ids=[a.key for a in AREAS])
def test_area_is_documented(area: Area) -> None:
    assert not area_docs_problems(area)


def test_contributing_lists_the_import_contracts_of_pyproject() -> None:
    """docs/contributing.md exists and its table of contracts is the one `make lint` checks."""
    import tomllib

    text = (DOCS / "contributing.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", text, re.M))
    config = tomllib.loads((DOCS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c["name"] for c in config["tool"]["importlinter"]["contracts"]}
    assert listed == contracts


TRACKER_NUMBER = re.compile(r"\bissue\s*#?\d+|开发任务|[(（]#\d+[)）]", re.I)


def _shipped_texts() -> Iterator[Path]:
    root = DOCS.parent
    yield root / "README.md"
    yield from DOCS.rglob("*.md")
    for folder in ("src", "benchmarks"):
        for path in (root / folder).rglob("*"):
            if path.suffix in {".py", ".html", ".md", ".yaml", ".toml", ".js", ".css"} and (
                "vendor" not in path.parts
            ):
                yield path


def test_no_tracker_numbers_in_code_pages_or_docs() -> None:
    found = [
        f"{path.relative_to(DOCS.parent)}: {match.group(0)!r}"
        for path in _shipped_texts()
        for match in TRACKER_NUMBER.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
