"""users.operator_id, api_tokens.operator_id: the operator a console user or token works as

Existing operator-role users named exactly like a configured operator (the only way a user
could take calls before) are bound to that operator, so nobody loses their calls on upgrade.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_operator_id"), ["operator_id"])
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE users SET operator_id = username WHERE role = 'operator' "
        "AND username IN (SELECT id FROM operators)"
    )
    op.execute(
        "UPDATE api_tokens SET operator_id = name WHERE role = 'operator' "
        "AND name IN (SELECT id FROM operators)"
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("operator_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_operator_id"), type_="unique")
        batch_op.drop_column("operator_id")
