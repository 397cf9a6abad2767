"""A real SMTP server (aiosmtpd) on a loopback port, and the app with escalations wired in.

The server runs in the test's own event loop (asyncio server API), so a test can stop it to
simulate an outage and start it again on the same port; arrivals are waited for with a condition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from escalation_support import MailCatcher

from cti.config import Settings
from cti.escalation.wiring import escalation_context

Client = TestClient


@pytest.fixture
def start_app(
    aiohttp_client: Callable[..., Awaitable[Client]],
    database_url: str,
    make_settings: Callable[..., Settings],
    clock: Any,
    mail: MailCatcher,
) -> Callable[[], Awaitable[Client]]:
    """Starts the whole app (as the root fixture builds it) plus the escalation routes and sender;
    call it twice for a restart on the same database."""
    from cti.app import build_app

    async def start() -> Client:
        settings = make_settings(database_url, CTI_SMTP_HOST="127.0.0.1",
                                 CTI_SMTP_PORT=str(mail.port))
        app = build_app(settings, clock=clock, escalation=escalation_context(
            reply_base_url="https://cti.example.invalid", backoff_start_s=0.05, backoff_max_s=0.4,
            idle_poll_s=30.0, overdue_check_s=3600.0))  # tests call the overdue check themselves
        return await aiohttp_client(app)

    return start


@pytest.fixture
async def client(start_app: Callable[[], Awaitable[Client]]) -> Client:
    return await start_app()
