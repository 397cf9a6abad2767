"""Calls, their timelines and their tickets.

``apply_call_event`` is idempotent: an event already stored (same call and ``seq``) changes
nothing, so replaying a journal after a crash or a database outage is always safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import BindParameter, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.tickets.rules import CallRecordEvent, TicketFacts, automatic_status, derive

from .tables import CallEventRow, CallRow, TicketRow

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class TicketView:
    id: int
    reference: str
    call_id: str | None
    service: str | None
    status: str
    outcome: str | None
    category: str | None
    summary: str
    answer: str
    received_at: datetime
    wait_seconds: float | None
    talk_seconds: float | None
    operator_id: str | None
    caller_hash: str | None
    linked_ticket_id: int | None
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TicketFilter:
    since: datetime | None = None
    until: datetime | None = None
    service: str | None = None
    status: str | None = None
    outcome: str | None = None
    operator_id: str | None = None
    caller_hash: str | None = None
    statuses: frozenset[str] | None = None  # any of these (with ``status``: both must hold)
    limit: int = 200


class TicketNotFound(LookupError):
    pass


class StaleTicket(RuntimeError):
    """The ticket changed since the editor loaded it."""


def _view(row: TicketRow) -> TicketView:
    return TicketView(
        row.id, row.reference, row.call_id, row.service, row.status, row.outcome, row.category,
        row.summary, row.answer, row.received_at, row.wait_seconds, row.talk_seconds,
        row.operator_id, row.caller_hash, row.linked_ticket_id, row.version, row.updated_at,
    )


def reference_for(ticket_id: int, received_at: datetime) -> str:
    return f"HD-{received_at.year}-{ticket_id:06d}"


# The batch path's statements, built once: a statement built per batch costs its construction
# and its cache key every time (SQLAlchemy memoises the key per statement object), and its
# parts were most of the service's cyclic garbage under load (bench/RESULTS.md, issue 14).
_calls_t, _events_t, _tickets_t = (cast(Table, row.__table__)
                                   for row in (CallRow, CallEventRow, TicketRow))
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)  # a chunk of call ids (``_chunks``)
_B_ID: BindParameter[Any] = bindparam("b_id")  # the row an executemany UPDATE is for
_STORED = select(_events_t.c.call_id, _events_t.c.seq).where(_events_t.c.call_id.in_(_IDS))
_EXISTING_CALLS = select(_calls_t.c.id).where(_calls_t.c.id.in_(_IDS))
_INSERT_CALLS = insert(_calls_t)
_INSERT_EVENTS = insert(_events_t)
_TIMELINES = (select(_events_t.c.call_id, _events_t.c.seq, _events_t.c.at, _events_t.c.kind,
                     _events_t.c.data).where(_events_t.c.call_id.in_(_IDS))
              .order_by(_events_t.c.call_id, _events_t.c.seq))
_TICKETS_OF = (select(_tickets_t.c.call_id, _tickets_t.c.id, _tickets_t.c.status,
                      _tickets_t.c.operator_id, _tickets_t.c.version)
               .where(_tickets_t.c.call_id.in_(_IDS)))
_UPDATE_CALL = update(_calls_t).where(_calls_t.c.id == _B_ID)
_INSERT_TICKETS = insert(_tickets_t).returning(_tickets_t.c.id, sort_by_parameter_order=True)
_UPDATE_TICKET = update(_tickets_t).where(_tickets_t.c.id == _B_ID)


async def apply_call_event(sessions: Sessions, event: CallRecordEvent, now: datetime) -> int | None:
    """Store one call event and bring the call row and its ticket up to date.

    Returns the ticket id, or None when the event was already stored (a replay).
    """
    async with sessions() as session, session.begin():
        return await _apply(session, event, now)


async def apply_call_events(
    sessions: Sessions, events: Sequence[CallRecordEvent], now: datetime,
    *, guard: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> list[int | None]:
    """``apply_call_event`` for several events in one transaction (one commit, one fsync), all
    or none, with a fixed number of statements per batch whatever its size (Core, not the ORM
    unit of work, on this hot path): what is stored already, the new call rows, the new events,
    every touched timeline, the tickets to create (in order of the calls' first appearance, so
    ticket numbers follow arrival) and to update. Returns, per event, the ticket id or None for
    a replay. ``guard`` runs first in the same transaction and may refuse it (the HA fencing
    check, ``storage.lease.hold``)."""
    by_call: dict[str, list[CallRecordEvent]] = {}
    for event in events:  # calls in order of first appearance (ticket numbers follow arrival)
        by_call.setdefault(event.call_id, []).append(event)
    ids = list(by_call)
    async with sessions() as session, session.begin():
        if guard is not None:
            await guard(session)
        stored: set[tuple[str, int]] = set()
        for chunk in _chunks(ids):
            stored.update((await session.execute(_STORED, {"ids": chunk})).all())
        new: dict[str, dict[int, CallRecordEvent]] = {}
        for call_id, timeline in by_call.items():
            for event in timeline:  # a seq twice in the batch: the first one counts
                if (call_id, event.seq) not in stored:
                    new.setdefault(call_id, {}).setdefault(event.seq, event)
        if not new:
            return [None] * len(events)
        touched = list(new)
        existing: set[str] = set()
        for chunk in _chunks(touched):
            existing.update((await session.scalars(_EXISTING_CALLS, {"ids": chunk})).all())
        fresh = [{"id": c, "received_at": min(e.at for e in new[c].values())}
                 for c in touched if c not in existing]
        if fresh:
            await session.execute(_INSERT_CALLS, fresh)
        await session.execute(_INSERT_EVENTS, [
            {"call_id": c, "seq": e.seq, "at": e.at, "kind": e.kind, "data": dict(e.data)}
            for c in touched for e in new[c].values()])
        timelines: dict[str, list[CallRecordEvent]] = {c: [] for c in touched}
        tickets: dict[str, tuple[int, str, str | None, int]] = {}
        for chunk in _chunks(touched):
            for row in (await session.execute(_TIMELINES, {"ids": chunk})).all():
                timelines[row[0]].append(CallRecordEvent(row[0], row[1], row[2], row[3],
                                                         dict(row[4] or {})))
            for t in (await session.execute(_TICKETS_OF, {"ids": chunk})).all():
                tickets[t[0]] = (t[1], t[2], t[3], t[4])
        facts = {c: derive(timelines[c]) for c in touched}
        await session.execute(_UPDATE_CALL, [
            {"b_id": c, **_call_values(facts[c])} for c in touched])
        creating = [c for c in touched if c not in tickets]
        if creating:
            created = (await session.execute(_INSERT_TICKETS, [
                {"call_id": c, "reference": f"new-{uuid4().hex[:20]}", "status": "new",
                 "summary": "", "answer": "", "received_at": facts[c].received_at,
                 "version": 0, "created_at": now, "updated_at": now}
                for c in creating])).scalars().all()
            for c, ticket_id in zip(creating, created, strict=True):
                tickets[c] = (ticket_id, "new", None, 0)
            await session.execute(_UPDATE_TICKET, [
                {"b_id": tickets[c][0],
                 "reference": reference_for(tickets[c][0], facts[c].received_at)}
                for c in creating])
        await session.execute(_UPDATE_TICKET, [
            {"b_id": tickets[c][0],
             **_ticket_values(facts[c], tickets[c][1], tickets[c][2], tickets[c][3],
                              frozenset(e.kind for e in timelines[c]), now)}
            for c in touched])
    unanswered = {(c, seq) for c, by_seq in new.items() for seq in by_seq}
    results: list[int | None] = []
    for event in events:  # per event, as apply_call_event would answer them one by one
        key = (event.call_id, event.seq)
        results.append(tickets[event.call_id][0] if key in unanswered else None)
        unanswered.discard(key)
    return results


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    """Bounded IN lists (SQLite's and asyncpg's bind parameter limits)."""
    return [values[i:i + size] for i in range(0, len(values), size)]


def _call_values(facts: TicketFacts) -> dict[str, Any]:
    """The call row's columns from the ticket facts (``_update_call``, as Core values)."""
    return {"received_at": facts.received_at, "sip_call_id": facts.sip_call_id,
            "caller_hash": facts.caller_hash, "caller_display": facts.caller_display,
            "service": facts.service, "answered_at": facts.answered_at,
            "ended_at": facts.ended_at, "outcome": facts.outcome,
            "hung_up_by": facts.hung_up_by, "operator_id": facts.operator_id}


def _ticket_values(facts: TicketFacts, status: str, operator_id: str | None, version: int,
                   kinds: frozenset[str], now: datetime) -> dict[str, Any]:
    """The ticket's columns the call events set (``_update_ticket``, as Core values)."""
    return {"service": facts.service, "outcome": facts.outcome,
            "received_at": facts.received_at, "wait_seconds": facts.wait_seconds,
            "talk_seconds": facts.talk_seconds, "operator_id": facts.operator_id or operator_id,
            "caller_hash": facts.caller_hash, "status": automatic_status(status, facts, kinds),
            "version": version + 1, "updated_at": now}


async def _apply(session: AsyncSession, event: CallRecordEvent, now: datetime) -> int | None:
    exists = await session.scalar(
        select(CallEventRow.id).where(CallEventRow.call_id == event.call_id,
                                      CallEventRow.seq == event.seq)
    )
    if exists is not None:
        return None
    return await _store(session, event.call_id, [event], now)


async def _store(session: AsyncSession, call_id: str, new: Sequence[CallRecordEvent],
                 now: datetime) -> int:
    """Add ``new`` (not yet stored) events of one call; bring its call row and ticket up to date."""
    call = await session.get(CallRow, call_id)
    if call is None:
        call = CallRow(id=call_id, received_at=min(e.at for e in new))
        session.add(call)
        await session.flush()  # no relationship() tells the unit of work: the call row first
    session.add_all([CallEventRow(call_id=call_id, seq=e.seq, at=e.at, kind=e.kind,
                                  data=dict(e.data)) for e in new])
    await session.flush()
    timeline = await _timeline(session, call_id)
    facts = derive(timeline)
    _update_call(call, facts)
    ticket = await session.scalar(select(TicketRow).where(TicketRow.call_id == call_id))
    if ticket is None:
        ticket = TicketRow(call_id=call_id, reference="", status="new", summary="",
                           answer="", received_at=facts.received_at, version=0,
                           created_at=now, updated_at=now)
        session.add(ticket)
        await session.flush()
        ticket.reference = reference_for(ticket.id, facts.received_at)
    _update_ticket(ticket, facts, frozenset(e.kind for e in timeline), now)
    await session.flush()
    return ticket.id


async def _timeline(session: AsyncSession, call_id: str) -> list[CallRecordEvent]:
    rows = (await session.scalars(
        select(CallEventRow).where(CallEventRow.call_id == call_id).order_by(CallEventRow.seq)
    )).all()
    return [CallRecordEvent(r.call_id, r.seq, r.at, r.kind, dict(r.data)) for r in rows]


def _update_call(call: CallRow, facts: TicketFacts) -> None:
    call.received_at = facts.received_at
    call.sip_call_id = facts.sip_call_id
    call.caller_hash = facts.caller_hash
    call.caller_display = facts.caller_display
    call.service = facts.service
    call.answered_at = facts.answered_at
    call.ended_at = facts.ended_at
    call.outcome = facts.outcome
    call.hung_up_by = facts.hung_up_by
    call.operator_id = facts.operator_id


def _update_ticket(ticket: TicketRow, facts: TicketFacts, kinds: frozenset[str], now: datetime) -> None:
    ticket.service = facts.service
    ticket.outcome = facts.outcome
    ticket.received_at = facts.received_at
    ticket.wait_seconds = facts.wait_seconds
    ticket.talk_seconds = facts.talk_seconds
    ticket.operator_id = facts.operator_id or ticket.operator_id
    ticket.caller_hash = facts.caller_hash
    ticket.status = automatic_status(ticket.status, facts, kinds)
    ticket.version += 1
    ticket.updated_at = now


def _filtered(query: Select[Any], f: TicketFilter) -> Select[Any]:
    if f.since is not None:
        query = query.where(TicketRow.received_at >= f.since)
    if f.until is not None:
        query = query.where(TicketRow.received_at < f.until)
    for column, value in ((TicketRow.service, f.service), (TicketRow.status, f.status),
                          (TicketRow.outcome, f.outcome), (TicketRow.operator_id, f.operator_id),
                          (TicketRow.caller_hash, f.caller_hash)):
        if value is not None:
            query = query.where(column == value)
    if f.statuses is not None:
        query = query.where(TicketRow.status.in_(sorted(f.statuses)))
    return query


async def list_tickets(sessions: Sessions, f: TicketFilter) -> list[TicketView]:
    query = _filtered(select(TicketRow), f).order_by(TicketRow.received_at.desc(),
                                                     TicketRow.id.desc()).limit(f.limit)
    async with sessions() as session:
        return [_view(row) for row in (await session.scalars(query)).all()]


async def get_ticket(sessions: Sessions, ticket_id: int) -> tuple[TicketView, list[CallRecordEvent]]:
    async with sessions() as session:
        row = await session.get(TicketRow, ticket_id)
        if row is None:
            raise TicketNotFound(ticket_id)
        timeline = await _timeline(session, row.call_id) if row.call_id else []
        return _view(row), timeline


async def update_ticket(
    sessions: Sessions,
    ticket_id: int,
    changes: Mapping[str, Any],
    now: datetime,
    *,
    check_status: Callable[[str, str], str],
    expected_version: int | None = None,
) -> TicketView:
    """Apply an operator's edit; ``check_status(current, wanted)`` validates a status change."""
    allowed = {"category", "summary", "answer", "status", "linked_ticket_id", "operator_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    async with sessions() as session, session.begin():
        row = await session.get(TicketRow, ticket_id, with_for_update=True)
        if row is None:
            raise TicketNotFound(ticket_id)
        if expected_version is not None and row.version != expected_version:
            raise StaleTicket(f"ticket {row.reference} changed since it was loaded "
                              f"(version {row.version}, not {expected_version})")
        if "status" in changes:
            row.status = check_status(row.status, str(changes["status"]))
        if "linked_ticket_id" in changes and changes["linked_ticket_id"] is not None:
            if await session.get(TicketRow, int(changes["linked_ticket_id"])) is None:
                raise TicketNotFound(changes["linked_ticket_id"])
        for name in ("category", "summary", "answer", "linked_ticket_id", "operator_id"):
            if name in changes:
                setattr(row, name, changes[name])
        row.version += 1
        row.updated_at = now
        await session.flush()
        return _view(row)


async def count_calls_since(sessions: Sessions, since: datetime) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(CallRow).where(CallRow.received_at >= since))
    return int(count or 0)


async def average_talk_seconds(sessions: Sessions, since: datetime) -> float | None:
    """Mean talk time of answered calls since ``since`` (None when there were none)."""
    async with sessions() as session:
        value = await session.scalar(
            select(func.avg(TicketRow.talk_seconds))
            .where(TicketRow.received_at >= since, TicketRow.talk_seconds.is_not(None)))
    return None if value is None else float(value)
