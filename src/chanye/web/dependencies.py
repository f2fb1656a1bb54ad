"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.system.model import IndustrialSystem
from chanye.system.versions import system_in_force


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> Iterator[Session]:
    with session_scope(settings.resolved_database_url, settings.pool_options) as session:
        request.state.db = session  # for helpers that must read through it (request_session)
        yield session


def request_session(request: Request) -> Session:
    """The request's own database session (opened by its dependencies)."""
    session: Session = request.state.db
    return session


# The session commits when the handler returns, before the response is sent: a browser that
# follows a redirect at once must find the change already there.
SESSION = Depends(get_session, scope="function")


def release_connection(session: Session) -> None:
    """Commit the request's work so far and hand its connection back to the pool, before a domain
    step that opens sessions of its own: no request ever holds two connections at once (a pool
    full of requests each waiting for a second connection would never drain)."""
    session.commit()


def get_system(session: Annotated[Session, SESSION]) -> IndustrialSystem:
    return system_in_force(session)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, SESSION]
SystemDep = Annotated[IndustrialSystem, Depends(get_system)]
