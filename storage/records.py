"""Searching the records (tickets) for supervisors, managers and admins: every filter the
records screen offers, a total count, and keyset ("cursor") paging in a stable order, newest
first, so any number of tickets can be walked without OFFSET and without missing one."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import AuditEntryRow, EscalationRow, TicketRow
from .tickets import TicketFilter, TicketView, _view
from .tickets import _filtered as tickets_filtered

Sessions = async_sessionmaker[AsyncSession]
EXPORT_LIMIT = 100_000  # rows in one CSV/XLSX export
_BATCH = 1_000


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RecordQuery:
    since: datetime | None = None
    until: datetime | None = None
    service: str | None = None
    category: str | None = None
    status: str | None = None
    outcome: str | None = None
    operator_id: str | None = None
    escalation_target: str | None = None
    text: str | None = None  # in the reference, summary or answer


@dataclass(frozen=True, slots=True)
class RecordPage:
    tickets: list[TicketView]
    total: int
    next_cursor: str | None


def encode_cursor(view: TicketView) -> str:
    raw = f"{view.received_at.isoformat()}|{view.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, ticket_id = raw.split("|")
        return datetime.fromisoformat(at), int(ticket_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("cursor is not one this service gave out") from None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query: Select[Any], q: RecordQuery) -> Select[Any]:
    """The ticket list's filters, plus category, escalation target and words."""
    query = tickets_filtered(query, TicketFilter(
        since=q.since, until=q.until, service=q.service, status=q.status, outcome=q.outcome,
        operator_id=q.operator_id))
    if q.category is not None:
        query = query.where(TicketRow.category == q.category)
    if q.escalation_target is not None:
        query = query.where(exists().where(EscalationRow.ticket_id == TicketRow.id,
                                           EscalationRow.target == q.escalation_target))
    if q.text:
        pattern = _like(q.text)
        query = query.where(or_(TicketRow.reference.like(pattern, escape="\\"),
                                TicketRow.summary.like(pattern, escape="\\"),
                                TicketRow.answer.like(pattern, escape="\\")))
    return query


def _after(query: Select[Any], cursor: tuple[datetime, int] | None) -> Select[Any]:
    query = query.order_by(TicketRow.received_at.desc(), TicketRow.id.desc())
    if cursor is None:
        return query
    at, ticket_id = cursor
    return query.where(or_(TicketRow.received_at < at,
                           and_(TicketRow.received_at == at, TicketRow.id < ticket_id)))


async def search(sessions: Sessions, q: RecordQuery, *, cursor: str | None, limit: int) -> RecordPage:
    after = decode_cursor(cursor) if cursor else None
    async with sessions() as session:
        total = await session.scalar(_filtered(select(func.count(TicketRow.id)), q)) or 0
        rows = (await session.scalars(_after(_filtered(select(TicketRow), q), after)
                                      .limit(limit + 1))).all()
    views = [_view(row) for row in rows[:limit]]
    more = len(rows) > limit
    return RecordPage(views, total, encode_cursor(views[-1]) if more and views else None)


async def walk(sessions: Sessions, q: RecordQuery, *, limit: int = EXPORT_LIMIT
               ) -> AsyncIterator[TicketView]:
    """Every matching ticket, newest first, read in batches (exports)."""
    after: tuple[datetime, int] | None = None
    sent = 0
    while sent < limit:
        async with sessions() as session:
            rows = (await session.scalars(_after(_filtered(select(TicketRow), q), after)
                                          .limit(min(_BATCH, limit - sent)))).all()
        if not rows:
            return
        for row in rows:
            yield _view(row)
        sent += len(rows)
        after = (rows[-1].received_at, rows[-1].id)


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]


async def audit_page(sessions: Sessions, *, actor: str | None, action: str | None,
                     before_id: int | None, limit: int) -> tuple[list[AuditRow], int, int | None]:
    """The audit log newest first: a page, the total matching, and the id to continue before."""
    query = select(AuditEntryRow)
    count = select(func.count(AuditEntryRow.id))
    for column, value in ((AuditEntryRow.actor, actor), (AuditEntryRow.action, action)):
        if value is not None:
            query, count = query.where(column == value), count.where(column == value)
    if before_id is not None:
        query = query.where(AuditEntryRow.id < before_id)
    async with sessions() as session:
        total = await session.scalar(count) or 0
        rows = (await session.scalars(query.order_by(AuditEntryRow.id.desc()).limit(limit + 1))).all()
    found = [AuditRow(r.id, r.at, r.actor, r.role, r.action, r.target, dict(r.detail))
             for r in rows[:limit]]
    return found, total, found[-1].id if len(rows) > limit and found else None
