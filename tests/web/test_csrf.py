"""Cross-site request forgery: the attacker's page is on another port of the same host.

Same site, so SameSite=Strict still sends the victim's cookie; the Origin header gives it away.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from cti.keys import SESSIONS
from cti.storage import audit

Client = TestClient  # type: ignore[type-arg]
Login = Callable[[str, str], Awaitable[None]]
OVERRIDE = {"mode": "closed", "until": "2026-11-24T15:00:00+09:00"}


def attacker(client: Client) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port + 1}"}  # http://127.0.0.1:<other port>


async def test_cross_origin_write_with_the_victims_cookie_is_refused(
    client: Client, login: Login, own_origin: dict[str, str]
) -> None:
    await login("sv01", "supervisor")
    forged = await client.put("/api/calendar/override", json=OVERRIDE, headers=attacker(client))
    assert forged.status == 403
    body = await forged.json()
    assert body["error_id"] == "cross_origin_refused" and body["fault"] == "client"
    assert not await audit.entries(client.app[SESSIONS], action="hours.override")

    for origin in ("null", "http://127.0.0.1", "https://evil.example.invalid", "not a url"):
        response = await client.put("/api/calendar/override", json=OVERRIDE,
                                    headers={"Origin": origin})
        assert response.status == 403, origin

    missing = await client.put("/api/calendar/override", json=OVERRIDE)  # no Origin at all
    assert missing.status == 403

    ok = await client.put("/api/calendar/override", json=OVERRIDE, headers=own_origin)
    assert ok.status == 200
    assert len(await audit.entries(client.app[SESSIONS], action="hours.override")) == 1


async def test_reads_with_the_cookie_need_no_origin(client: Client, login: Login) -> None:
    await login("op01", "operator")
    assert (await client.get("/api/calendar")).status == 200


async def test_bearer_token_writes_are_not_checked(
    client: Client, as_role: Callable[[str], Awaitable[dict[str, str]]]
) -> None:
    supervisor = await as_role("supervisor")
    response = await client.put("/api/calendar/override", json=OVERRIDE,
                                headers={**supervisor, **attacker(client)})
    assert response.status == 200  # a browser never sends a bearer token by itself


async def test_websocket_handshake_from_another_origin_is_refused(
    client: Client, login: Login, own_origin: dict[str, str]
) -> None:
    await login("sv01", "supervisor")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/events", headers=attacker(client))
    assert refused.value.status == 403
    ws = await client.ws_connect("/api/events", headers=own_origin)
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello" and hello["user"] == "sv01"
    await ws.close()


async def test_login_from_another_origin_is_refused(client: Client) -> None:
    response = await client.post("/api/session", headers=attacker(client),
                                 json={"username": "sv01", "password": "x"})
    assert response.status == 403  # login CSRF: logging the victim into another account


async def test_allowed_origins_config_admits_the_proxys_origin(
    aiohttp_client: Callable[..., Awaitable[Client]], database_url: str,
    make_settings: Callable[..., object], login: Login, clock: object,
) -> None:
    from cti.app import build_app

    settings = make_settings(database_url, CTI_HTTP_ALLOWED_ORIGINS="https://cti.example.invalid")
    proxied = await aiohttp_client(build_app(settings, clock=clock))  # type: ignore[arg-type]
    await login("sv01", "supervisor")  # creates the user in the same database
    ok = await proxied.post("/api/session", headers={"Origin": "https://cti.example.invalid"},
                            json={"username": "sv01", "password": "kumo-ringo-hashi-27"})
    assert ok.status == 200
    write = await proxied.put("/api/calendar/override", json=OVERRIDE,
                              headers={"Origin": "https://cti.example.invalid"})
    assert write.status == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
async def test_json_writes_need_a_json_content_type(
    client: Client, login: Login, own_origin: dict[str, str], content_type: str | None
) -> None:
    await login("sv01", "supervisor")
    headers = {**own_origin, **({"Content-Type": content_type} if content_type else {})}
    response = await client.put("/api/calendar/override", data=b'{"mode": "open"}',
                                headers=headers)
    assert response.status == 415
    body = await response.json()
    assert body["error_id"] == "unsupported_media_type"
    plain = await client.post("/api/session", data=b'{"username":"sv01","password":"x"}',
                              headers={"Content-Type": "text/plain"})
    assert plain.status == 415
