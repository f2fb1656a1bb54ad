"""Enterprise bindings: who may act for an enterprise, their documents, identity-provider trips

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Accounts that claimed a USCC before bindings existed: a member (approved, or made one by an
administrator) keeps its enterprise with a verified binding (method membership, the first one per
enterprise its administrator); every other enterprise account starts pending and must be verified.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "enterprise_bindings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=True),
        sa.Column("enterprise_role", sa.String(length=20), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("submitted_at", TZ, nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_bindings")),
        sa.UniqueConstraint("account_id", "uscc", name="uq_enterprise_bindings_account_uscc"),
    )
    op.create_index("ix_enterprise_bindings_uscc", "enterprise_bindings", ["uscc", "state"])
    op.create_index("ix_enterprise_bindings_state", "enterprise_bindings", ["state", "id"])
    op.create_table(
        "binding_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("uploaded_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_documents")),
    )
    op.create_index("ix_binding_documents_binding", "binding_documents", ["binding_id"])
    op.create_table(
        "identity_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("web_session_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_identity_logins")),
    )
    _bind_existing_members()


def _bind_existing_members() -> None:
    op.execute(
        "INSERT INTO enterprise_bindings (account_id, uscc, state, method, enterprise_role,"
        " decided_by, created_at, decided_at, updated_at)"
        " SELECT id, enterprise_uscc, 'verified', 'membership', 'member', 'migration',"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM accounts"
        " WHERE role = 'member' AND enterprise_uscc IS NOT NULL"
    )
    op.execute(
        "UPDATE enterprise_bindings SET enterprise_role = 'administrator' WHERE id IN"
        " (SELECT MIN(id) FROM enterprise_bindings GROUP BY uscc)"
    )


def downgrade() -> None:
    op.drop_table("identity_logins")
    op.drop_index("ix_binding_documents_binding", table_name="binding_documents")
    op.drop_table("binding_documents")
    op.drop_index("ix_enterprise_bindings_state", table_name="enterprise_bindings")
    op.drop_index("ix_enterprise_bindings_uscc", table_name="enterprise_bindings")
    op.drop_table("enterprise_bindings")
