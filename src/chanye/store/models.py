"""Tables of the operational database (SQLAlchemy 2, typed declarative mapping).

Every change here needs an Alembic migration in ``migrations/versions``; a test fails when the
models and the migrations disagree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AuditEntry(Base):
    """One audited event: who did what to which object, with the state before and after.

    Rows are chained: ``row_hash`` covers the row's content and the previous row's hash, so that
    editing or deleting a past row breaks the chain (see ``chanye.store.audit.verify_chain``).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(40))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[str | None] = mapped_column(Text, doc="JSON of the object before the change")
    after: Mapped[str | None] = mapped_column(Text, doc="JSON of the object after the change")
    result: Mapped[str] = mapped_column(String(20), default="success")
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_object", "object_type", "object_id"),
    )


class SystemVersion(Base):
    """An industrial-system file as loaded; the newest row is the system in force."""

    __tablename__ = "system_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    source_name: Mapped[str] = mapped_column(String(500), doc="File the system was loaded from")
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text, doc="The TOML text, verbatim")
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(120))


class RegistryChange(Base):
    """One change of the enterprise registry: an import, a re-classification or a rollback.

    The registry itself is a Parquet snapshot per change; the snapshot of the newest change whose
    status is ``done`` is the registry in force, so a change takes effect exactly when its row
    commits (an interrupted import leaves the registry as it was).
    """

    __tablename__ = "registry_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # import / classify / rollback
    status: Mapped[str] = mapped_column(String(20))  # running / done / failed / rolled_back
    actor: Mapped[str] = mapped_column(String(120))
    file_name: Mapped[str | None] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    total_after: Mapped[int] = mapped_column(Integer, default=0)
    snapshot_before: Mapped[str | None] = mapped_column(String(500))
    snapshot_after: Mapped[str | None] = mapped_column(String(500))
    undoes: Mapped[int | None] = mapped_column(Integer, doc="For a rollback: the change undone")
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_registry_changes_status", "status", "id"),)


class ClassificationOverride(Base):
    """An analyst's placement of one enterprise, replacing the automatic one until removed."""

    __tablename__ = "classification_overrides"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    industries: Mapped[str] = mapped_column(Text, doc="JSON list of industry ids")
    chain_links: Mapped[str] = mapped_column(Text, doc="JSON list of chain-link ids")
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Account(Base):
    """A person or an enterprise that logs in to the portal."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # enterprise / individual / staff
    role: Mapped[str] = mapped_column(String(40))
    enterprise_uscc: Mapped[str | None] = mapped_column(String(18))
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    must_change_password: Mapped[bool] = mapped_column(default=False)
    email_confirmed: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active / disabled
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginAttempt(Base):
    """A failed or successful login, kept to apply the lockout rule per account and per address."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account_name: Mapped[str] = mapped_column(String(254))
    client_addr: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]

    __table_args__ = (
        Index("ix_login_attempts_account", "account_name", "at"),
        Index("ix_login_attempts_client", "client_addr", "at"),
    )


class CaptchaChallenge(Base):
    """An image captcha shown once: only a hash of the answer is kept, and it is single-use."""

    __tablename__ = "captcha_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(default=False)
