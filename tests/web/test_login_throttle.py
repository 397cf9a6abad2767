"""Password guessing: per-name lock-out (audited, logged with name and address, never the
password) and per-address throttling, both answered 429 with Retry-After and a JSON error."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs
from tests_support import FixedClock

from cti.auth import hash_password
from cti.keys import SESSIONS
from cti.storage import audit, users

Client = TestClient  # type: ignore[type-arg]
PASSWORD = "kumo-ringo-hashi-27"  # invented


async def test_twenty_wrong_passwords_lock_the_name_and_are_audited(
    client: Client, clock: FixedClock
) -> None:
    await users.add_user(client.app[SESSIONS], "sv01", "supervisor", hash_password(PASSWORD),
                         clock())
    statuses = []
    with capture_logs() as logs:
        for attempt in range(20):  # the attacker's loop: 200 guesses in 17 s before
            response = await client.post("/api/session", json={
                "username": "sv01", "password": f"guess-{attempt:04d}-wrong"})
            statuses.append(response.status)
    assert statuses[:10] == [401] * 10  # max_failures_per_user = 10
    assert set(statuses[10:]) == {429}
    last = await response.json()
    assert last["error_id"] == "too_many_login_attempts" and last["fault"] == "client"
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60

    # Even the right password is refused while locked: guessing on tells nothing.
    right = await client.post("/api/session", json={"username": "sv01", "password": PASSWORD})
    assert right.status == 429

    locks = await audit.entries(client.app[SESSIONS], action="auth.lockout_user")
    assert len(locks) == 1
    assert locks[0].detail["user"] == "sv01" and locks[0].detail["address"] == "127.0.0.1"
    events = {e["event"] for e in logs}
    assert {"auth.login_failed", "auth.locked_out", "auth.login_refused"} <= events
    failed = next(e for e in logs if e["event"] == "auth.login_failed")
    assert failed["user"] == "sv01" and failed["address"] == "127.0.0.1"
    assert "guess-" not in json.dumps(logs, default=str)  # never a password in the logs

    clock.now += timedelta(minutes=16)  # the lock-out ends
    later = await client.post("/api/session", json={"username": "sv01", "password": PASSWORD})
    assert later.status == 200


async def test_one_address_trying_many_names_is_throttled(client: Client, clock: FixedClock) -> None:
    statuses = []
    for n in range(21):
        response = await client.post("/api/session", json={
            "username": f"user{n:02d}", "password": "wrong-password-here"})
        statuses.append(response.status)
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    assert (await response.json())["details"]["reason"] == "address_throttled"
    assert await audit.entries(client.app[SESSIONS], action="auth.lockout_address")
    clock.now += timedelta(minutes=15, seconds=1)  # the window slides past the failures
    again = await client.post("/api/session", json={"username": "x", "password": "y"})
    assert again.status == 401


async def test_a_good_login_clears_the_names_count(client: Client, clock: FixedClock) -> None:
    await users.add_user(client.app[SESSIONS], "op01", "operator", hash_password(PASSWORD),
                         clock())
    for _ in range(2):
        for _ in range(9):
            wrong = await client.post("/api/session", json={"username": "op01", "password": "no"})
            assert wrong.status == 401
        ok = await client.post("/api/session", json={"username": "op01", "password": PASSWORD})
        assert ok.status == 200


async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    aiohttp_client: Any, database_url: str, make_settings: Any, clock: FixedClock,
) -> None:
    from cti.app import build_app

    settings = make_settings(database_url, CTI_HTTP_TRUSTED_PROXIES="127.0.0.1")
    proxied: Client = await aiohttp_client(build_app(settings, clock=clock))
    for n in range(20):
        await proxied.post("/api/session", headers={"X-Forwarded-For": "192.0.2.7"},
                           json={"username": f"u{n}", "password": "wrong-password-here"})
    blocked = await proxied.post("/api/session", headers={"X-Forwarded-For": "192.0.2.7"},
                                 json={"username": "u99", "password": "wrong-password-here"})
    assert blocked.status == 429
    other = await proxied.post("/api/session", headers={"X-Forwarded-For": "192.0.2.8"},
                               json={"username": "u99", "password": "wrong-password-here"})
    assert other.status == 401  # another client behind the same proxy is not locked out
    locks = await audit.entries(proxied.app[SESSIONS], action="auth.lockout_address")
    assert locks[0].target == "192.0.2.7"
