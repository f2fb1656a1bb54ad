"""Apply Alembic migrations programmatically (``chanye db upgrade``); safe to repeat."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from chanye.store.database import database_exists, engine_for


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("chanye.store") / "migrations"))
    # Alembic's config is an INI file underneath: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def upgrade_if_behind(url: str) -> bool:
    """Migrate to the newest schema unless the database is already there (every command starts
    with this: reading one row is much cheaper than Alembic's upgrade run). Returns whether it
    migrated."""
    if database_exists(url) and current_revision(url) == head_revision(url):
        return False
    upgrade(url)
    return True


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
