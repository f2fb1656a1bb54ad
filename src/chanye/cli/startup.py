"""What every ``chanye`` command does before its own work, in one place.

Settings come from the environment; a command that reads or writes the operational database gets
it migrated to the newest schema first (and stored secrets sealed), so no command meets an old
schema. The consoles and the actor the CLI records in the audit log are shared by every command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from chanye.config import Settings
from chanye.problems import FileRefusedError
from chanye.root import start
from chanye.store.audit import Actor

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CLI_ACTOR = Actor(name="cli", role="admin")
"""Who the audit log records for a command (the CLI is run by the machine's administrator)."""


def settings() -> Settings:
    """Settings only: for commands that must not create or migrate anything (``system show``)."""
    return Settings()


def migrated_settings() -> Settings:
    """Settings for a command that uses the database: the data directory exists, the schema is
    current, stored secrets are sealed, and the composition root has made the domains'
    subscriptions (a re-classification re-matches the published policies, as in the web)."""
    return start(settings()).settings


def migrated_database_url() -> str:
    """The URL of the migrated operational database (commands that need nothing else)."""
    return migrated_settings().resolved_database_url


def unreachable_database(exc: OperationalError) -> None:
    """A database that cannot be reached is the user's to fix: say so, without a traceback."""
    url = make_url(settings().resolved_database_url).render_as_string(hide_password=True)
    err.print(f"无法连接数据库 / cannot use the database {url}: {exc.orig}", markup=False)
    sys.exit(1)


Loaded = TypeVar("Loaded")


def check_files(
    files: Sequence[Path],
    load: Callable[[Path], Loaded],
    summary: Callable[[Path, Loaded], str],
    together: Callable[[list[Loaded]], list[str]] | None = None,
) -> None:
    """``system check`` and ``policy check``: every problem of every file, each naming where
    (on stderr), a summary line for each good file; then what cannot hold across the good files
    (``together``); exit 1 when there is any problem."""
    failed, good = False, []
    for path in files:
        try:
            loaded = load(path)
        except FileRefusedError as exc:
            failed = True
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            continue
        good.append(loaded)
        out.print(summary(path, loaded), markup=False)
    for problem in together(good) if together is not None else []:
        failed = True
        err.print(problem, markup=False)
    if failed:
        raise typer.Exit(1)
