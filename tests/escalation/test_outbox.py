"""The mail sender: SMTP outages, back-off, restarts, refused recipients, answers that overtake
mail, a server that drops the connection after DATA, fair order."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiosmtpd.smtp import SMTP, Envelope, Session
from escalation_support import MailCatcher, ticket_for, until
from structlog.testing import capture_logs

from cti.auth import digest, new_secret
from cti.escalation.outbox import backoff_delay
from cti.keys import ESCALATION_OUTBOX, REGISTRY, SESSIONS
from cti.storage import escalations as store
from cti.storage.users import add_token

Client = TestClient


@dataclass
class MovingClock:
    """Starts at the helpdesk's fixed test instant and moves with real time: retries come due."""

    start: datetime
    started: float = field(default_factory=time.monotonic)
    skipped_s: float = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.started + self.skipped_s)

    def skip(self, seconds: float) -> None:
        self.skipped_s += seconds


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))


def test_backoff_doubles_up_to_the_limit() -> None:
    assert [backoff_delay(n, 2.0, 300.0) for n in range(0, 11)] == [
        0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
    assert backoff_delay(10_000, 2.0, 300.0) == 300.0


async def escalate(client: Client, headers: dict[str, str], ticket_id: int, target: str) -> str:
    response = await client.post(f"/api/tickets/{ticket_id}/escalations", headers=headers,
                                 json={"target": target})
    assert response.status == 201, await response.text()
    return str((await response.json())["reference"])


async def test_smtp_down_backs_off_shows_failing_then_sends_when_it_returns(
    client: Client, as_role: Callable[[str], Any], mail: MailCatcher
) -> None:
    await mail.stop()
    operator = await as_role("operator")
    ticket_id = await ticket_for(client, 1)
    sessions = client.app[SESSIONS]
    with capture_logs() as logs:
        reference = await escalate(client, operator, ticket_id, "vendor")

        async def failed_four_times() -> bool:
            return (await store.get_escalation(sessions, reference)).attempts >= 4
        await until(client, failed_four_times)
    failing = await store.get_escalation(sessions, reference)
    assert failing.status == "failing" and failing.sent_at is None
    assert failing.last_error and "connect" in failing.last_error.lower()
    delays = [e["retry_in_s"] for e in logs if e["event"] == "escalation.outbox_backoff"]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4]  # doubling, capped at the configured 0.4 s
    assert not client.app[ESCALATION_OUTBOX].healthy

    supervisor = await as_role("supervisor")
    listed = await (await client.get("/api/escalations", headers=supervisor)).json()
    [shown] = listed["escalations"]
    assert shown["status"] == "failing" and shown["attempts"] >= 4 and shown["last_error"]

    await mail.start()
    client.app[ESCALATION_OUTBOX].wake()
    [message] = await mail.wait_for(1)
    assert reference in message["Subject"]

    async def sent() -> bool:
        return (await store.get_escalation(sessions, reference)).status == "sent"
    await until(client, sent)
    done = await store.get_escalation(sessions, reference)
    assert done.attempts > failing.attempts
    assert done.sent_at is not None and client.app[ESCALATION_OUTBOX].healthy
    assert len(mail.messages) == 1


async def test_unsent_mail_survives_a_restart(
    start_app: Callable[[], Awaitable[Client]], mail: MailCatcher
) -> None:
    await mail.stop()
    first = await start_app()
    ticket_id = await ticket_for(first, 1)
    # Not ``as_role``: it would start a third app (and sender) on the same database.
    token = new_secret()
    await add_token(first.app[SESSIONS], "test-operator", "operator", digest(token),
                    datetime.now(UTC), operator_id="test-operator")
    headers = {"Authorization": f"Bearer {token}"}
    reference = await escalate(first, headers, ticket_id, "city")

    async def tried() -> bool:
        return (await store.get_escalation(first.app[SESSIONS], reference)).attempts >= 1
    await until(first, tried)
    await first.close()  # shut down with the mail still unsent

    await mail.start()
    second = await start_app()
    [message] = await mail.wait_for(1)
    assert reference in message["Subject"] and message["To"] == "isolation.city@example.invalid"

    async def sent() -> bool:
        return (await store.get_escalation(second.app[SESSIONS], reference)).status == "sent"
    await until(second, sent)
    # The open-escalations gauge starts from the table, not from zero.
    assert second.app[REGISTRY].get_sample_value("cti_escalations_open", {"target": "city"}) == 1.0


async def test_a_refused_recipient_does_not_hold_back_the_others(
    client: Client, as_role: Callable[[str], Any], mail: MailCatcher
) -> None:
    mail.refuse.add("isolation.vendor@example.invalid")
    operator = await as_role("operator")
    refused = await escalate(client, operator, await ticket_for(client, 1), "vendor")
    accepted = await escalate(client, operator, await ticket_for(client, 2), "city")
    [message] = await mail.wait_for(1)
    assert accepted in message["Subject"]
    sessions = client.app[SESSIONS]

    async def settled() -> bool:
        views = [await store.get_escalation(sessions, r) for r in (refused, accepted)]
        return views[0].status == "failing" and views[1].status == "sent"
    await until(client, settled)
    bad = await store.get_escalation(sessions, refused)
    assert bad.last_error and "550" in bad.last_error


async def test_an_answer_that_overtakes_the_mail_stops_it(
    client: Client, as_role: Callable[[str], Any], mail: MailCatcher
) -> None:
    await mail.stop()
    operator = await as_role("operator")
    reference = await escalate(client, operator, await ticket_for(client, 1), "vendor")
    sessions = client.app[SESSIONS]

    async def failed() -> bool:
        return (await store.get_escalation(sessions, reference)).status == "failing"
    await until(client, failed)
    typed = await client.post(f"/api/escalations/{reference}/answer", headers=operator,
                              json={"answer": "電話で回答を受領しました。"})
    assert typed.status == 200
    await mail.start()
    outbox = client.app[ESCALATION_OUTBOX]
    for _ in range(2):  # the second round surely began after the server was back
        seen = outbox.rounds
        outbox.wake()
        await until(client, lambda: _rounds_after(outbox, seen))  # noqa: B023
    assert mail.messages == []
    assert (await store.get_escalation(sessions, reference)).status == "answered"
    assert outbox.healthy


async def _rounds_after(outbox: Any, seen: int) -> bool:
    return bool(outbox.rounds > seen)


class DropsAfterData(MailCatcher):
    """Hangs up after receiving the whole message for ``drop`` (``drops_left`` times), without
    a reply: the message is stored here, the client cannot know it."""

    def __init__(self, port: int, drop: str, drops_left: int) -> None:
        super().__init__(port)
        self.drop, self.drops_left = drop, drops_left
        self.dropped: list[str] = []  # Message-IDs received and then hung up on

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop in envelope.rcpt_tos and self.drops_left > 0:
            self.drops_left -= 1
            raw = envelope.original_content or b""
            assert isinstance(raw, bytes)
            self.dropped.append(next(line for line in raw.decode().splitlines()
                                     if line.lower().startswith("message-id:")))
            assert server.transport is not None
            server.transport.abort()
            return "421 gone"
        return await super().handle_DATA(server, session, envelope)


async def test_a_connection_lost_after_data_is_uncertain_never_blocks_the_others_and_is_retried_once(
    aiohttp_client: Callable[..., Awaitable[Client]], database_url: str,
    make_settings: Callable[..., Any], clock: MovingClock, mail: MailCatcher,
) -> None:
    from cti.app import build_app
    from cti.escalation.wiring import escalation_context

    await mail.stop()  # replaced by a server that hangs up after DATA for the isolation vendor
    server = DropsAfterData(mail.port, "isolation.vendor@example.invalid", drops_left=2)
    await server.start()
    retry_s = 3600.0
    try:
        settings = make_settings(database_url, CTI_SMTP_HOST="127.0.0.1",
                                 CTI_SMTP_PORT=str(server.port))
        client = await aiohttp_client(build_app(settings, clock=clock, escalation=escalation_context(
            reply_base_url="https://cti.example.invalid", backoff_start_s=0.05,
            backoff_max_s=0.4, idle_poll_s=30.0, uncertain_retry_s=retry_s,
            overdue_check_s=3600.0)))
        sessions = client.app[SESSIONS]
        token = new_secret()
        await add_token(sessions, "test-operator", "operator", digest(token), datetime.now(UTC),
                        operator_id="test-operator")
        operator = {"Authorization": f"Bearer {token}"}
        dropped = await escalate(client, operator, await ticket_for(client, 1), "vendor")
        others = [await escalate(client, operator, await ticket_for(client, n), "city")
                  for n in (2, 3, 4)]
        arrived = await server.wait_for(3)
        assert sorted(m["X-CTI-Escalation"] for m in arrived) == sorted(others)

        async def uncertain() -> bool:
            return (await store.get_escalation(sessions, dropped)).status == "uncertain"
        await until(client, uncertain)
        first = await store.get_escalation(sessions, dropped)
        assert first.attempts == 1 and first.next_attempt_at is not None
        assert first.last_error and "may have stored" in first.last_error
        listed = await (await client.get("/api/escalations?status=uncertain",
                                         headers=operator)).json()
        assert [e["reference"] for e in listed["escalations"]] == [dropped]
        assert listed["escalations"][0]["next_attempt_at"] is not None
        for other in others:
            assert (await store.get_escalation(sessions, other)).status == "sent"

        outbox = client.app[ESCALATION_OUTBOX]
        for _ in range(2):  # not re-sent before its time
            seen = outbox.rounds
            outbox.wake()
            await until(client, lambda: _rounds_after(outbox, seen))  # noqa: B023
        assert (await store.get_escalation(sessions, dropped)).attempts == 1
        clock.skip(retry_s)  # an hour later: the one retry
        outbox.wake()

        async def retried() -> bool:
            view = await store.get_escalation(sessions, dropped)
            return view.attempts >= 2
        await until(client, retried, limit_s=15)
        second = await store.get_escalation(sessions, dropped)
        assert second.status == "uncertain" and second.next_attempt_at is None  # no more tries
        assert "no more automatic tries" in (second.last_error or "")
        clock.skip(10 * retry_s)
        for _ in range(3):
            seen = outbox.rounds
            outbox.wake()
            await until(client, lambda: _rounds_after(outbox, seen))  # noqa: B023
        assert (await store.get_escalation(sessions, dropped)).attempts == 2
        assert server.dropped == [server.dropped[0]] * 2  # the same Message-ID both times
        assert dropped in server.dropped[0] and len(server.messages) == 3
    finally:
        await server.stop()


async def test_stopping_wins_over_a_driver_that_turns_the_cancel_into_its_own_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncpg can surface a cancelled query as a database error; the outbox and the overdue
    watch used to log it as a failed round and go on, so the service never finished stopping."""
    import asyncio

    from sqlalchemy.exc import OperationalError

    from cti.escalation.outbox import EscalationOutbox
    from cti.escalation.overdue import OverdueWatch

    started = asyncio.Event()

    async def query(*_: object, **__: object) -> Any:
        started.set()
        try:
            await asyncio.Event().wait()  # a query in flight
        except asyncio.CancelledError:
            raise OperationalError("SELECT", {}, Exception("connection was closed")) from None

    monkeypatch.setattr(store, "unsent", query)
    monkeypatch.setattr(store, "list_escalations", query)
    outbox = EscalationOutbox(None, None, None, lambda: datetime.now(UTC))  # type: ignore[arg-type]
    watch = OverdueWatch(None, None, lambda: datetime.now(UTC), "Asia/Tokyo")  # type: ignore[arg-type]
    for run in (outbox.run(), watch.run(60)):
        started.clear()
        task = asyncio.ensure_future(run)
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done and task.cancelled()


async def test_stopping_wins_over_a_mail_client_that_turns_the_cancel_into_its_own_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """aiosmtplib (through asyncio.wait_for on Python 3.11) can report a cancelled connect as
    a timeout: the outbox took it for an unreachable server and backed off instead of
    stopping, and the service's shutdown waited on it for ever (seen as a hung test run)."""
    import asyncio
    from types import SimpleNamespace

    from cti.escalation.mailer import MailNotSent
    from cti.escalation.outbox import EscalationOutbox

    sending = asyncio.Event()

    class Mailer:
        async def send(self, _message: object) -> None:
            sending.set()
            try:
                await asyncio.Event().wait()  # connecting
            except asyncio.CancelledError:
                raise MailNotSent("SMTPTimeoutError: timed out", server_unreachable=True) from None

    async def unsent(*_: object) -> list[object]:
        return [SimpleNamespace(id=1, attempts=0, reference="HD-2026-000001", status="pending",
                                target="vendor")]

    async def record_failure(*_: object, **__: object) -> bool:
        return True

    monkeypatch.setattr(store, "unsent", unsent)
    monkeypatch.setattr(store, "record_failure", record_failure)
    outbox = EscalationOutbox(None, Mailer(), lambda view: None,  # type: ignore[arg-type]
                              lambda: datetime.now(UTC), backoff_start_s=60, backoff_max_s=60)
    task = asyncio.ensure_future(outbox.run())
    await asyncio.wait_for(sending.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()
