"""The escalations repository on both databases: concurrent answers, the outbox's guarded updates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cti.escalation.status import IllegalEscalationTransition, check_transition
from cti.storage import escalations as store
from cti.storage import tickets as ticket_store
from cti.storage.escalations import Sessions
from cti.tickets.rules import CallRecordEvent
from cti.tickets.status import IllegalTicketTransition
from cti.tickets.status import check_transition as check_ticket

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def a_ticket(sessions: Sessions, n: int = 1) -> int:
    ticket_id = None
    for seq, (kind, data) in enumerate([("offered", {"caller_hash": "h-1"}),
                                        ("service_selected", {"service": "portal"}),
                                        ("connected", {"operator_id": "op01"})], start=1):
        ticket_id = await ticket_store.apply_call_event(
            sessions, CallRecordEvent(f"call-{n}", seq, NOW + timedelta(seconds=seq), kind, data), NOW)
    assert ticket_id is not None
    return ticket_id


async def an_escalation(sessions: Sessions, ticket_id: int) -> store.EscalationView:
    return await store.open_escalation(
        sessions,
        store.NewEscalation(ticket_id, "vendor", "ポータル 保守ベンダー", "portal.vendor@example.invalid",
                            "本文", NOW + timedelta(days=2)),
        NOW, check_ticket_status=check_ticket, token_hash=lambda ref, at: f"hash-of-{ref}")


async def test_open_moves_the_ticket_and_numbers_the_escalation(sessions: Sessions) -> None:
    ticket_id = await a_ticket(sessions)
    before, _ = await ticket_store.get_ticket(sessions, ticket_id)
    first = await an_escalation(sessions, ticket_id)
    second = await an_escalation(sessions, ticket_id)  # a ticket may go to city and vendor
    assert (first.reference, second.reference) == ("ESC-2026-000001", "ESC-2026-000002")
    assert first.token_hash == "hash-of-ESC-2026-000001" and first.status == "pending"
    after, _ = await ticket_store.get_ticket(sessions, ticket_id)
    assert after.status == "escalated" and after.version == before.version + 2
    assert await store.count_open_by_target(sessions) == {"vendor": 2}


async def test_only_one_of_many_simultaneous_answers_wins(sessions: Sessions) -> None:
    ticket_id = await a_ticket(sessions)
    view = await an_escalation(sessions, ticket_id)

    async def answer(n: int) -> str:
        try:
            await store.record_answer(
                sessions, view.reference, answer=f"回答 {n}", answered_by=f"by-{n}",
                ticket_note=f"[{view.reference}] 回答 {n}", now=NOW, check=check_transition,
                check_ticket_status=check_ticket)
        except store.AlreadyAnswered:
            return "refused"
        return "recorded"

    results = await asyncio.gather(*(answer(n) for n in range(5)))
    assert sorted(results) == ["recorded"] + ["refused"] * 4
    ticket, _ = await ticket_store.get_ticket(sessions, ticket_id)
    assert ticket.answer.count(view.reference) == 1 and ticket.status == "in_progress"
    done = await store.get_escalation(sessions, view.reference)
    assert done.status == "answered" and done.answer in {f"回答 {n}" for n in range(5)}
    assert await store.count_open_by_target(sessions) == {}


async def test_outbox_updates_leave_answered_escalations_alone(sessions: Sessions) -> None:
    view = await an_escalation(sessions, await a_ticket(sessions))
    assert await store.record_failure(sessions, view.id, "SMTPConnectError: refused", check_transition)
    failing = await store.get_escalation(sessions, view.reference)
    assert (failing.status, failing.attempts, failing.last_error) == (
        "failing", 1, "SMTPConnectError: refused")
    await store.record_answer(sessions, view.reference, answer="電話で回答", answered_by="op01",
                              ticket_note="n", now=NOW, check=check_transition,
                              check_ticket_status=check_ticket)
    assert not await store.record_sent(sessions, view.id, NOW, check_transition)
    assert not await store.record_failure(sessions, view.id, "late", check_transition)
    after = await store.get_escalation(sessions, view.reference)
    assert (after.status, after.attempts, after.sent_at) == ("answered", 1, None)
    assert await store.unsent(sessions, 10, NOW) == []


async def test_refusals(sessions: Sessions) -> None:
    ticket_id = await a_ticket(sessions)
    await ticket_store.update_ticket(sessions, ticket_id, {"status": "closed"}, NOW,
                                     check_status=check_ticket)
    with pytest.raises(IllegalTicketTransition):
        await an_escalation(sessions, ticket_id)
    assert await store.list_escalations(sessions, store.EscalationFilter()) == []
    with pytest.raises(store.TicketMissing):
        await an_escalation(sessions, 999_999)
    with pytest.raises(store.EscalationNotFound):
        await store.get_escalation(sessions, "ESC-2026-999999")
    with pytest.raises(IllegalEscalationTransition):
        check_transition("answered", "sent")


async def test_the_outbox_takes_due_mail_by_next_attempt_time(sessions: Sessions) -> None:
    first, second, third = [await an_escalation(sessions, await a_ticket(sessions, n))
                            for n in (1, 2, 3)]
    assert [v.id for v in await store.unsent(sessions, 10, NOW)] == [first.id, second.id, third.id]
    later = NOW + timedelta(seconds=10)
    assert await store.record_failure(sessions, first.id, "SMTPServerDisconnected", check_transition,
                                      later)
    # The one that failed waits for its time, then comes after the ones that were due before it.
    assert [v.id for v in await store.unsent(sessions, 10, NOW)] == [second.id, third.id]
    assert [v.id for v in await store.unsent(sessions, 10, later)] == [second.id, third.id,
                                                                       first.id]
    assert await store.record_uncertain(sessions, second.id, "lost after DATA", check_transition,
                                        None)  # no automatic retry: never due again
    assert [v.id for v in await store.unsent(sessions, 10, NOW + timedelta(days=9))] == [
        third.id, first.id]
    assert await store.next_due_at(sessions) == later
    shown = await store.get_escalation(sessions, second.reference)
    assert (shown.status, shown.next_attempt_at, shown.attempts) == ("uncertain", None, 1)
