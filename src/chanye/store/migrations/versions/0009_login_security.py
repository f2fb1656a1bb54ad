"""Login security: lockout per account, TOTP codes used once, TOTP secrets sealed at rest

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        # A sealed secret (a Fernet token) is longer than the Base32 secret it holds.
        batch.alter_column(
            "totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("login_attempts") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.create_index("ix_login_attempts_account_id", ["account_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("login_attempts") as batch:
        batch.drop_index("ix_login_attempts_account_id")
        batch.drop_column("account_id")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("totp_last_step")
        batch.alter_column(
            "totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
