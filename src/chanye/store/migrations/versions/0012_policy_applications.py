"""快申: values an enterprise supplies for a push, with attachments, verified by staff; the
payout ledger (what was paid, and when)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_applications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("push_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=120), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("push_id", name="uq_policy_applications_push"),
    )
    op.create_index("ix_policy_applications_policy", "policy_applications", ["policy_id", "status"])
    op.create_table(
        "policy_application_documents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_policy_application_documents", "policy_application_documents", ["application_id"]
    )
    op.create_table(
        "policy_payments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("payment_group", sa.String(length=64), nullable=True),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("push_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("push_id", name="uq_policy_payments_push"),
    )
    op.create_index("ix_policy_payments_uscc", "policy_payments", ["uscc", "policy_id"])


def downgrade() -> None:
    op.drop_index("ix_policy_payments_uscc", "policy_payments")
    op.drop_table("policy_payments")
    op.drop_index("ix_policy_application_documents", "policy_application_documents")
    op.drop_table("policy_application_documents")
    op.drop_index("ix_policy_applications_policy", "policy_applications")
    op.drop_table("policy_applications")
