"""Fixtures for the web hardening tests: a logged-in console user and the console's own Origin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient

from cti.auth import hash_password
from cti.keys import SESSIONS
from cti.storage import users

Client = TestClient  # type: ignore[type-arg]
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
PASSWORDS = {"sv01": "kumo-ringo-hashi-27", "op01": "yuki-kaban-tokei-31"}  # invented


@pytest.fixture
def own_origin(client: Client) -> dict[str, str]:
    """What the console's fetch() and WebSocket send: the service's own origin."""
    return {"Origin": f"http://{client.host}:{client.port}"}


@pytest.fixture
def login(client: Client, own_origin: dict[str, str]) -> Callable[[str, str], Awaitable[None]]:
    """Create the user and log the test client in (the session cookie stays in its jar)."""

    async def make(name: str, role: str) -> None:
        await users.add_user(client.app[SESSIONS], name, role, hash_password(PASSWORDS[name]), NOW)
        response = await client.post("/api/session", headers=own_origin,
                                     json={"username": name, "password": PASSWORDS[name]})
        assert response.status == 200, await response.text()

    return make
