"""Tokens expire and can be revoked; users can be disabled and get new passwords; the CLI does it.

Each refusal is checked at the next request, on both backends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from tests_support import FixedClock

from cti.access.passwords import judge
from cti.auth import digest, new_secret
from cti.cli import main
from cti.cli.accounts import expiry
from cti.cli.common import Refused
from cti.config import Settings
from cti.keys import SESSIONS
from cti.storage import users

Client = TestClient  # type: ignore[type-arg]
Login = Callable[[str, str], Awaitable[None]]


async def bearer(client: Client, name: str, role: str, *, expires_at: datetime | None = None,
                 user: str | None = None) -> tuple[int, dict[str, str]]:
    token = new_secret()
    owner = await users.find_user(client.app[SESSIONS], user) if user else None
    view = await users.add_token(client.app[SESSIONS], name, role, digest(token), datetime.now(UTC),
                                 expires_at=expires_at, user_id=owner.id if owner else None)
    return view.id, {"Authorization": f"Bearer {token}"}


async def test_expired_and_revoked_tokens_get_401(client: Client, clock: FixedClock) -> None:
    _, expiring = await bearer(client, "grafana", "manager", expires_at=clock() + timedelta(hours=1))
    assert (await client.get("/api/calendar", headers=expiring)).status == 200
    clock.now += timedelta(hours=1, seconds=1)
    expired = await client.get("/api/calendar", headers=expiring)
    assert expired.status == 401 and (await expired.json())["error_id"] == "not_authenticated"

    token_id, revocable = await bearer(client, "script", "manager")
    assert (await client.get("/api/calendar", headers=revocable)).status == 200
    assert await users.revoke_token_by_id(client.app[SESSIONS], token_id)
    assert (await client.get("/api/calendar", headers=revocable)).status == 401
    assert not await users.revoke_token_by_id(client.app[SESSIONS], 999_999)


async def test_a_disabled_users_session_and_tokens_are_refused_at_once(
    client: Client, login: Login
) -> None:
    await login("op01", "operator")
    _, token = await bearer(client, "op01-script", "operator", user="op01")
    assert (await client.get("/api/session")).status == 200
    assert (await client.get("/api/calendar", headers=token)).status == 200

    assert await users.set_disabled(client.app[SESSIONS], "op01", True)  # `cti user disable op01`
    assert (await client.get("/api/session")).status == 401
    assert (await client.get("/api/calendar", headers=token)).status == 401
    again = await client.post("/api/session", json={"username": "op01",
                                                    "password": "yuki-kaban-tokei-31"})
    assert again.status == 401

    assert await users.set_disabled(client.app[SESSIONS], "op01", False)
    assert (await client.get("/api/calendar", headers=token)).status == 200
    assert (await client.get("/api/session")).status == 401  # the old session stays ended


async def test_a_new_password_ends_the_users_sessions(client: Client, login: Login) -> None:
    await login("sv01", "supervisor")
    assert (await client.get("/api/session")).status == 200
    assert await users.change_password(client.app[SESSIONS], "sv01", "$argon2id$new")
    assert (await client.get("/api/session")).status == 401


@pytest.mark.parametrize("password, ok", [
    ("short-one", False),                      # fewer than 15 characters
    ("passwordpassword", False),               # common, repeated
    ("123456789012345678", False),             # a sequence
    ("op01op01op01op01op01", False),           # the user's own name
    ("aaaaaaaaaaaaaaaaaaaa", False),
    ("kumo-ringo-hashi-27", True),             # a passphrase of unrelated words
    ("雪だるま・時計台・味噌ラーメン", True),         # Japanese passphrases count characters
])
def test_password_policy(make_settings: Callable[..., Settings], password: str, ok: bool) -> None:
    settings = make_settings()
    verdict = judge(password, settings.auth, username="op01")
    assert verdict.ok is ok, verdict.reason
    if not ok:
        assert verdict.reason


def test_expires_option() -> None:
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert expiry(None, now, 90, tokyo) == now + timedelta(days=90)
    assert expiry(None, now, 0, tokyo) is None
    assert expiry("never", now, 90, tokyo) is None
    assert expiry("12h", now, 90, tokyo) == now + timedelta(hours=12)
    assert expiry("2027-03-31", now, 90, tokyo) == datetime(2027, 3, 31, tzinfo=tokyo)
    for bad in ("0d", "yesterday", "2020-01-01", "99999d"):
        with pytest.raises(Refused):
            expiry(bad, now, 90, tokyo)


def test_cli_users_and_tokens(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # In-process: leave the test run's logging alone (main() would configure it for a terminal).
    monkeypatch.setattr("cti.cli.configure_logging", lambda log_format: None)
    monkeypatch.setenv("CTI_DATABASE_URL", database_url)
    monkeypatch.setenv("CTI_SIP_MODE", "off")
    monkeypatch.setenv("CTI_PASSWORD", "short")
    assert main(["user", "add", "sv01", "--role", "supervisor"]) == 1
    assert "15" in capsys.readouterr().err
    monkeypatch.setenv("CTI_PASSWORD", "kumo-ringo-hashi-27")
    assert main(["user", "add", "sv01", "--role", "supervisor"]) == 0
    assert main(["token", "create", "nightly", "--role", "manager", "--expires", "30d",
                 "--user", "sv01"]) == 0
    assert main(["token", "create", "ghost", "--role", "manager", "--user", "nobody"]) == 1
    capsys.readouterr()
    assert main(["token", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split("\t") == ["id", "name", "role", "user", "created", "expires", "state"]
    row = listed[1].split("\t")
    assert row[1:4] == ["nightly", "manager", "sv01"] and row[6] == "active"
    assert row[5].endswith("+09:00")
    assert main(["token", "revoke", row[0]]) == 0
    assert main(["token", "revoke", "99999"]) == 1
    capsys.readouterr()
    main(["token", "list"])
    assert capsys.readouterr().out.splitlines()[1].endswith("\trevoked")
    assert main(["user", "disable", "sv01"]) == 0
    main(["user", "list"])
    assert "sv01\tsupervisor\tdisabled" in capsys.readouterr().out
    assert main(["user", "enable", "sv01"]) == 0
    monkeypatch.setenv("CTI_PASSWORD", "passwordpassword")
    assert main(["user", "passwd", "sv01"]) == 1
    monkeypatch.setenv("CTI_PASSWORD", "tsuki-hikouki-enpitsu-8")
    assert main(["user", "passwd", "sv01"]) == 0
    assert main(["user", "passwd", "nobody"]) == 1
