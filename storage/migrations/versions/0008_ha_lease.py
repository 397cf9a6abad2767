"""ha_lease, operator_presence: the active node's lease and fencing epoch, the operators'
requested states (two nodes, one PostgreSQL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ha_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("handover_requested", sa.Boolean(), nullable=False),
        sa.Column("previous_holder", sa.String(length=32), nullable=True),
        sa.Column("holder_url", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ha_lease")),
    )
    op.create_table(
        "operator_presence",
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_operator_presence")),
    )


def downgrade() -> None:
    op.drop_table("operator_presence")
    op.drop_table("ha_lease")
