"""Migrations apply (and repeat) on SQLite and PostgreSQL, and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from chanye.store.database import engine_for
from chanye.store.migrate import (
    HEAD_REVISION,
    current_revision,
    downgrade,
    head_revision,
    recorded_revisions,
    upgrade,
    upgrade_if_behind,
)
from chanye.store.models import Base


def test_upgrade_creates_tables_and_is_safe_to_repeat(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision(database_url)
    tables = set(inspect(engine_for(database_url)).get_table_names())
    assert {"audit_log", "system_versions", "alembic_version"} <= tables


def test_models_and_migrations_agree(database_url: str) -> None:
    upgrade(database_url)
    with engine_for(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_base_and_back(database_url: str) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    assert current_revision(database_url) is None
    assert "audit_log" not in inspect(engine_for(database_url)).get_table_names()
    upgrade(database_url)
    assert current_revision(database_url) == head_revision(database_url)


def test_the_head_the_start_up_checks_is_alembics(database_url: str) -> None:
    """A new migration must move ``HEAD_REVISION``, or commands would skip it."""
    assert head_revision(database_url) == HEAD_REVISION


def test_upgrade_if_behind_migrates_only_a_database_behind_head(database_url: str) -> None:
    assert upgrade_if_behind(database_url) is True  # a new database: nothing recorded yet
    assert recorded_revisions(database_url) == [HEAD_REVISION]
    assert upgrade_if_behind(database_url) is False
    downgrade(database_url, "-1")
    assert upgrade_if_behind(database_url) is True
    assert current_revision(database_url) == head_revision(database_url)
