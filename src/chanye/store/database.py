"""Engines and sessions for the operational database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from chanye.store.sealing import remember_engine


def database_exists(url: str) -> bool:
    """False only for a SQLite file not created yet: reading must not create it as a side effect."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).exists()


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL and process (engines hold the connection pool)."""
    engine = create_engine(url, future=True)
    remember_engine(engine, url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    _owner_only(dbapi_connection)
    # WAL lets the web app read while the CLI writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


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


@cache
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back when it raises."""
    session = _session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
