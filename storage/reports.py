"""What the monthly deliverables read and keep: a month's tickets with their calls and
escalations, counts for comparisons, the incidents declared, and the produced sets themselves.

Also the bulk writer behind ``cti seed-month``: whole call timelines in one transaction, with the
ticket facts derived by the same rules the live ticket writer uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.tickets.rules import CallRecordEvent, automatic_status, derive

from .escalations import reference_for as escalation_reference
from .tables import AuditEntryRow, CallEventRow, CallRow, EscalationRow, ProducedReportRow, TicketRow
from .tickets import reference_for as ticket_reference

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class TicketFigures:
    service: str | None
    outcome: str | None
    status: str
    category: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    escalations: int


@dataclass(frozen=True, slots=True)
class EscalationRecord:
    reference: str
    target: str
    contact_name: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    due_at: datetime | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket of the month as the response history shows it."""

    reference: str
    received_at: datetime
    service: str | None
    category: str | None
    summary: str
    answer: str
    operator_id: str | None
    outcome: str | None
    status: str
    wait_seconds: float | None
    talk_seconds: float | None
    answered_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    escalations: tuple[EscalationRecord, ...]


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    at: datetime
    declared_by: str
    service: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ProducedReport:
    id: int
    month: str
    version: int
    trigger: str
    built_by: str
    built_at: datetime
    folder: str
    files: Mapping[str, Any]
    checksum: str
    received: int
    mailed_at: datetime | None
    mail_attempts: int
    mail_error: str | None


@dataclass(frozen=True, slots=True)
class NewProducedReport:
    month: str
    trigger: str
    built_by: str
    built_at: datetime
    folder: str
    files: Mapping[str, Any]
    checksum: str
    received: int


async def ticket_figures(sessions: Sessions, since: datetime, until: datetime) -> list[TicketFigures]:
    escalations = (select(EscalationRow.ticket_id, func.count().label("n"))
                   .group_by(EscalationRow.ticket_id).subquery())
    query = (
        select(TicketRow.service, TicketRow.outcome, TicketRow.status, TicketRow.category,
               TicketRow.wait_seconds, TicketRow.talk_seconds,
               func.coalesce(escalations.c.n, 0))
        .outerjoin(escalations, escalations.c.ticket_id == TicketRow.id)
        .where(TicketRow.received_at >= since, TicketRow.received_at < until)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [TicketFigures(*row) for row in rows]


async def ticket_records(sessions: Sessions, since: datetime, until: datetime) -> list[TicketRecord]:
    """The month's tickets in the order they came in, each with its call times and escalations."""
    query = (
        select(TicketRow, CallRow.answered_at, CallRow.ended_at)
        .outerjoin(CallRow, CallRow.id == TicketRow.call_id)
        .where(TicketRow.received_at >= since, TicketRow.received_at < until)
        .order_by(TicketRow.received_at, TicketRow.id)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
        ids = [row[0].id for row in rows]
        escalations: dict[int, list[EscalationRecord]] = {}
        for start in range(0, len(ids), 500):  # bounded IN lists
            chunk = ids[start:start + 500]
            found = (await session.scalars(
                select(EscalationRow).where(EscalationRow.ticket_id.in_(chunk))
                .order_by(EscalationRow.created_at, EscalationRow.id))).all()
            for e in found:
                escalations.setdefault(e.ticket_id, []).append(EscalationRecord(
                    e.reference, e.target, e.contact_name, e.status, e.created_at, e.sent_at,
                    e.due_at, e.answered_at))
    return [TicketRecord(
        t.reference, t.received_at, t.service, t.category, t.summary, t.answer, t.operator_id,
        t.outcome, t.status, t.wait_seconds, t.talk_seconds, answered_at, ended_at, t.updated_at,
        tuple(escalations.get(t.id, ())),
    ) for t, answered_at, ended_at in rows]


async def count_received(sessions: Sessions, since: datetime, until: datetime) -> int:
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(TicketRow).where(
            TicketRow.received_at >= since, TicketRow.received_at < until))
    return int(count or 0)


async def first_received_at(sessions: Sessions) -> datetime | None:
    async with sessions() as session:
        return await session.scalar(select(func.min(TicketRow.received_at)))


async def incidents_declared(sessions: Sessions, since: datetime, until: datetime) -> list[IncidentRecord]:
    """Incident notices put up in the period (the audit log is their durable record)."""
    query = (select(AuditEntryRow).where(AuditEntryRow.action == "incident.declare",
                                         AuditEntryRow.at >= since, AuditEntryRow.at < until)
             .order_by(AuditEntryRow.at, AuditEntryRow.id).limit(500))
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [IncidentRecord(r.at, r.actor, r.target, dict(r.detail)) for r in rows]


# -- produced sets --------------------------------------------------------------------------

def _produced(row: ProducedReportRow) -> ProducedReport:
    return ProducedReport(row.id, row.month, row.version, row.trigger, row.built_by, row.built_at,
                          row.folder, dict(row.files), row.checksum, row.received, row.mailed_at,
                          row.mail_attempts, row.mail_error)


async def next_version(sessions: Sessions, month: str) -> int:
    async with sessions() as session:
        latest = await session.scalar(select(func.max(ProducedReportRow.version))
                                      .where(ProducedReportRow.month == month))
    return int(latest or 0) + 1


async def add_produced(sessions: Sessions, new: NewProducedReport, version: int) -> ProducedReport:
    async with sessions() as session, session.begin():
        row = ProducedReportRow(month=new.month, version=version, trigger=new.trigger,
                                built_by=new.built_by[:64], built_at=new.built_at,
                                folder=new.folder, files=dict(new.files), checksum=new.checksum,
                                received=new.received, mail_attempts=0)
        session.add(row)
        await session.flush()
        return _produced(row)


async def list_produced(sessions: Sessions, month: str | None = None,
                        limit: int = 200) -> list[ProducedReport]:
    query = select(ProducedReportRow).order_by(ProducedReportRow.month.desc(),
                                               ProducedReportRow.version.desc()).limit(limit)
    if month is not None:
        query = query.where(ProducedReportRow.month == month)
    async with sessions() as session:
        return [_produced(r) for r in (await session.scalars(query)).all()]


async def get_produced(sessions: Sessions, report_id: int) -> ProducedReport | None:
    async with sessions() as session:
        row = await session.get(ProducedReportRow, report_id)
        return None if row is None else _produced(row)


async def produced_months(sessions: Sessions) -> set[str]:
    async with sessions() as session:
        return set((await session.scalars(select(ProducedReportRow.month).distinct())).all())


async def unmailed(sessions: Sessions) -> list[ProducedReport]:
    """Sets produced automatically whose mail has not gone out yet, oldest first."""
    query = (select(ProducedReportRow).where(ProducedReportRow.mailed_at.is_(None),
                                             ProducedReportRow.trigger != "manual")
             .order_by(ProducedReportRow.id).limit(24))
    async with sessions() as session:
        return [_produced(r) for r in (await session.scalars(query)).all()]


async def record_mail(sessions: Sessions, report_id: int, at: datetime, error: str | None) -> None:
    values: dict[str, Any] = {"mail_attempts": ProducedReportRow.mail_attempts + 1,
                              "mail_error": error[:2000] if error else None}
    if error is None:
        values["mailed_at"] = at
    async with sessions() as session, session.begin():
        await session.execute(update(ProducedReportRow).where(ProducedReportRow.id == report_id)
                              .values(**values))


# -- the fixture generator's writer ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SeededEscalation:
    target: str
    contact_name: str
    contact_email: str
    message: str
    created_at: datetime
    sent_at: datetime | None
    due_at: datetime
    answered_at: datetime | None
    answer: str | None


@dataclass(frozen=True, slots=True)
class SeededCall:
    events: Sequence[CallRecordEvent]
    category: str | None = None
    summary: str = ""
    answer: str = ""
    status: str | None = None  # the operator's final status; None leaves the automatic one
    updated_at: datetime | None = None
    escalations: Sequence[SeededEscalation] = field(default=())


async def add_seeded_calls(sessions: Sessions, calls: Sequence[SeededCall], now: datetime) -> int:
    """Write whole calls (timeline, call row, ticket, escalations) in one transaction."""
    async with sessions() as session, session.begin():
        facts = [derive(call.events) for call in calls]
        for call, f in zip(calls, facts, strict=True):
            session.add(CallRow(
                id=call.events[0].call_id, sip_call_id=f.sip_call_id, caller_hash=f.caller_hash,
                caller_display=f.caller_display, service=f.service, received_at=f.received_at,
                answered_at=f.answered_at, ended_at=f.ended_at, outcome=f.outcome,
                hung_up_by=f.hung_up_by, operator_id=f.operator_id))
        await session.flush()
        tickets = []
        for call, f in zip(calls, facts, strict=True):
            session.add_all(CallEventRow(call_id=e.call_id, seq=e.seq, at=e.at, kind=e.kind,
                                         data=dict(e.data)) for e in call.events)
            status = automatic_status("new", f, frozenset(e.kind for e in call.events))
            ticket = TicketRow(
                call_id=call.events[0].call_id, reference=f"seed-{call.events[0].call_id[:19]}",
                service=f.service, status=call.status or status, outcome=f.outcome,
                category=call.category, summary=call.summary, answer=call.answer,
                received_at=f.received_at, wait_seconds=f.wait_seconds,
                talk_seconds=f.talk_seconds, operator_id=f.operator_id, caller_hash=f.caller_hash,
                version=1, created_at=f.received_at,
                updated_at=call.updated_at or f.ended_at or now)
            tickets.append(ticket)
        session.add_all(tickets)
        await session.flush()
        escalations: list[EscalationRow] = []
        for call, ticket in zip(calls, tickets, strict=True):
            ticket.reference = ticket_reference(ticket.id, ticket.received_at)
            for esc in call.escalations:
                escalations.append(EscalationRow(
                    reference=f"seed-{ticket.id}-{len(escalations)}", ticket_id=ticket.id,
                    target=esc.target, contact_name=esc.contact_name,
                    contact_email=esc.contact_email, token_hash="0" * 64,
                    status="answered" if esc.answered_at else ("sent" if esc.sent_at else "pending"),
                    message=esc.message, created_at=esc.created_at, sent_at=esc.sent_at,
                    due_at=esc.due_at, attempts=1 if esc.sent_at else 0, answer=esc.answer,
                    answered_at=esc.answered_at, answered_by="seed" if esc.answered_at else None))
        session.add_all(escalations)
        await session.flush()
        for row in escalations:
            row.reference = escalation_reference(row.id, row.created_at)
    return len(calls)
