"""The layers hold (docs/contributing.md): the import-linter contracts in pyproject.toml pass, and
they name every package, so a new domain package is under them from its first commit."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "chanye"
ADAPTERS = {"chanye.web", "chanye.cli"}
# Above the domains: the two adapters and the composition root they both start from.
TOP = {*ADAPTERS, "chanye.root"}


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _packages_and_modules() -> set[str]:
    """Every top-level package and module of chanye, by its dotted name."""
    found = set()
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            found.add(f"chanye.{path.name}")
        elif path.suffix == ".py" and path.name != "__init__.py":
            found.add(f"chanye.{path.stem}")
    return found


def test_lint_imports_passes() -> None:
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert linter, "import-linter is a dev dependency: make install"
    done = subprocess.run(
        [linter, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_package_is_below_the_adapters() -> None:
    below = set(_contracts()["adapters-on-top"]["source_modules"])
    assert below == _packages_and_modules() - TOP


def test_the_store_imports_every_other_package_never() -> None:
    forbidden = set(_contracts()["store-at-the-bottom"]["forbidden_modules"])
    domains = {p for p in _packages_and_modules() if (PACKAGE / p.split(".")[1]).is_dir()}
    assert forbidden == domains - ADAPTERS - {"chanye.store"} | {"chanye.config"}


def test_a_cycle_breaks_the_contract(tmp_path: Path) -> None:
    """The cycle contract can fail: two modules importing each other are reported."""
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loop import b\n")
    (package / "b.py").write_text("from loop import a\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = loop\n\n[importlinter:contract:no-cycles]\n"
        "name = no cycles\ntype = acyclic_siblings\nancestors = loop\n"
    )
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert linter
    done = subprocess.run(
        [linter, "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout


def test_no_code_opts_out_of_the_formatter() -> None:
    """`ruff format` formats every line: no table is kept aligned by hand (docs/contributing.md)."""
    markers = ("# fmt: " + "skip", "# fmt: " + "off")
    found = [
        str(path.relative_to(ROOT))
        for folder in ("src", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if any(marker in path.read_text(encoding="utf-8") for marker in markers)
    ]
    assert not found, found
