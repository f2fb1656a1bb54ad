"""Single-use, time-limited tokens for links sent by e-mail (confirm address, reset password).

Only a hash is stored, so a copy of the database does not hold working links.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chanye.problems import ReasonRefusedError
from chanye.store.models import Account, AccountToken, utcnow

CONFIRM_EMAIL = "confirm_email"
RESET_PASSWORD = "reset_password"


class TokenRefusedError(ReasonRefusedError):
    """A link token that cannot be used."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    account: Account,
    purpose: str,
    lifetime: dt.timedelta,
    now: dt.datetime | None = None,
) -> str:
    """A new token for this purpose; earlier unused ones of the same purpose stop working."""
    now = now or utcnow()
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id == account.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            token_hash=_digest(token),
            account_id=account.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def issue_decoy_token(session: Session, purpose: str, now: dt.datetime | None = None) -> None:
    """The work of ``issue_token`` for no account: a request for an account that does not exist
    must take as long as one for an account that does, or timing would tell them apart."""
    now = now or utcnow()
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id.is_(None),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    _digest(secrets.token_urlsafe(32))
    session.flush()


def redeem_token(
    session: Session, token: str, purpose: str, now: dt.datetime | None = None, *, use: bool = True
) -> Account:
    """The account a valid token belongs to; with ``use`` the token is spent."""
    now = now or utcnow()
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == _digest(token or ""), AccountToken.purpose == purpose
        )
    )
    if row is None:
        raise TokenRefusedError("链接无效", "the link is not valid")
    if row.used_at is not None:
        raise TokenRefusedError("链接已使用过，请重新申请", "the link has already been used")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if now > expires:
        raise TokenRefusedError("链接已过期，请重新申请", "the link has expired")
    account = session.get(Account, row.account_id)
    if account is None:
        raise TokenRefusedError("链接无效", "the link is not valid")
    if use:
        row.used_at = now
    return account
