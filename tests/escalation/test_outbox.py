"""The mail sender: SMTP outages, back-off, restarts, refused recipients, answers that overtake mail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from escalation_support import MailCatcher, ticket_for, until
from structlog.testing import capture_logs

from cti.auth import digest, new_secret
from cti.escalation.outbox import backoff_delay
from cti.keys import ESCALATION_OUTBOX, REGISTRY, SESSIONS
from cti.storage import escalations as store
from cti.storage.users import add_token

Client = TestClient


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
