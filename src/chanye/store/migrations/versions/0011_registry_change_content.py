"""What a registry change brought: the enterprise list, annual figures, 快报 or qualifications

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_changes") as batch:
        batch.add_column(
            sa.Column("content", sa.String(length=20), nullable=False, server_default="list")
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_changes") as batch:
        batch.drop_column("content")
