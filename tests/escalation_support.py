"""Helpers shared by the escalation, report and integrity tests: a real SMTP server
(aiosmtpd) in the test's own event loop, and waiting on the mail sender's rounds.

The server runs in the test's loop (asyncio server API), so a test can stop it to simulate an
outage and start it again on the same port; arrivals are waited for with a condition.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestClient
from aiosmtpd.smtp import SMTP, Envelope, Session

from cti.keys import ESCALATION_OUTBOX, SESSIONS, TICKET_WRITER
from cti.storage import tickets as ticket_store
from cti.tickets.rules import CallRecordEvent
from cti.tickets.status import check_transition

Client = TestClient
T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
RAW_SUMMARY = ("総務課の山田太郎さん（090-5555-0123）から、分離環境でファイルが無害化されないとの"
               "問い合わせ。連絡先 taro.yamada@example.invalid")


class MailCatcher:
    """Collects every mail the SMTP server accepts; refuses the recipients in ``refuse``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.refuse: set[str] = set()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        async with self._arrived:
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="mail.example.invalid", enable_SMTPUTF8=True),
            "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, limit_s: float = 10.0) -> list[EmailMessage]:
        async with asyncio.timeout(limit_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)


async def until(client: Client, check: Callable[[], Awaitable[bool]], limit_s: float = 15.0) -> None:
    """Wait, round by round of the sender, until ``check()`` holds."""
    outbox = client.app[ESCALATION_OUTBOX]
    async with asyncio.timeout(limit_s):
        while True:
            seen = outbox.rounds
            if await check():
                return
            await outbox.wait_round(seen)


async def ticket_for(client: Client, n: int, *, operator: str = "test-operator",
                     service: str = "isolation", summary: str = RAW_SUMMARY) -> int:
    """A ticket from a real answered call, with a summary as an unredacted legacy record."""
    steps: list[tuple[str, dict[str, Any]]] = [
        ("offered", {"caller_hash": "h-caller-secret", "caller_display": "2345"}),
        ("service_selected", {"service": service}), ("queued", {"service": service}),
        ("connected", {"operator_id": operator}), ("ended", {"hung_up_by": "caller"}),
    ]
    writer = client.app[TICKET_WRITER]
    for seq, (kind, data) in enumerate(steps, start=1):
        await writer.record(CallRecordEvent(f"call-{n}", seq, T0 + timedelta(seconds=seq * 10),
                                            kind, data))
    async with asyncio.timeout(20):
        await writer.flush()
    found = await ticket_store.list_tickets(client.app[SESSIONS], ticket_store.TicketFilter())
    ticket = next(t for t in found if t.call_id == f"call-{n}")
    await ticket_store.update_ticket(client.app[SESSIONS], ticket.id,
                                     {"summary": summary, "category": "無害化"}, T0,
                                     check_status=check_transition)
    return ticket.id
