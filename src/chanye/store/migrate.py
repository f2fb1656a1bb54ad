"""Apply Alembic migrations programmatically (``chanye db upgrade``); safe to repeat.

Every command starts by making sure the schema is current (``upgrade_if_behind``). When it is,
that costs one query: Alembic, a fifth of a second to import, is loaded only to migrate or to
read its scripts.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import column, inspect, select, table

from chanye.store.database import database_exists, engine_for

if TYPE_CHECKING:
    from alembic.config import Config

HEAD_REVISION = "0013"
"""The newest migration in ``migrations/versions`` (a test checks it is Alembic's head: a new
migration moves it)."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("chanye.store") / "migrations"))
    # Alembic's config is an INI file underneath: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def upgrade_if_behind(url: str) -> bool:
    """Migrate to the newest schema unless the database is already there. Returns whether
    Alembic ran."""
    if database_exists(url) and recorded_revisions(url) == [HEAD_REVISION]:
        return False
    upgrade(url)
    return True


def recorded_revisions(url: str) -> list[str]:
    """The revisions the database's ``alembic_version`` table records (none before the first
    migration), read without Alembic."""
    version = table("alembic_version", column("version_num"))
    with engine_for(url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return []
        return [str(v) for v in connection.execute(select(version.c.version_num)).scalars()]


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
