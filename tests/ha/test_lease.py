"""The active node's lease on a real PostgreSQL: one holder, takeover after expiry with a new
epoch, fencing of a stale epoch, handover without closing the old node's calls, and the local
deadline that stops a node which cannot renew, even while its renewal hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from cti.ha.lease import Taken
from cti.ha.node import LeaseStore, Node, Role
from cti.storage import create_engine, session_factory
from cti.storage import lease as rows
from cti.storage.recovery import close_unfinished_calls
from cti.storage.tickets import TicketFilter, apply_call_event, list_tickets
from cti.tickets.rules import CallRecordEvent

Sessions = async_sessionmaker[AsyncSession]
LEASE_S, RENEW_S = 1.0, 0.2
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
async def pg(postgres_server: object) -> AsyncIterator[Sessions]:
    url = await postgres_server.create_database()  # type: ignore[attr-defined]
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        await rows.ensure_row(sessions)
        yield sessions
    finally:
        await engine.dispose()


def store(sessions: Sessions, *, stall: asyncio.Event | None = None) -> LeaseStore:
    """The real lease operations; ``stall`` set: every call hangs (database unreachable)."""

    async def hang() -> None:
        if stall is not None and stall.is_set():
            await asyncio.Event().wait()

    async def renew(me: str, epoch: int, lease_s: float) -> tuple[bool, bool]:
        await hang()
        r = await rows.renew(sessions, me, epoch, lease_s)
        return r.held, r.handover_requested

    async def take(me: str, lease_s: float) -> tuple[Taken | None, str | None]:
        await hang()
        return await rows.try_take(sessions, me, lease_s, f"http://{me}.invalid")

    async def holder_url() -> str | None:
        await hang()
        row, _ = await rows.read(sessions)
        return None if row is None or row.holder is None else row.holder_url

    return LeaseStore(take=take, renew=renew,
                      release=partial(rows.release, sessions), holder_url=holder_url)


def node(name: str, lease: LeaseStore, taken: list[Taken] | None = None) -> Node:
    async def on_takeover(t: Taken) -> None:
        if taken is not None:
            taken.append(t)

    return Node(name, lease, lease_s=LEASE_S, renew_s=RENEW_S, monotonic=time.monotonic,
                on_takeover=on_takeover)


async def until(predicate: object, within: float = 5.0) -> float:
    """Poll state that no event announces (a role that changes at a deadline), bounded."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_one_holder_then_takeover_after_a_stall_with_a_new_epoch(pg: Sessions) -> None:
    stall = asyncio.Event()
    a_taken: list[Taken] = []
    b_taken: list[Taken] = []
    a, b = node("a", store(pg, stall=stall), a_taken), node("b", store(pg), b_taken)
    task_a = asyncio.create_task(a.run())
    await until(lambda: a.role is Role.ACTIVE)
    task_b = asyncio.create_task(b.run())
    try:
        await asyncio.sleep(LEASE_S * 1.5)  # several renewals: b stays standby
        assert (a.role, b.role, a.admits(), b.admits()) == (Role.ACTIVE, Role.STANDBY, True, False)
        assert a_taken == [Taken(1, None, None)]

        stall.set()  # a cannot reach the database any more; its renewal hangs
        stalled_at = time.monotonic()
        await until(lambda: not a.admits(), within=LEASE_S + 1)
        fenced_after = time.monotonic() - stalled_at
        assert fenced_after <= LEASE_S  # its own deadline, not the hanging call, stops it
        assert b.role is Role.STANDBY  # the database expiry comes after a's deadline
        await until(lambda: b.role is Role.ACTIVE, within=LEASE_S + 2)
        assert b_taken == [Taken(2, "a", "a")]  # a did not give it up: its calls are b's to close
        assert a.role is Role.STANDBY
        assert b.active_url == "http://b.invalid"  # where a standby forwards console traffic

        async with pg() as session, session.begin():  # fencing: a's epoch is refused
            with pytest.raises(rows.Fenced):
                await rows.hold(session, "a", 1)
            await rows.hold(session, "b", 2)
    finally:
        for task in (task_a, task_b):
            task.cancel()
        await asyncio.gather(task_a, task_b, return_exceptions=True)


async def test_handover_gives_the_lease_up_without_closing_the_old_nodes_calls(pg: Sessions) -> None:
    b_taken: list[Taken] = []
    a, b = node("a", store(pg)), node("b", store(pg), b_taken)
    task_a = asyncio.create_task(a.run())
    await until(lambda: a.role is Role.ACTIVE)
    task_b = asyncio.create_task(b.run())
    try:
        assert await rows.request_handover(pg) is not None  # what `cti ha handover` does
        took = await until(lambda: b.role is Role.ACTIVE)
        assert took < 2 * RENEW_S + 1.0
        assert b_taken == [Taken(2, "a", None)]  # released: nothing of a's to close
        await asyncio.sleep(LEASE_S * 1.5)  # a does not take it back
        assert (a.role, b.role) == (Role.STANDBY, Role.ACTIVE)
        row, _ = await rows.read(pg)
        assert row is not None and (row.holder, row.epoch) == ("b", 2)
    finally:
        for task in (task_a, task_b):
            task.cancel()
        await asyncio.gather(task_a, task_b, return_exceptions=True)


async def test_right_after_a_handover_the_old_node_finds_the_new_one_at_once(
        pg: Sessions) -> None:
    """The node that handed over learns the new active node's URL at its next round; a
    console request before that reads the lease row instead of getting a 503 (what
    ``ha.forward`` asks for): one read for requests that arrive together, and after a read
    that found nobody or failed, none again for ``renew_s``. No lease task runs here, and the
    node's clock is ours: every step is explicit."""
    stall = asyncio.Event()
    reads: list[float] = []
    clock = [100.0]
    lease = store(pg, stall=stall)

    async def counted() -> str | None:
        reads.append(clock[0])
        return await lease.holder_url()

    a = Node("a", replace(lease, holder_url=counted), lease_s=LEASE_S, renew_s=RENEW_S,
             monotonic=lambda: clock[0])
    b = node("b", store(pg))
    await a.start()
    assert a.role is Role.ACTIVE and await a.learn_active_url() == "http://a.invalid"  # itself
    await a.hand_over()
    assert (a.role, a.active_url, await a.learn_active_url()) == (Role.STANDBY, None, None)
    assert reads == [100.0]  # read: nobody holds the lease
    await b.start()  # takes the free lease
    assert b.role is Role.ACTIVE and await a.learn_active_url() is None and reads == [100.0]
    clock[0] += RENEW_S
    stall.set()  # the database does not answer a: no URL, a log line, no exception
    with capture_logs() as logs:
        assert await asyncio.wait_for(a.learn_active_url(), LEASE_S * 3) is None
        assert await a.learn_active_url() is None  # not asked again at once
    assert [e["event"] for e in logs] == ["ha.read_failed"] and len(reads) == 2
    stall.clear()
    clock[0] += RENEW_S
    urls = await asyncio.gather(*[a.learn_active_url() for _ in range(5)])
    assert urls == ["http://b.invalid"] * 5 and len(reads) == 3
    assert a.active_url == "http://b.invalid"


async def test_a_clean_stop_releases_at_once(pg: Sessions) -> None:
    a = node("a", store(pg))
    task = asyncio.create_task(a.run())
    await until(lambda: a.role is Role.ACTIVE)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await a.stop()
    row, _ = await rows.read(pg)
    assert row is not None and (row.holder, row.released, row.previous_holder) == (None, True, "a")
    assert await rows.try_take(pg, "b", LEASE_S) == (Taken(2, "a", None), None)


async def test_takeover_closes_only_the_dead_nodes_calls_and_a_late_real_end_wins(
        pg: Sessions) -> None:
    def ev(call: str, seq: int, kind: str, **data: object) -> CallRecordEvent:
        return CallRecordEvent(call, seq, T0 + timedelta(seconds=seq), kind, dict(data))

    for event in (ev("a1", 1, "offered", node="a"), ev("a1", 2, "queued", service="skysea"),
                  ev("a2", 1, "offered", node="a"), ev("b1", 1, "offered", node="b")):
        await apply_call_event(pg, event, T0)
    taken, _ = await rows.try_take(pg, "b", LEASE_S)
    assert taken is not None

    async def fence(session: AsyncSession) -> None:
        await rows.hold(session, "b", taken.epoch)

    result = await close_unfinished_calls(pg, T0 + timedelta(minutes=1),
                                          owned=lambda o: o not in ("b", None),
                                          seq_gap=1_000_000, guard=fence)
    assert sorted(result.call_ids) == ["a1", "a2"]
    # a comes back and applies what it had journalled: a2 really ended (caller hung up)
    for event in (ev("a2", 2, "queued", service="portal"),
                  ev("a2", 3, "ended", hung_up_by="caller", reason="caller_hung_up")):
        await apply_call_event(pg, event, T0)
    outcomes = {t.call_id: t.outcome for t in await list_tickets(pg, TicketFilter())}
    assert outcomes == {"a1": "interrupted", "a2": "abandoned_queue", "b1": None}

    async def stale(session: AsyncSession) -> None:
        await rows.hold(session, "a", 1)

    await apply_call_event(pg, ev("b2", 1, "offered", node="b"), T0)
    with pytest.raises(rows.Fenced):  # a stale node cannot close the live node's calls
        await close_unfinished_calls(pg, T0, owned=lambda o: o == "b", seq_gap=1_000_000,
                                     guard=stale)
    assert {t.call_id: t.outcome for t in await list_tickets(pg, TicketFilter())}["b2"] is None


def test_without_a_lease_store_the_one_node_is_always_active() -> None:
    single = Node("solo", None, lease_s=LEASE_S, renew_s=RENEW_S, monotonic=time.monotonic)
    assert (single.role, single.admits(), single.paired) == (Role.ACTIVE, True, False)


async def test_a_takeover_longer_than_the_lease_keeps_it(pg: Sessions) -> None:
    """Closing a busy hour's calls can take longer than the lease: it is renewed meanwhile."""
    release = asyncio.Event()

    async def slow(taken: Taken) -> None:
        await asyncio.sleep(LEASE_S * 1.5)
        async with pg() as session, session.begin():  # still the holder, with this epoch
            await rows.hold(session, "b", taken.epoch)
        release.set()

    b = Node("b", store(pg), lease_s=LEASE_S, renew_s=RENEW_S, monotonic=time.monotonic,
             on_takeover=slow)
    task = asyncio.create_task(b.run())
    try:
        await until(lambda: b.role is Role.ACTIVE, within=LEASE_S * 3)
        assert release.is_set() and b.epoch == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failed_takeover_keeps_the_dead_nodes_calls_to_close(pg: Sessions) -> None:
    """A takeover that fails is not a release: the next take still closes the others' calls."""
    seen: list[Taken] = []

    async def fails_once(taken: Taken) -> None:
        seen.append(taken)
        if len(seen) == 1:
            raise RuntimeError("database refused the closing events")

    b = Node("b", store(pg), lease_s=LEASE_S, renew_s=RENEW_S, monotonic=time.monotonic,
             on_takeover=fails_once)
    task = asyncio.create_task(b.run())
    try:
        await until(lambda: b.role is Role.ACTIVE, within=LEASE_S * 4)
        assert seen == [Taken(1, None, None), Taken(2, "b", "b")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_operator_states_are_written_only_with_the_current_epoch(pg: Sessions) -> None:
    from cti.storage import presence

    taken, _ = await rows.try_take(pg, "a", LEASE_S)
    assert taken is not None

    def fence(me: str, epoch: int) -> Any:
        async def check(session: AsyncSession) -> None:
            await rows.hold(session, me, epoch)
        return check

    await presence.remember(pg, presence.Presence("op01", "available", ""), T0,
                            guard=fence("a", taken.epoch))
    with pytest.raises(rows.Fenced):
        await presence.remember(pg, presence.Presence("op01", "away", ""), T0,
                                guard=fence("b", taken.epoch))
    assert await presence.recall(pg) == [presence.Presence("op01", "available", "")]
