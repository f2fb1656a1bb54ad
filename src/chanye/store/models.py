"""Tables of the operational database (SQLAlchemy 2, typed declarative mapping).

Every change here needs an Alembic migration in ``migrations/versions``; a test fails when the
models and the migrations disagree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chanye.store.sealing import SealedString

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
    # What an import brought: the enterprise list (a new snapshot), or facts over time (annual /
    # monthly / qualifications: a part of facts beside the snapshot, which stays the same).
    content: Mapped[str] = mapped_column(String(20), default="list", server_default="list")

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
    contact_name: Mapped[str | None] = mapped_column(String(60), doc="An enterprise's contact")
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
    totp_secret: Mapped[str | None] = mapped_column(
        SealedString(), doc="Base32 TOTP secret, once enrolled; encrypted at rest"
    )
    totp_last_step: Mapped[int | None] = mapped_column(
        BigInteger, doc="The last TOTP time step accepted: a code is accepted only once"
    )
    scope_clusters: Mapped[str | None] = mapped_column(
        Text, doc="JSON list of industry ids a chain leader may see; null: no restriction"
    )


class LoginAttempt(Base):
    """A failed or successful login, kept to apply the lockout rule per account and per address."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account_name: Mapped[str] = mapped_column(String(254))
    client_addr: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    account_id: Mapped[int | None] = mapped_column(
        Integer, doc="The account the attempt was for, when one matched: lockout is per account"
    )

    __table_args__ = (
        Index("ix_login_attempts_account", "account_name", "at"),
        Index("ix_login_attempts_account_id", "account_id", "at"),
        Index("ix_login_attempts_client", "client_addr", "at"),
    )


class CaptchaChallenge(Base):
    """An image captcha shown once: only a hash of the answer is kept, and it is single-use."""

    __tablename__ = "captcha_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(default=False)


class WebSession(Base):
    """A browser session, kept on the server: the cookie holds a random token, this row its hash.

    Anonymous visitors get one too (it carries the CSRF token and the captcha in play); logging in
    replaces it with a new one, so an id planted before login is worthless after it.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="SHA-256 of the cookie token")
    account_id: Mapped[int | None] = mapped_column(Integer)
    csrf_token: Mapped[str] = mapped_column(String(64))
    captcha_id: Mapped[str | None] = mapped_column(String(64))
    second_factor_pending: Mapped[bool] = mapped_column(default=False)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_web_sessions_last_seen", "last_seen_at"),)


class AccountToken(Base):
    """A single-use, time-limited link token (confirm e-mail, reset password); only its hash."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(30))  # confirm_email / reset_password
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MembershipApplication(Base):
    """入会申请: submitted → under_review → approved / rejected (with a reason)."""

    __tablename__ = "membership_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(Integer)
    enterprise_uscc: Mapped[str] = mapped_column(String(18))
    company_name: Mapped[str] = mapped_column(String(200))
    legal_representative: Mapped[str] = mapped_column(String(60))
    industry_id: Mapped[str | None] = mapped_column(String(64), doc="Cluster the member works in")
    district: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    contact_name: Mapped[str] = mapped_column(String(60))
    contact_mobile: Mapped[str] = mapped_column(String(20))
    contact_email: Mapped[str] = mapped_column(String(254))
    introduction: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    reason: Mapped[str | None] = mapped_column(Text, doc="Why it was rejected")
    reviewer: Mapped[str | None] = mapped_column(String(120))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_membership_applications_status", "status", "id"),)


class StoredFileColumns:
    """What a document row keeps about its file (see ``chanye.portal.documents``)."""

    kind: Mapped[str] = mapped_column(String(20))  # licence / other / authorisation
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(60), doc="As detected from the content")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MembershipDocument(StoredFileColumns, Base):
    """A file uploaded with an application, stored outside the web root under a random name."""

    __tablename__ = "membership_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_membership_documents_application", "application_id"),)


class Training(Base):
    """A training the association runs: capacity, then a waiting list in sign-up order."""

    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="", doc="Markdown, sanitised on output")
    location: Mapped[str] = mapped_column(String(200))
    organizer: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open / cancelled
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_trainings_starts_at", "starts_at"),)


class TrainingSignup(Base):
    """One account's place on a training: confirmed, waitlisted or cancelled."""

    __tablename__ = "training_signups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    training_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # confirmed / waitlisted / cancelled
    signed_up_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("training_id", "account_id", name="uq_training_signups_training_account"),
        Index("ix_training_signups_training", "training_id", "status", "signed_up_at"),
    )


class NewsArticle(Base):
    """A news article in Markdown (sanitised when shown), in one category."""

    __tablename__ = "news_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    body_markdown: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="published")  # draft / published
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_news_articles_published", "status", "published_at"),)


class PolicyVersion(Base):
    """One version of a policy file: draft → published → expired (when a newer one is published).

    The YAML is kept verbatim, so that every push can be traced to the exact rules that made it.
    """

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft / published / expired
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200))
    source_name: Mapped[str] = mapped_column(String(500))
    source_text: Mapped[str] = mapped_column(Text, doc="The policy file (YAML), verbatim")
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(120))
    expired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # 双人复核: a version with a benefit is published only once someone other than its drafter
    # approved it ("system" for the demo's own policies).
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("policy_id", "version", name="uq_policy_versions_policy_version"),
        Index("ix_policy_versions_status", "status", "policy_id"),
    )


class PolicyRun(Base):
    """One matching run of a published version over the registry snapshot in force."""

    __tablename__ = "policy_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_version_id: Mapped[int] = mapped_column(Integer)
    registry_change_id: Mapped[int | None] = mapped_column(
        Integer, doc="The registry change whose snapshot was matched"
    )
    as_of: Mapped[dt.date]
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    eligible: Mapped[int] = mapped_column(Integer, default=0)
    needs_data: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[float] = mapped_column(default=0.0)
    gained: Mapped[int] = mapped_column(Integer, default=0, doc="Eligible now, not in the last run")
    lost: Mapped[int] = mapped_column(Integer, default=0, doc="Eligible in the last run, not now")
    actor: Mapped[str] = mapped_column(String(120))

    __table_args__ = (Index("ix_policy_runs_version", "policy_version_id", "id"),)


class PolicyApplication(Base):
    """快申: the values an enterprise supplied for a push (fields its policy declares), and what
    staff made of them. submitted → verified (the push is then decided with them) or returned
    (退回补正: the enterprise corrects them and submits again). One per push."""

    __tablename__ = "policy_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    push_id: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(String(18))
    values: Mapped[str] = mapped_column(Text, doc="JSON: field id → value (money in yuan)")
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_by: Mapped[str] = mapped_column(String(120))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="", doc="Why it was returned, or a remark")

    __table_args__ = (
        UniqueConstraint("push_id", name="uq_policy_applications_push"),
        Index("ix_policy_applications_policy", "policy_id", "status"),
    )


class ApplicationDocument(StoredFileColumns, Base):
    """A file attached to a 快申 application (an invoice list, a contract), kept like the
    membership documents: outside the web root, under a random name."""

    __tablename__ = "policy_application_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(120), doc="Which attachment the policy asked for")

    __table_args__ = (Index("ix_policy_application_documents", "application_id"),)


class PolicyPayment(Base):
    """The payout ledger: what was actually paid to an enterprise under a policy, and when. A
    confirmed push is recorded here once paid (拨付); payments made before the platform are
    imported. 一次性, 每年累计, 有效期内累计 and 未获得同类补贴 are decided against it."""

    __tablename__ = "policy_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    payment_group: Mapped[str | None] = mapped_column(String(64), doc="同类补贴: its kind")
    uscc: Mapped[str] = mapped_column(String(18))
    amount: Mapped[float] = mapped_column(doc="Yuan")
    paid_on: Mapped[dt.date] = mapped_column(Date)
    push_id: Mapped[int | None] = mapped_column(Integer, doc="None: imported from before")
    instalment: Mapped[int | None] = mapped_column(
        Integer, doc="第N期 of the push (1 when paid at once); None: imported"
    )
    reference: Mapped[str] = mapped_column(String(120), default="", doc="凭证号 / 文号")
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("push_id", "instalment", name="uq_policy_payments_push_instalment"),
        Index("ix_policy_payments_uscc", "uscc", "policy_id"),
    )


class PolicyInstalment(Base):
    """分期拨付: one instalment of a confirmed push whose policy pays over several years. The
    first falls due when the push is confirmed; a later one when its years have passed, payable
    only if its look-back (``when``) still holds as of then."""

    __tablename__ = "policy_instalments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    push_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer, doc="第N期, from 1")
    share: Mapped[float] = mapped_column(doc="Of the push's amount")
    amount: Mapped[float] = mapped_column(doc="Yuan")
    due_on: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(
        String(20), doc="pending, payable, needs_data, refused or paid"
    )
    reason: Mapped[str] = mapped_column(Text, default="", doc="Why not payable (the clause)")
    checked_on: Mapped[dt.date | None] = mapped_column(Date, doc="When its look-back was read")

    __table_args__ = (
        UniqueConstraint("push_id", "number", name="uq_policy_instalments_push_number"),
        Index("ix_policy_instalments_due", "state", "due_on"),
    )


class PolicyPush(Base):
    """免申即享: a benefit pushed to an enterprise by a policy version, with the evidence.

    pushed → confirmed / declined by the enterprise; withdrawn when a later run finds it no longer
    qualifies (before it decided). One row per (version, enterprise): re-runs update it.
    """

    __tablename__ = "policy_pushes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_version_id: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(String(18))
    amount: Mapped[float | None] = mapped_column(doc="Yuan; null when unknown (needs data)")
    status: Mapped[str] = mapped_column(String(20), default="pushed")
    needs_data: Mapped[bool] = mapped_column(
        default=False, doc="待补充: fails only for missing data"
    )
    explanation: Mapped[str] = mapped_column(
        Text, doc="JSON: values read and outcome per condition"
    )
    source_change_id: Mapped[int | None] = mapped_column(
        Integer, doc="The registry change the values read come from"
    )
    first_run_id: Mapped[int] = mapped_column(Integer)
    last_run_id: Mapped[int] = mapped_column(
        Integer, doc="The last run that found it eligible or needing data"
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    # 线下通知: for a push no account can receive, when the policy office told the enterprise.
    offline_noticed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    offline_noticed_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        UniqueConstraint("policy_version_id", "uscc", name="uq_policy_pushes_version_uscc"),
        Index("ix_policy_pushes_uscc", "uscc", "status"),
    )


class ImportJobRecord(Base):
    """A registry import started from the web page: it runs in a process of its own, which
    writes its progress here, so that any web worker can show it."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), doc="As the uploader named it")
    stored_path: Mapped[str] = mapped_column(Text, doc="The uploaded file in the data directory")
    strict: Mapped[bool] = mapped_column(default=False)
    started_by: Mapped[str] = mapped_column(String(120))
    started_by_role: Mapped[str] = mapped_column(String(30))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(200), default="排队")
    fraction: Mapped[float] = mapped_column(default=0.0)
    result: Mapped[str | None] = mapped_column(Text, doc="JSON: the import's outcome")
    error: Mapped[str | None] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaptchaTestingAnswer(Base):
    """TESTING ONLY (setting ``testing_expose_captcha``): a captcha's answer in clear, so that
    browser tests can log in through whichever worker process answers them."""

    __tablename__ = "testing_captcha_answers"

    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[str] = mapped_column(String(16))


class EnterpriseBinding(Base):
    """The link between an account and the enterprise it claims to act for (one per pair).

    pending (待核验) → verified (已核验) / rejected (已驳回); verified → revoked (已解除). Only a
    verified binding opens anything of the enterprise (``chanye.portal.binding.verified_uscc``);
    an account without a row is pending too, with nothing submitted yet.
    """

    __tablename__ = "enterprise_bindings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(Integer)
    uscc: Mapped[str] = mapped_column(String(18))
    state: Mapped[str] = mapped_column(String(20))  # pending / verified / rejected / revoked
    method: Mapped[str | None] = mapped_column(
        String(30), doc="documents / identity_provider / membership / invitation / administrator"
    )
    enterprise_role: Mapped[str | None] = mapped_column(
        String(20), doc="administrator (企业管理员) / member (经办人), once verified"
    )
    subject: Mapped[str | None] = mapped_column(
        String(255), doc="The identity provider's subject that vouched for it"
    )
    decided_by: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text, doc="Why it was rejected or revoked")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("account_id", "uscc", name="uq_enterprise_bindings_account_uscc"),
        Index("ix_enterprise_bindings_uscc", "uscc", "state"),
        Index("ix_enterprise_bindings_state", "state", "id"),
    )


class BindingDocument(StoredFileColumns, Base):
    """A file uploaded to verify a binding (营业执照, 授权委托书), stored like membership's."""

    __tablename__ = "binding_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    binding_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_binding_documents_binding", "binding_id"),)


class IdentityLogin(Base):
    """One trip to the identity provider (统一身份认证), kept until it returns: single-use.

    Only a hash of ``state`` is kept; the nonce and the PKCE verifier live minutes, for one
    callback of the same browser session and account.
    """

    __tablename__ = "identity_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    web_session_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
