"""The HTTP skeleton: health, metrics, login, role checks, calendar API; on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cti.app import build_app
from cti.auth import hash_password
from cti.config import Settings
from cti.keys import SESSIONS
from cti.storage import audit, users
from cti.web.security import declared_roles

Client = TestClient  # type: ignore[type-arg]
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def test_healthz_and_metrics_are_open(client: Client) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    body = await health.json()
    assert body.pop("node")["role"] == "active"  # one node (no HA node id): always active
    assert body == {"status": "ok", "failing": [], "db": "ok", "sip": "off", "tickets": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")


def test_every_api_route_declares_its_roles(make_settings: Callable[..., Settings]) -> None:
    app = build_app(make_settings())
    api = [r for r in app.router.routes() if r.resource and
           r.resource.canonical.startswith("/api/") and r.method != "HEAD"]
    assert api, "no /api/ routes registered"
    for route in api:
        declared_roles(route.handler)  # raises LookupError if a route forgot


async def test_login_cookie_and_logout(client: Client) -> None:
    await users.add_user(client.app[SESSIONS], "op01", "operator", hash_password("pw-op01-x"), NOW)
    wrong = await client.post("/api/session", json={"username": "op01", "password": "nope"})
    assert wrong.status == 401
    assert (await wrong.json())["error_id"] == "not_authenticated"
    unknown = await client.post("/api/session", json={"username": "ghost", "password": "nope"})
    assert unknown.status == 401
    ok = await client.post("/api/session", json={"username": "op01", "password": "pw-op01-x"})
    assert ok.status == 200 and (await ok.json()) == {"user": "op01", "role": "operator"}
    assert "HttpOnly" in ok.headers["Set-Cookie"]
    me = await client.get("/api/session")
    assert (await me.json()) == {"user": "op01", "role": "operator", "via": "session"}
    origin = {"Origin": f"http://{client.host}:{client.port}"}  # as the console's fetch() sends
    assert (await client.delete("/api/session", headers=origin)).status == 200
    assert (await client.get("/api/session")).status == 401


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1,2]", b'{"username": 5, "password": "x"}', b'{"username": "a"}'],
)
async def test_login_bad_body_is_400(client: Client, body: bytes) -> None:
    response = await client.post("/api/session", data=body,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error_id"] == "invalid_request"


async def test_roles_are_enforced(client: Client, as_role: Callable[[str], object]) -> None:
    assert (await client.get("/api/calendar")).status == 401
    bad = await client.get("/api/calendar", headers={"Authorization": "Bearer forged"})
    assert bad.status == 401
    operator = await as_role("operator")  # type: ignore[misc]
    assert (await client.get("/api/calendar", headers=operator)).status == 200
    denied = await client.put("/api/calendar/override", json={"mode": "open"}, headers=operator)
    assert denied.status == 403
    body = await denied.json()
    assert body["error_id"] == "forbidden" and "supervisor" in body["details"]["allowed"]


async def test_calendar_endpoint(client: Client, as_role: Callable[[str], object]) -> None:
    headers = await as_role("manager")  # type: ignore[misc]
    now = await (await client.get("/api/calendar", headers=headers)).json()
    assert now["open"] is True and now["reason"] is None  # fixed clock: Tuesday 10:00 JST
    holiday = await client.get("/api/calendar", params={"at": "2026-11-23T10:00:00+09:00"},
                               headers=headers)
    body = await holiday.json()
    assert body["open"] is False and body["reason_code"] == "holiday"
    assert "勤労感謝の日" in body["reason"]  # sent as text, not \\u escapes
    assert "勤労感謝の日".encode() in await holiday.read()
    assert body["next_open"] == "2026-11-24T08:45:00+09:00"
    for bad in ("yesterday", "2026-11-23T10:00:00"):
        response = await client.get("/api/calendar", params={"at": bad}, headers=headers)
        assert response.status == 400 and (await response.json())["details"]["field"] == "at"


async def test_override_is_reported_and_survives_restart(
    client: Client, as_role: Callable[[str], object], database_url: str, clock: object,
    aiohttp_client: Callable[..., object], make_settings: Callable[..., Settings],
) -> None:
    supervisor = await as_role("supervisor")  # type: ignore[misc]
    response = await client.put("/api/calendar/override", headers=supervisor,
                                json={"mode": "closed", "until": "2026-11-24T15:00:00+09:00"})
    assert response.status == 200
    body = await response.json()
    assert body["open"] is False and body["reason_code"] == "override_closed"
    assert body["next_open"] == "2026-11-24T15:00:00+09:00"
    entries = await audit.entries(client.app[SESSIONS], action="hours.override")
    assert entries[0].detail == {"mode": "closed", "until": "2026-11-24T15:00:00+09:00"}
    past = await client.put("/api/calendar/override", headers=supervisor,
                            json={"mode": "open", "until": "2020-01-01T00:00:00+09:00"})
    assert past.status == 400

    settings = make_settings(database_url)
    again: Client = await aiohttp_client(build_app(settings, clock=clock))  # type: ignore[operator, arg-type]
    status = await again.get("/api/calendar", headers=supervisor)
    assert (await status.json())["reason_code"] == "override_closed"


async def test_unknown_api_path_is_json_404(client: Client) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status == 404
    assert (await response.json())["error_id"] == "http_404"


async def test_undeclared_route_is_refused(
    aiohttp_client: Callable[..., object], database_url: str,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(database_url)
    app = build_app(settings)

    async def forgot(request: web.Request) -> web.Response:
        return web.json_response({"secret": True})

    app.router.add_get("/api/forgot", forgot)
    client: Client = await aiohttp_client(app)  # type: ignore[operator]
    response = await client.get("/api/forgot")
    assert response.status == 500
    assert (await response.json())["error_id"] == "route_without_roles"


async def test_healthz_names_the_database_when_it_is_gone(
    aiohttp_client: Callable[..., object], postgres_server: Any,
    make_settings: Callable[..., Settings],
) -> None:
    url = await postgres_server.create_database()
    app = build_app(make_settings(url))
    client: Client = await aiohttp_client(app)  # type: ignore[operator]
    assert (await client.get("/healthz")).status == 200
    await postgres_server.drop_database(url)
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert "db" in body["failing"] and body["db"].startswith("error")
