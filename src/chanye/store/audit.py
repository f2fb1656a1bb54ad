"""The audit log: append one hash-chained row per audited event, and verify the chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from chanye.store.models import AuditEntry, utcnow

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit log records it."""

    name: str = SYSTEM_ACTOR
    role: str = "system"
    client_addr: str | None = None


def _to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _row_hash(entry: AuditEntry) -> str:
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=dt.UTC)
    payload = [
        entry.prev_hash,
        at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        entry.actor,
        entry.role,
        entry.client_addr,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.before,
        entry.after,
        entry.result,
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _serialise_writers(session: Session) -> None:
    """Hold the database's write lock before reading the last hash, so no two rows share it.

    PostgreSQL has advisory locks. SQLite has one writer lock per file: a write statement takes
    it (the driver opens the transaction first), and holding it also means this transaction reads
    the latest committed row. The statement changes nothing; it is there for the lock it takes.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(8240301)"))
    elif dialect == "sqlite":
        session.execute(update(AuditEntry).where(AuditEntry.id.is_(None)).values(id=AuditEntry.id))


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | None = None,
    *,
    before: Any = None,
    after: Any = None,
    result: str = "success",
) -> AuditEntry:
    """Append an audit row in the caller's transaction, so the row and the change land together."""
    last = _chain_end(session)
    entry = AuditEntry(
        at=utcnow(),
        actor=actor.name,
        role=actor.role,
        client_addr=actor.client_addr,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_to_json(before),
        after=_to_json(after),
        result=result,
        prev_hash=last or GENESIS_HASH,
    )
    entry.row_hash = _row_hash(entry)
    session.add(entry)
    session.flush()
    session.info[_CHAIN_END] = (session.get_transaction(), entry.row_hash)
    return entry


_CHAIN_END = "chanye.audit.chain_end"  # (transaction, hash of the last row it appended)


def _chain_end(session: Session) -> str | None:
    """The hash of the chain's last row, the writers serialised first: once per transaction.

    The lock lasts until the transaction ends, so once this transaction appended a row nobody
    else can have appended one after it: its next rows link to the last one it wrote, without
    taking the lock and reading the table again (a run writes dozens of rows in one
    transaction). A new transaction reads the table afresh.
    """
    held = session.info.get(_CHAIN_END)
    if held is not None and held[0] is not None and held[0] is session.get_transaction():
        return str(held[1])
    _serialise_writers(session)
    return session.scalar(select(AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1))


def verify_chain(session: Session) -> list[int]:
    """Ids of rows whose hash or link to the previous row does not hold (empty: chain intact)."""
    broken: list[int] = []
    previous = GENESIS_HASH
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.prev_hash != previous or entry.row_hash != _row_hash(entry):
            broken.append(entry.id)
        previous = entry.row_hash
    return broken


def trail(
    session: Session, object_type: str, object_id: str, actions: Collection[str]
) -> list[AuditEntry]:
    """The audited steps of one object (of these actions), oldest first: its history."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == object_type,
                AuditEntry.object_id == object_id,
                AuditEntry.action.in_(actions),
            )
            .order_by(AuditEntry.id)
        )
    )
