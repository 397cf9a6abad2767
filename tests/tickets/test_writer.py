"""Call events become timelines and tickets in the real database, and survive its outages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from cti.storage import create_engine, session_factory, upgrade
from cti.storage.tables import CallEventRow, TicketRow
from cti.storage.tickets import Sessions, TicketFilter, get_ticket, list_tickets
from cti.tickets.journal import Entry, Journal
from cti.tickets.rules import CallRecordEvent
from cti.tickets.writer import TicketWriter

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
KINDS = ("offered", "service_selected", "queued", "operator_offered", "connected", "ended")


def call_events(n: int) -> list[CallRecordEvent]:
    call_id = f"call-{n:04d}"
    start = T0 + timedelta(minutes=n)
    data = {"offered": {"caller_hash": f"h{n % 7}", "caller_display": "2345"},
            "service_selected": {"service": "skysea"}, "queued": {"service": "skysea"},
            "operator_offered": {"operator_id": "op02"}, "connected": {"operator_id": "op02"},
            "ended": {"hung_up_by": "caller", "reason": "bye"}}
    return [CallRecordEvent(call_id, seq, start + timedelta(seconds=10 * seq), kind, data[kind])
            for seq, kind in enumerate(KINDS, start=1)]


async def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            events = await conn.scalar(select(func.count()).select_from(CallEventRow))
            tickets = await conn.scalar(select(func.count()).select_from(TicketRow))
        return int(events or 0), int(tickets or 0)
    finally:
        await engine.dispose()


async def test_events_become_tickets_and_replay_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    applied: list[tuple[str, int]] = []
    writer = TicketWriter(Journal(tmp_path / "j.jsonl"), sessions, lambda: T0,
                          on_applied=lambda e, t: applied.append((e.kind, t)))
    task = asyncio.create_task(writer.run())
    try:
        for n in range(5):
            for event in call_events(n):
                await writer.record(event)
        async with asyncio.timeout(30):
            await writer.flush()
        assert await counts(database_url) == (30, 5)
        tickets = await list_tickets(sessions, TicketFilter(service="skysea"))
        assert len(tickets) == 5
        first = min(tickets, key=lambda t: t.received_at)
        assert first.outcome == "answered" and first.status == "in_progress"
        assert first.wait_seconds == 20.0 and first.talk_seconds == 10.0
        assert first.reference == f"HD-2026-{first.id:06d}"
        _, timeline = await get_ticket(sessions, first.id)
        assert [e.kind for e in timeline] == list(KINDS)
        assert len(applied) == 30
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # A crash before the sidecar was written: the whole journal is replayed, nothing doubles.
    (tmp_path / "j.jsonl.applied").unlink()
    again = TicketWriter(Journal(tmp_path / "j.jsonl"), sessions, lambda: T0)
    task = asyncio.create_task(again.run())
    try:
        async with asyncio.timeout(30):
            await again.flush()
        assert await counts(database_url) == (30, 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_postgres_restart_in_the_middle_of_a_burst_loses_nothing(
    private_postgres: object, tmp_path: Path
) -> None:
    server = private_postgres
    url: str = server.url  # type: ignore[attr-defined]
    engine = create_engine(url)
    await upgrade(engine)
    errors: list[int] = []
    writer = TicketWriter(Journal(tmp_path / "j.jsonl"), session_factory(engine), lambda: T0,
                          on_write_error=lambda: errors.append(1))
    task = asyncio.create_task(writer.run())
    calls = 40
    try:
        with capture_logs() as logs:
            for n in range(calls):
                if n == 15:
                    await asyncio.to_thread(server.stop)  # type: ignore[attr-defined]
                if n == 30:
                    await asyncio.to_thread(server.start)  # type: ignore[attr-defined]
                await asyncio.gather(*(writer.record(e) for e in call_events(n)[:1]))
                for event in call_events(n)[1:]:
                    await writer.record(event)
            async with asyncio.timeout(90):
                await writer.flush()
        assert await counts(url) == (calls * len(KINDS), calls)
        assert errors, "the outage was not noticed"
        events = [entry["event"] for entry in logs]
        assert "tickets.write_failed" in events and "tickets.write_recovered" in events
        assert writer.healthy and writer.backlog_bytes == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_a_record_the_database_refuses_is_set_aside_and_the_rest_goes_on(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    journal = Journal(tmp_path / "j.jsonl")
    errors: list[int] = []
    writer = TicketWriter(journal, session_factory(engine), lambda: T0,
                          on_write_error=lambda: errors.append(1))
    journal.append({"call_id": "broken", "seq": 1, "kind": "offered"})  # no "at": never storable
    unknown = CallRecordEvent("call-x", 1, T0, "offered", {"caller_display": "x"})
    journal.append({**unknown.to_json(), "call_id": "cccccc", "kind": "exploded"})
    task = asyncio.create_task(writer.run())
    try:
        with capture_logs() as logs:
            for event in call_events(1):
                await writer.record(event)
            async with asyncio.timeout(30):
                await writer.flush()
        assert await counts(database_url) == (6, 1)
        set_aside = [json.loads(line) for line in journal.rejected_path.read_text().splitlines()]
        assert [r["record"]["call_id"][:6] for r in set_aside] == ["broken", "cccccc"]
        assert set_aside[0]["error"].startswith("KeyError")
        assert len(errors) == 2
        assert [e["event"] for e in logs].count("tickets.event_set_aside") == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_postgres_restarted_under_a_steady_stream_the_writer_recovers(
    private_postgres: object, tmp_path: Path
) -> None:
    """``pg_ctl restart`` while events keep coming: the pooled connections die with SQLSTATE
    57P01 and new ones meet 57P03 ("shutting down") for a moment; none of it is kept in the pool."""
    server = private_postgres
    url: str = server.url  # type: ignore[attr-defined]
    engine = create_engine(url)
    await upgrade(engine)
    writer = TicketWriter(Journal(tmp_path / "j.jsonl"), session_factory(engine), lambda: T0)
    task = asyncio.create_task(writer.run())
    calls = 60
    try:
        with capture_logs() as logs:
            for n in range(calls):
                if n == 20:
                    restarting = asyncio.create_task(
                        asyncio.to_thread(server.restart))  # type: ignore[attr-defined]
                for event in call_events(n):
                    await writer.record(event)
                await asyncio.sleep(0.02)  # a steady stream, as calls come in
            await restarting
            async with asyncio.timeout(60):
                await writer.flush()
        assert await counts(url) == (calls * len(KINDS), calls)
        assert writer.healthy and writer.rejected_count == 0
        assert "tickets.event_set_aside" not in [entry["event"] for entry in logs]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_a_batch_answers_like_one_event_at_a_time(sessions: Sessions) -> None:
    from cti.storage.tickets import apply_call_event, apply_call_events


    interleaved = [e for group in zip(call_events(1), call_events(2), strict=True) for e in group]
    batch = [*interleaved[:5], interleaved[0], *interleaved[5:]]  # one event twice
    ids = await apply_call_events(sessions, batch, T0)
    assert ids[5] is None and len({i for i in ids if i is not None}) == 2  # two tickets
    assert all(i is not None for n, i in enumerate(ids) if n != 5)
    assert await apply_call_events(sessions, batch, T0) == [None] * len(batch)
    assert await apply_call_event(sessions, call_events(1)[0], T0) is None
    found = await list_tickets(sessions, TicketFilter())
    assert sorted((t.call_id, t.outcome, t.operator_id) for t in found) == [
        ("call-0001", "answered", "op02"), ("call-0002", "answered", "op02")]


async def test_a_batch_larger_than_one_in_list_is_stored_whole(sessions: Sessions) -> None:
    """More calls in one batch than one IN list holds (500: the bind-parameter limits), with
    some of them stored already: every chunk is read, nothing twice, tickets in arrival order."""
    from cti.storage.tickets import apply_call_events

    calls = range(1, 1202)  # three chunks
    first = [call_events(n)[0] for n in calls]
    stored = await apply_call_events(sessions, first[::2], T0)
    assert stored == await _ticket_ids(sessions, first[::2])
    batch = [e for n in calls for e in call_events(n)[:2]]  # offered (half of them stored) + next
    ids = await apply_call_events(sessions, batch, T0)
    fresh = {n for n in calls if n % 2 == 0}  # first[::2] stored calls 1, 3, 5, ...
    for k, (event, ticket) in enumerate(zip(batch, ids, strict=True)):
        n, offered = int(event.call_id[5:]), k % 2 == 0
        assert (ticket is None) == (offered and n not in fresh), (event, ticket)
    tickets = await _ticket_ids(sessions, first)
    assert len(set(tickets)) == len(calls)
    assert [t for n, t in zip(calls, tickets, strict=True) if n in fresh] == sorted(
        t for n, t in zip(calls, tickets, strict=True) if n in fresh)  # arrival order
    assert await apply_call_events(sessions, batch, T0) == [None] * len(batch)


async def _ticket_ids(sessions: Sessions, events: list[CallRecordEvent]) -> list[int]:
    by_call = {t.call_id: t.id for t in await list_tickets(sessions, TicketFilter(limit=5000))}
    return [by_call[e.call_id] for e in events]


async def test_many_events_share_one_fsync_and_the_write_queue_is_bounded(tmp_path: Path) -> None:
    """Group commit: events submitted together are written with one fsync; beyond its bound
    the queue refuses at once (the call path never waits on the disk, and never grows it
    without limit)."""
    from cti.tickets.writer import WriteQueueFull

    journal = Journal(tmp_path / "j.jsonl")
    batches: list[int] = []
    append_many = journal.append_many

    def counting(records: list[dict[str, object]]) -> list[int | Exception]:
        batches.append(len(records))
        return append_many(records)  # type: ignore[return-value]

    journal.append_many = counting  # type: ignore[method-assign]
    writer = TicketWriter(journal, None, lambda: T0, max_queued=12)  # type: ignore[arg-type]
    events = [e for n in range(2) for e in call_events(n)]
    written = [writer.submit(e) for e in events]
    assert writer.queued == 12
    with pytest.raises(WriteQueueFull):
        writer.submit(call_events(3)[0])
    async with asyncio.timeout(10):
        await asyncio.gather(*written)
    assert batches == [12] and writer.queued == 0
    assert len(journal.pending(limit=100)) == 12


class DrainSpy:
    """Records how many journal records each drain of ``writer`` took."""

    def __init__(self, journal: Journal) -> None:
        self.drains: list[int] = []
        pending = journal.pending

        def counting(limit: int = 500) -> list[Entry]:
            entries = pending(limit)
            if entries:
                self.drains.append(len(entries))
            return entries

        journal.pending = counting  # type: ignore[method-assign]


async def test_under_load_the_drain_gathers_but_a_lone_event_and_a_flush_never_wait(
        sessions: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drain's fixed cost per batch is paid once per ``DRAIN_GATHER_S`` under load (here
    30 s, so that nothing but the rules below can end a wait): the first event after a quiet
    spell is applied at once; what comes in after it waits for the next drain, which a
    ``flush()`` starts at once, in one batch."""
    from cti.tickets import writer as writer_module

    monkeypatch.setattr(writer_module, "DRAIN_GATHER_S", 30.0)
    journal = Journal(tmp_path / "j.jsonl")
    spy = DrainSpy(journal)
    applied = asyncio.Event()
    writer = TicketWriter(journal, sessions, lambda: T0, on_applied=lambda e, t: applied.set())
    task = asyncio.create_task(writer.run())
    try:
        first, *rest = [e for n in range(3) for e in call_events(n)]
        await writer.record(first)
        async with asyncio.timeout(10):
            await applied.wait()  # not 30 s later
        for event in rest:
            await writer.record(event)  # each on disk while the drain gathers
        async with asyncio.timeout(10):
            await writer.flush()
        assert spy.drains == [1, len(rest)]
        tickets = await list_tickets(sessions, TicketFilter())
        assert sorted(t.outcome or "" for t in tickets) == ["answered"] * 3
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_full_batch_drains_on_without_gathering(
        sessions: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog (a burst, or the database back after an outage) drains batch after batch."""
    from cti.tickets import writer as writer_module

    monkeypatch.setattr(writer_module, "DRAIN_GATHER_S", 30.0)
    monkeypatch.setattr(writer_module, "DRAIN_BATCH", 5)
    journal = Journal(tmp_path / "j.jsonl")
    spy = DrainSpy(journal)
    events = [e for n in range(2) for e in call_events(n)]
    done = asyncio.Event()
    seen: list[str] = []

    def on_applied(event: CallRecordEvent, ticket_id: int) -> None:
        seen.append(event.kind)
        if len(seen) == len(events):
            done.set()

    writer = TicketWriter(journal, sessions, lambda: T0, on_applied=on_applied)
    await asyncio.gather(*[writer.submit(e) for e in events])  # one write, one fsync
    task = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(10):
            await done.wait()  # no flush: nothing hurries the drain but the full batches
        assert spy.drains == [5, 5, 2]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
