"""Second look: 双人复核 of policy versions with a benefit; offline notice of unreachable pushes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("policy_versions") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("approved_at", TZ, nullable=True))
    with op.batch_alter_table("policy_pushes") as batch:
        batch.add_column(sa.Column("offline_noticed_at", TZ, nullable=True))
        batch.add_column(sa.Column("offline_noticed_by", sa.String(length=120), nullable=True))
    # Versions published before this revision were published under the old rule: say so.
    op.execute(
        "UPDATE policy_versions SET approved_by = 'system', approved_at = published_at "
        "WHERE published_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("policy_pushes") as batch:
        batch.drop_column("offline_noticed_by")
        batch.drop_column("offline_noticed_at")
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
