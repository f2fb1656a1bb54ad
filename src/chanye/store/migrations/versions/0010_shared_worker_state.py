"""State every web worker process shares: import jobs, captcha answers for tests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.Column("strict", sa.Boolean(), nullable=False),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("started_by_role", sa.String(length=30), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=200), nullable=False),
        sa.Column("fraction", sa.Double(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_table(
        "testing_captcha_answers",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("challenge_id", name=op.f("pk_testing_captcha_answers")),
    )


def downgrade() -> None:
    op.drop_table("testing_captcha_answers")
    op.drop_table("import_jobs")
