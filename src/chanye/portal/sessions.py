"""Server-side browser sessions: the cookie holds a random token, the database only its hash.

A session ends after the security profile's idle timeout. Logging in never upgrades the session
the visitor arrived with: ``start_login`` deletes it and opens a new one, so a session id planted
before login (session fixation) is useless afterwards.

Rows are changed and deleted with single statements, never through a loaded object: the same
browser may send several requests at once (a login form posted twice), and a row another request
has just deleted must be a no-op for the others, not an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chanye.beijing import aware
from chanye.store.models import WebSession, utcnow

# Writing last_seen on every request would make every page view a write; a minute is precise
# enough for a 30-minute idle rule.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Loaded:
    """The outcome of reading a session cookie."""

    row: WebSession | None
    timed_out_account: int | None = None  # the account whose session just ended for idleness


def open_session(
    session: Session,
    client_addr: str | None,
    *,
    account_id: int | None = None,
    second_factor_pending: bool = False,
    csrf_token: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, WebSession]:
    """A new session; returns the cookie token (only its hash is stored) and the row.

    ``csrf_token`` keeps the token an anonymous visitor's forms already carry (see
    ``chanye.web.auth``); a login always gets a new one."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    csrf_token = csrf_token or secrets.token_urlsafe(32)
    row = WebSession(
        id=_digest(token),
        account_id=account_id,
        csrf_token=csrf_token,
        captcha_id=None,
        second_factor_pending=second_factor_pending,
        client_addr=client_addr,
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return token, row


def load_session(
    session: Session, token: str | None, idle_minutes: int, now: dt.datetime | None = None
) -> Loaded:
    """The live session for a cookie token; an idle one is deleted and reported as timed out."""
    if not token:
        return Loaded(None)
    now = now or utcnow()
    row = session.get(WebSession, _digest(token))
    if row is None:
        return Loaded(None)
    if now - aware(row.last_seen_at) > dt.timedelta(minutes=idle_minutes):
        account_id = row.account_id
        end_session(session, row)
        return Loaded(None, timed_out_account=account_id)
    if now - aware(row.last_seen_at) > TOUCH_INTERVAL:
        update_session(session, row, last_seen_at=now)
    return Loaded(row)


def update_session(session: Session, row: WebSession, **values: object) -> None:
    """Change a session's columns (a no-op if another request has just ended it)."""
    session.execute(update(WebSession).where(WebSession.id == row.id).values(**values))


def peek_session(
    session: Session, token: str | None, idle_minutes: int, now: dt.datetime | None = None
) -> WebSession | None:
    """The live session for a cookie token, read only (an idle one is left for ``load_session``)."""
    row = session.get(WebSession, _digest(token)) if token else None
    if row is None or (now or utcnow()) - aware(row.last_seen_at) > dt.timedelta(
        minutes=idle_minutes
    ):
        return None
    return row


def end_session(session: Session, row: WebSession) -> None:
    """Delete a session (a no-op if another request has just done so)."""
    session.execute(delete(WebSession).where(WebSession.id == row.id))
    if row in session:
        session.expunge(row)


def end_all_sessions(session: Session, account_id: int) -> None:
    """Log an account out everywhere (after a password reset or change)."""
    session.execute(delete(WebSession).where(WebSession.account_id == account_id))


def purge_idle(session: Session, idle_minutes: int, now: dt.datetime | None = None) -> None:
    cutoff = (now or utcnow()) - dt.timedelta(minutes=idle_minutes)
    session.execute(delete(WebSession).where(WebSession.last_seen_at < cutoff))


def sessions_of(session: Session, account_id: int) -> list[WebSession]:
    return list(session.scalars(select(WebSession).where(WebSession.account_id == account_id)))
