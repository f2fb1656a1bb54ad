"""Alembic environment: runs migrations on the URL that chanye.store.migrate passes in."""

from __future__ import annotations

from alembic import context

from chanye.store.database import engine_for
from chanye.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by chanye.store.migrate.alembic_config"
    with engine_for(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("chanye runs migrations online only: use `chanye db upgrade`")
run_migrations_online()
