"""Helpers shared by the escalation tests (imported as ``escalation_support``): a real SMTP server
(aiosmtpd) in the test's own event loop, and waiting on the mail sender's rounds.

The server runs in the test's loop (asyncio server API), so a test can stop it to simulate an
outage and start it again on the same port; arrivals are waited for with a condition.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

from aiohttp.test_utils import TestClient
from aiosmtpd.smtp import SMTP, Envelope, Session

from cti.escalation.wiring import ESCALATION_OUTBOX

Client = TestClient  # type: ignore[type-arg]


class MailCatcher:
    """Collects every mail the SMTP server accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None

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
