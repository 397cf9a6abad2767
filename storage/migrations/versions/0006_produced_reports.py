"""produced reports: the kept monthly deliverables (files on disk, checksums here)

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-26 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "produced_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("built_by", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("mail_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_produced_reports")),
        sa.UniqueConstraint("month", "version", name=op.f("uq_produced_reports_month_version")),
    )
    op.create_index(op.f("ix_produced_reports_month"), "produced_reports", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_produced_reports_month"), table_name="produced_reports")
    op.drop_table("produced_reports")
