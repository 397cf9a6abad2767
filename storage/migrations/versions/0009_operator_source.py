"""operators.source: who last set an operator, the config file or the admin view

The config's [[operators]] seed the table at every start, but a row an admin added or changed in
the admin view (source "admin") is kept as the admin left it; the config no longer overrides it.
Rows that exist before this revision came from the config.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False,
                                      server_default="config"))


def downgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("source")
