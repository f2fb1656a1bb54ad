"""分期拨付: the instalments of a confirmed push whose policy pays over several years; the payout
ledger keeps one payment per instalment

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_instalments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("push_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("share", sa.Double(), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("push_id", "number", name="uq_policy_instalments_push_number"),
    )
    op.create_index("ix_policy_instalments_due", "policy_instalments", ["state", "due_on"])
    # A push paid in instalments has one payment per instalment: the ledger's key is the pair
    # (a push paid at once is its instalment 1).
    with op.batch_alter_table("policy_payments") as batch:
        batch.add_column(sa.Column("instalment", sa.Integer(), nullable=True))
        batch.drop_constraint("uq_policy_payments_push", type_="unique")
        batch.create_unique_constraint(
            "uq_policy_payments_push_instalment", ["push_id", "instalment"]
        )
    op.execute("UPDATE policy_payments SET instalment = 1 WHERE push_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("policy_payments") as batch:
        batch.drop_constraint("uq_policy_payments_push_instalment", type_="unique")
        batch.create_unique_constraint("uq_policy_payments_push", ["push_id"])
        batch.drop_column("instalment")
    op.drop_index("ix_policy_instalments_due", "policy_instalments")
    op.drop_table("policy_instalments")
