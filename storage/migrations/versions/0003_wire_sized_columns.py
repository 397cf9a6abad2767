"""wire-sized columns, the escalation outbox's order

- ``calls.id`` (the SIP Call-ID), ``calls.sip_call_id``, ``calls.caller_display``,
  ``call_events.call_id`` and ``tickets.call_id`` become TEXT: RFC 3261 sets no length on a
  Call-ID (``uuid@host`` from Asterisk/PJSIP and Linphone is 47+ characters, the old limit was 36)
  nor on the user part of a From URI (40-digit numbers exist); ``cti.tickets.bounds`` bounds them.
- ``escalations.next_attempt_at``: when the outbox tries a message next (fair order: the due
  ones by this time, not the oldest failing one first).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WIDENED = (  # table, column, old type, nullable
    ("calls", "id", sa.String(36), False),
    ("calls", "sip_call_id", sa.String(255), True),
    ("calls", "caller_display", sa.String(32), True),
    ("call_events", "call_id", sa.String(36), False),
    ("tickets", "call_id", sa.String(36), True),
)


# SQLite's batch mode rebuilds ``tickets`` and so drops the full-text triggers of 0002 with the
# old table: without them, tickets stored afterwards are never found as similar past answers.
SQLITE_TICKET_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS ticket_fts_ai AFTER INSERT ON tickets BEGIN
        INSERT INTO ticket_fts(rowid, summary, answer) VALUES (new.id, new.summary, new.answer);
    END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_fts_ad AFTER DELETE ON tickets BEGIN
        INSERT INTO ticket_fts(ticket_fts, rowid, summary, answer)
        VALUES ('delete', old.id, old.summary, old.answer);
    END""",
    """CREATE TRIGGER IF NOT EXISTS ticket_fts_au AFTER UPDATE OF summary, answer ON tickets BEGIN
        INSERT INTO ticket_fts(ticket_fts, rowid, summary, answer)
        VALUES ('delete', old.id, old.summary, old.answer);
        INSERT INTO ticket_fts(rowid, summary, answer) VALUES (new.id, new.summary, new.answer);
    END""",
    "INSERT INTO ticket_fts(ticket_fts) VALUES ('rebuild')",
)


def _restore_ticket_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_TICKET_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    for table, column, old, nullable in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Text(), existing_type=old,
                               existing_nullable=nullable)
    _restore_ticket_search()
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_escalations_next_attempt_at", ["next_attempt_at"])


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_index("ix_escalations_next_attempt_at")
        batch.drop_column("next_attempt_at")
    for table, column, old, nullable in reversed(WIDENED):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=old, existing_type=sa.Text(),
                               existing_nullable=nullable)
    _restore_ticket_search()
