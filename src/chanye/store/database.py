"""Engines and sessions for the operational database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from chanye.store.sealing import remember_engine


@dataclass(frozen=True)
class PoolOptions:
    """How many connections an engine keeps and how long anything may wait (the settings
    ``db_pool_size``, ``db_max_overflow``, ``db_pool_timeout_seconds`` and
    ``db_statement_timeout_seconds``; docs/settings.md)."""

    size: int = 5
    max_overflow: int = 10
    timeout_seconds: float = 10.0
    # None: no limit on PostgreSQL and SQLite's 5-second wait for a lock (commands, migrations).
    statement_timeout_seconds: float | None = None


DEFAULT_POOL = PoolOptions()


def database_exists(url: str) -> bool:
    """False only for a SQLite file not created yet: reading must not create it as a side effect."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).exists()


# One engine per URL, pool options and process: engines hold the connection pools.
_ENGINES: dict[tuple[str, PoolOptions], Engine] = {}


def engine_for(url: str, pool: PoolOptions = DEFAULT_POOL) -> Engine:
    """The process's engine for ``url`` with these pool options, created on first use."""
    engine = _ENGINES.get((url, pool))
    if engine is None:
        engine = _ENGINES.setdefault((url, pool), _new_engine(url, pool))
    return engine


def dispose_engines(url: str) -> None:
    """Close every pooled connection to ``url`` and forget its engines (a database about to be
    dropped must not keep idle connections open on the server)."""
    for key in [key for key in _ENGINES if key[0] == url]:
        _ENGINES.pop(key).dispose()
    _session_factory.cache_clear()


def _new_engine(url: str, pool: PoolOptions) -> Engine:
    options: dict[str, object] = {}
    if not _in_memory(url):
        options = {
            "pool_size": pool.size,
            "max_overflow": pool.max_overflow,
            "pool_timeout": pool.timeout_seconds,
        }
    engine = create_engine(url, future=True, pool_pre_ping=True, **options)
    remember_engine(engine, url)
    limit = pool.statement_timeout_seconds
    milliseconds = None if limit is None else max(1, int(limit * 1000))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(milliseconds or 5000))
    elif engine.dialect.name == "postgresql" and milliseconds is not None:
        event.listen(engine, "connect", _postgresql_timeout(milliseconds))
    return engine


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        _owner_only(dbapi_connection)
        # WAL lets the web app read while the CLI writes; foreign keys are off by default in
        # SQLite. SQLite has no statement timeout: the same setting bounds the wait for a lock.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return on_connect


def _postgresql_timeout(statement_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Set per connection (not in the URL's options, which already carry e.g. a search_path).
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {statement_ms}")
        cursor.close()
        dbapi_connection.commit()

    return on_connect


def _owner_only(dbapi_connection: object) -> None:
    """The database file readable by its owner only; SQLite gives its WAL files the same mode,
    so this runs before journal_mode=WAL creates them."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    files = [row[2] for row in cursor.execute("PRAGMA database_list") if row[2]]
    cursor.close()
    for name in files:
        path = Path(name)
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


@contextmanager
def scratch_schema(server_url: str, prefix: str) -> Iterator[str]:
    """A URL of the PostgreSQL server at ``server_url`` whose search_path is a new, empty schema,
    dropped with everything in it when the block ends (tests and benchmarks)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server_url else "?"
    url = f"{server_url}{separator}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        dispose_engines(url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@cache
def _session_factory(url: str, pool: PoolOptions) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url, pool), expire_on_commit=False)


@contextmanager
def session_scope(url: str, pool: PoolOptions = DEFAULT_POOL) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back when it raises."""
    session = _session_factory(url, pool)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


IN_LIST_SIZE = 5000  # values per IN list


InValue = TypeVar("InValue", int, str)


def in_lists(values: Iterable[InValue]) -> list[list[InValue]]:
    """The distinct ``values``, sorted, in bounded parts, one IN list each: SQLite bounds a
    statement's parameters, and a run's pushes or a city's enterprises are more."""
    wanted = sorted(set(values))
    return [wanted[start : start + IN_LIST_SIZE] for start in range(0, len(wanted), IN_LIST_SIZE)]
