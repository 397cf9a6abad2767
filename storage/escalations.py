"""Escalations of tickets to city staff or a vendor, and the outbox of their e-mails.

The ``escalations`` table is the outbox: a row is created ``pending`` in the same transaction that
moves its ticket to ``escalated``, and the sender moves it to ``sent``, ``failing`` or
``uncertain``. ``next_attempt_at`` orders the outbox: a message is due when it is NULL (new) or
past, and each message backs off on its own, so one failing message never holds the others. Nothing is
kept in memory, so a restart loses no mail. Status changes go through ``check`` (the escalation
status table in ``cti.escalation.status``) and are guarded in the UPDATE itself, so a mail sent
while the operator typed the answer cannot turn an ``answered`` escalation back into ``sent``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import EscalationRow, TicketRow
from .tickets import StaleTicket

Sessions = async_sessionmaker[AsyncSession]
StatusCheck = Callable[[str, str], str]
UNSENT = ("pending", "failing", "uncertain")
ANSWERED = "answered"
ERROR_LIMIT = 2000  # characters of an SMTP error kept in last_error


@dataclass(frozen=True, slots=True)
class EscalationView:
    id: int
    reference: str
    ticket_id: int
    ticket_reference: str
    ticket_operator_id: str | None
    target: str
    contact_name: str
    contact_email: str
    token_hash: str
    status: str
    message: str
    created_at: datetime
    sent_at: datetime | None
    due_at: datetime | None
    attempts: int
    last_error: str | None
    answer: str | None
    answered_at: datetime | None
    answered_by: str | None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewEscalation:
    ticket_id: int
    target: str
    contact_name: str
    contact_email: str
    message: str  # already redacted
    due_at: datetime


@dataclass(frozen=True, slots=True)
class EscalationFilter:
    status: str | None = None
    ticket_id: int | None = None
    operator_id: str | None = None  # the ticket's operator
    overdue_at: datetime | None = None  # only unanswered ones due at or before this instant
    limit: int = 200


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    escalation: EscalationView
    ticket_status_before: str
    ticket_status: str


class EscalationNotFound(LookupError):
    pass


class TicketMissing(LookupError):
    pass


class AlreadyAnswered(RuntimeError):
    def __init__(self, view: EscalationView) -> None:
        super().__init__(f"escalation {view.reference} was answered at {view.answered_at}")
        self.view = view


def reference_for(escalation_id: int, created_at: datetime) -> str:
    return f"ESC-{created_at.year}-{escalation_id:06d}"


def _view(row: EscalationRow, ticket: TicketRow) -> EscalationView:
    return EscalationView(
        row.id, row.reference, row.ticket_id, ticket.reference, ticket.operator_id, row.target,
        row.contact_name, row.contact_email, row.token_hash, row.status, row.message,
        row.created_at, row.sent_at, row.due_at, row.attempts, row.last_error, row.answer,
        row.answered_at, row.answered_by, row.next_attempt_at,
    )


def _joined() -> Select[EscalationRow, TicketRow]:
    return select(EscalationRow, TicketRow).join(TicketRow, TicketRow.id == EscalationRow.ticket_id)


async def open_escalation(
    sessions: Sessions,
    new: NewEscalation,
    now: datetime,
    *,
    check_ticket_status: StatusCheck,
    token_hash: Callable[[str, datetime], str],
) -> EscalationView:
    """Move the ticket to ``escalated`` and queue the escalation, in one transaction.

    ``check_ticket_status(current, "escalated")`` raises when the ticket may not be escalated;
    ``token_hash(reference, created_at)`` gives the stored hash of the reply token.
    """
    async with sessions() as session, session.begin():
        ticket = await session.get(TicketRow, new.ticket_id, with_for_update=True)
        if ticket is None:
            raise TicketMissing(new.ticket_id)
        wanted = check_ticket_status(ticket.status, "escalated")
        # Conditional, so that on SQLite (no FOR UPDATE) a concurrent edit is not overwritten.
        changed = await session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket.id, TicketRow.version == ticket.version)
            .values(status=wanted, version=TicketRow.version + 1, updated_at=now)
            .execution_options(synchronize_session=False))
        if not changed.rowcount:  # type: ignore[attr-defined]
            raise StaleTicket(f"ticket {ticket.reference} changed while it was being escalated")
        await session.refresh(ticket)
        row = EscalationRow(
            reference=f"new-{uuid.uuid4().hex[:28]}", ticket_id=new.ticket_id,
            target=new.target, contact_name=new.contact_name, contact_email=new.contact_email,
            token_hash="", status="pending", message=new.message, created_at=now,
            due_at=new.due_at, attempts=0,
        )
        session.add(row)
        await session.flush()
        row.reference = reference_for(row.id, now)
        row.token_hash = token_hash(row.reference, now)
        await session.flush()
        return _view(row, ticket)


async def get_escalation(sessions: Sessions, reference: str) -> EscalationView:
    async with sessions() as session:
        found = (await session.execute(_joined().where(EscalationRow.reference == reference))).first()
    if found is None:
        raise EscalationNotFound(reference)
    return _view(found[0], found[1])


async def list_escalations(sessions: Sessions, f: EscalationFilter) -> list[EscalationView]:
    query = _joined()
    if f.status is not None:
        query = query.where(EscalationRow.status == f.status)
    if f.ticket_id is not None:
        query = query.where(EscalationRow.ticket_id == f.ticket_id)
    if f.operator_id is not None:
        query = query.where(TicketRow.operator_id == f.operator_id)
    if f.overdue_at is not None:
        query = query.where(EscalationRow.status != ANSWERED, EscalationRow.due_at <= f.overdue_at)
    query = query.order_by(EscalationRow.created_at.desc(), EscalationRow.id.desc()).limit(f.limit)
    async with sessions() as session:
        return [_view(e, t) for e, t in (await session.execute(query)).all()]


def _due(now: datetime) -> Any:
    return or_(
        and_(EscalationRow.status.in_(("pending", "failing")),
             or_(EscalationRow.next_attempt_at.is_(None), EscalationRow.next_attempt_at <= now)),
        and_(EscalationRow.status == "uncertain", EscalationRow.next_attempt_at <= now),
    )


async def unsent(sessions: Sessions, limit: int, now: datetime) -> list[EscalationView]:
    """Escalations whose mail is due now, in fair order: by next attempt time (new ones by their
    creation), so a message that keeps failing waits its turn behind the others."""
    query = (_joined().where(_due(now))
             .order_by(func.coalesce(EscalationRow.next_attempt_at, EscalationRow.created_at),
                       EscalationRow.id).limit(limit))
    async with sessions() as session:
        return [_view(e, t) for e, t in (await session.execute(query)).all()]


async def next_due_at(sessions: Sessions) -> datetime | None:
    """When the earliest scheduled retry falls (None: nothing scheduled)."""
    async with sessions() as session:
        return await session.scalar(
            select(func.min(EscalationRow.next_attempt_at))
            .where(EscalationRow.status.in_(UNSENT), EscalationRow.next_attempt_at.is_not(None)))


async def record_sent(sessions: Sessions, escalation_id: int, now: datetime, check: StatusCheck) -> bool:
    """The mail went out; False when the escalation had meanwhile left the outbox (answered)."""
    return await _record_attempt(sessions, escalation_id, check, "sent",
                                 {"sent_at": now, "next_attempt_at": None})


async def record_failure(
    sessions: Sessions, escalation_id: int, error: str, check: StatusCheck,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Not sent; tried again at ``next_attempt_at`` (None: at once)."""
    return await _record_attempt(sessions, escalation_id, check, "failing",
                                 {"last_error": error[:ERROR_LIMIT],
                                  "next_attempt_at": next_attempt_at})


async def record_uncertain(
    sessions: Sessions, escalation_id: int, error: str, check: StatusCheck,
    next_attempt_at: datetime | None,
) -> bool:
    """The server may have stored the mail; ``next_attempt_at`` None: no automatic retry."""
    return await _record_attempt(sessions, escalation_id, check, "uncertain",
                                 {"last_error": error[:ERROR_LIMIT],
                                  "next_attempt_at": next_attempt_at})


async def _record_attempt(
    sessions: Sessions, escalation_id: int, check: StatusCheck, wanted: str,
    values: Mapping[str, object],
) -> bool:
    async with sessions() as session, session.begin():
        current = await session.scalar(
            select(EscalationRow.status).where(EscalationRow.id == escalation_id))
        if current is None:
            raise EscalationNotFound(escalation_id)
        if current not in UNSENT:
            return False
        check(current, wanted)
        result = await session.execute(
            update(EscalationRow)
            .where(EscalationRow.id == escalation_id, EscalationRow.status.in_(UNSENT))
            .values(status=wanted, attempts=EscalationRow.attempts + 1, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_answer(
    sessions: Sessions,
    reference: str,
    *,
    answer: str,
    answered_by: str,
    ticket_note: str,
    now: datetime,
    check: StatusCheck,
    check_ticket_status: StatusCheck,
) -> RecordedAnswer:
    """Store the answer on the escalation, append ``ticket_note`` to the ticket's answer and give
    the ticket back to its operator (``escalated`` -> ``in_progress``), in one transaction.

    A ticket that has meanwhile left ``escalated`` (the operator resolved it) keeps its status; the
    answer is still recorded on it.
    """
    async with sessions() as session, session.begin():
        row = await session.scalar(
            select(EscalationRow).where(EscalationRow.reference == reference).with_for_update())
        if row is None:
            raise EscalationNotFound(reference)
        wanted = check(row.status, ANSWERED) if row.status != ANSWERED else ANSWERED
        # The claim is a conditional UPDATE: of two answers at once exactly one matches a row,
        # on PostgreSQL (behind FOR UPDATE) and on SQLite (whose write lock it takes first).
        claimed = await session.execute(
            update(EscalationRow)
            .where(EscalationRow.id == row.id, EscalationRow.status != ANSWERED)
            .values(status=wanted, answer=answer, answered_at=now, answered_by=answered_by[:64])
            .execution_options(synchronize_session=False))
        await session.refresh(row)
        ticket = await session.get(TicketRow, row.ticket_id, with_for_update=True)
        if ticket is None:
            raise TicketMissing(row.ticket_id)
        if not claimed.rowcount:  # type: ignore[attr-defined]
            raise AlreadyAnswered(_view(row, ticket))
        before = ticket.status
        if ticket.status == "escalated":
            ticket.status = check_ticket_status(ticket.status, "in_progress")
        ticket.answer = f"{ticket.answer.rstrip()}\n\n{ticket_note}" if ticket.answer.strip() \
            else ticket_note
        ticket.version += 1
        ticket.updated_at = now
        await session.flush()
        return RecordedAnswer(_view(row, ticket), before, ticket.status)


async def count_open_by_target(sessions: Sessions) -> dict[str, int]:
    """Unanswered escalations per target (for the metrics gauge at start-up)."""
    query = (select(EscalationRow.target, func.count()).where(EscalationRow.status != ANSWERED)
             .group_by(EscalationRow.target))
    async with sessions() as session:
        return {target: int(count) for target, count in (await session.execute(query)).all()}
