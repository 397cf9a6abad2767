"""The database tables. Only ``storage/`` sees ORM rows; the rest of the code gets frozen views.

Every relationship is ``lazy="raise"`` (an accidental lazy load in async code is an error, not a
hidden query). Times are stored in UTC and come back timezone-aware on both PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # The configured operator this console user works as (role operator); checked against the
    # config at start-up and by `cti config check`, so no foreign key to the synced table.
    operator_id: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]  # None: never (only with an explicit --expires never)
    # The user the token acts for, if any: disabling that user stops the token at once.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[str | None] = mapped_column(String(32), default=None)  # role operator


class WebSession(Base):
    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class OperatorRow(Base):
    __tablename__ = "operators"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    uri: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]
    # "config": follows config/helpdesk.toml at each start; "admin": set in the admin view and
    # kept as the admin left it (storage/operators.py merges the two)
    source: Mapped[str] = mapped_column(String(16), default="config", server_default="config")


class OperatorSkill(Base):
    __tablename__ = "operator_skills"
    operator_id: Mapped[str] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)


class CallRow(Base):
    """A call, keyed by its SIP Call-ID (bounded by ``cti.tickets.bounds``; RFC 3261 sets no
    length, so wire values live in TEXT columns)."""

    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    sip_call_id: Mapped[str | None] = mapped_column(Text, index=True)
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_display: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    hung_up_by: Mapped[str | None] = mapped_column(String(16))
    operator_id: Mapped[str | None] = mapped_column(String(32))


class CallEventRow(Base):
    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(Text, ForeignKey("calls.id", ondelete="CASCADE"),
                                         index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_service_received", "service", "received_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    call_id: Mapped[str | None] = mapped_column(Text, ForeignKey("calls.id"), unique=True)
    service: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), index=True)
    outcome: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(index=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    operator_id: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    linked_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every change
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EscalationRow(Base):
    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    target: Mapped[str] = mapped_column(String(16))
    contact_name: Mapped[str] = mapped_column(String(128))
    contact_email: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)  # the outbox's order
    last_error: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64))


class KnowledgeArticleRow(Base):
    __tablename__ = "knowledge_articles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class KnowledgeArticleVersionRow(Base):
    __tablename__ = "knowledge_article_versions"
    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    edited_by: Mapped[str] = mapped_column(String(64))
    edited_at: Mapped[datetime]


class AuditEntryRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class HoursOverrideRow(Base):
    __tablename__ = "hours_overrides"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    until: Mapped[datetime | None]
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime]



class ProducedReportRow(Base):
    """A kept set of monthly deliverables: its files live in the reports folder, never rewritten."""

    __tablename__ = "produced_reports"
    __table_args__ = (UniqueConstraint("month", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    version: Mapped[int] = mapped_column(Integer)  # 1, then 2 for a rebuild, ...
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | catch_up | manual
    built_by: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime]
    folder: Mapped[str] = mapped_column(String(255))  # relative to the reports folder
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)  # name -> {sha256, bytes, kind}
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 over the files' names and digests
    received: Mapped[int] = mapped_column(Integer)
    mailed_at: Mapped[datetime | None]
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    mail_error: Mapped[str | None] = mapped_column(Text)


class HaLease(Base):
    """The active node's lease (issue 15): one row. ``epoch`` grows by one at every takeover and
    is the fencing token; ``expires_at`` is database time. ``released`` says the last holder gave
    it up (planned handover), so its calls are not the taker's to close."""

    __tablename__ = "ha_lease"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(32))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None]
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    handover_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_holder: Mapped[str | None] = mapped_column(String(32))
    holder_url: Mapped[str | None] = mapped_column(String(255))  # where the standby forwards to


class OperatorPresence(Base):
    """The state each operator last asked for (available, away, offline), kept by the active
    node of an HA pair so that the node taking over puts the floor back as it was."""

    __tablename__ = "operator_presence"
    operator_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
