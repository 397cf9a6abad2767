"""Hostile input gets a JSON 400 naming the field, before the database; never a plain-text 500,
never SQL text. Each attacker's request is spelled out; both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from cti.web.security import allow_any_user

Client = TestClient  # type: ignore[type-arg]
JSON = {"Content-Type": "application/json"}


async def assert_json_error(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = await response.json()
    assert set(body) == {"error_id", "message", "fault", "details"}
    text = json.dumps(body).lower()
    for leak in ("select ", "insert ", "sqlalchemy", "asyncpg", "traceback", "[sql"):
        assert leak not in text, body
    if field is not None:
        assert body["details"]["field"] == field, body
    return body


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,                       # RecursionError in json.loads before
    b'{"username": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
])
async def test_deep_json_is_400(client: Client, raw: bytes) -> None:
    response = await client.post("/api/session", data=raw, headers=JSON)
    body = await assert_json_error(response, 400)
    assert "nested deeper" in body["message"]


async def test_brackets_inside_strings_do_not_count_as_depth(client: Client) -> None:
    name = "[" * 60
    response = await client.post("/api/session", headers=JSON,
                                 data=json.dumps({"username": name, "password": "x"}).encode())
    assert response.status == 401  # parsed fine; just a wrong login


@pytest.mark.parametrize("number", [b"1" * 5000, b"9223372036854775808", b"-9223372036854775809",
                                    b"1e999", b"NaN", b"-Infinity"])
async def test_huge_or_non_finite_numbers_are_400(
    client: Client, as_role: Callable[[str], Any], number: bytes
) -> None:
    supervisor = await as_role("supervisor")
    response = await client.put("/api/calendar/override", headers={**supervisor, **JSON},
                                data=b'{"mode": "open", "until": [' + number + b"]}")
    await assert_json_error(response, 400)


async def test_nul_in_login_name_is_400_before_the_database(client: Client) -> None:
    # On PostgreSQL this used to reach asyncpg and come back as a 503 with the SQL statement.
    response = await client.post("/api/session", headers=JSON,
                                 data=b'{"username": "adm\\u0000in", "password": "x"}')
    await assert_json_error(response, 400, "username")


async def test_lone_surrogate_is_400(client: Client) -> None:
    response = await client.post("/api/session", headers=JSON,
                                 data=b'{"username": "op\\ud800", "password": "x"}')
    await assert_json_error(response, 400, "username")
    key = await client.post("/api/session", headers=JSON,
                            data=b'{"username": "a", "password": "x", "\\u0000": 1}')
    await assert_json_error(key, 400, "<key>")


async def test_nested_field_is_named(client: Client, as_role: Callable[[str], Any]) -> None:
    supervisor = await as_role("supervisor")
    response = await client.put("/api/incident", headers={**supervisor, **JSON},
                                data=b'{"notice": {"ja": ["ok", "bad\\u0000"]}}')
    await assert_json_error(response, 400, "notice.ja[1]")


async def test_nul_in_path_and_query_is_400(client: Client, as_role: Callable[[str], Any]) -> None:
    supervisor = await as_role("supervisor")
    path = await client.post("/api/escalations/ref%00x/reply", headers=JSON, json={})
    await assert_json_error(path, 400, "ref")
    query = await client.get("/api/tickets", params={"service": "sky\x00sea"}, headers=supervisor)
    await assert_json_error(query, 400, "service")


@pytest.mark.parametrize("at", ["0000-01-01T00:00:00+00:00", "0001-01-01T00:00:00+09:00",
                                "9999-12-31T23:59:59-09:00", "1850-01-01T00:00:00+09:00",
                                "2026-13-01T00:00:00+09:00"])
async def test_dates_out_of_range_are_400(
    client: Client, as_role: Callable[[str], Any], at: str
) -> None:
    manager = await as_role("manager")
    calendar = await client.get("/api/calendar", params={"at": at}, headers=manager)
    await assert_json_error(calendar, 400, "at")
    tickets = await client.get("/api/tickets", params={"since": at}, headers=manager)
    await assert_json_error(tickets, 400, "since")


async def test_until_that_is_not_text_is_400(client: Client, as_role: Callable[[str], Any]) -> None:
    supervisor = await as_role("supervisor")
    response = await client.put("/api/calendar/override", headers=supervisor,
                                json={"mode": "open", "until": 12})
    await assert_json_error(response, 400, "until")


async def with_route(aiohttp_client: Callable[..., Any], settings: Any, paths: tuple[str, ...],
                     handler: Callable[[web.Request], Any]) -> tuple[Client, dict[str, str]]:
    """The service with one more route (the bug under test) and a manager's bearer token."""
    from cti.app import build_app
    from cti.auth import digest, new_secret
    from cti.keys import SESSIONS
    from cti.storage.users import add_token

    app = build_app(settings)
    for path in paths:
        app.router.add_get(path, allow_any_user(handler))
    client: Client = await aiohttp_client(app)
    token = new_secret()
    await add_token(client.app[SESSIONS], "t", "manager", digest(token), make_now())
    return client, {"Authorization": f"Bearer {token}"}


async def test_a_bug_answers_json_500_with_a_reference_and_logs_the_traceback(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Any],
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals: SELECT * FROM users")

    client, manager = await with_route(aiohttp_client, make_settings(database_url),
                                       ("/api/broken", "/broken-page"), broken)
    with capture_logs() as logs:
        response = await client.get("/api/broken", headers=manager)
        page = await client.get("/broken-page")
    body = await assert_json_error(response, 500)
    assert "secret internals" not in json.dumps(body)
    reference = body["details"]["reference"]
    logged = [e for e in logs if e["event"] == "http.internal_error"]
    assert logged[0]["reference"] == reference and logged[0]["exc_info"]
    await assert_json_error(page, 500)  # outside /api/ too: no plain-text 500 anywhere


async def test_unknown_paths_and_methods_are_json(client: Client) -> None:
    missing = await client.get("/no-such-page")
    await assert_json_error(missing, 404)
    method = await client.patch("/api/session", json={})
    body = await assert_json_error(method, 405)
    assert body["error_id"] == "http_405" and "GET" in method.headers["Allow"]


def make_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize("path", [f"/api/tickets/{2**40}", f"/api/tickets/{'9' * 30}/related",
                                  f"/api/escalations?ticket={2**40}", "/api/tickets?limit=-99999999999999"])
async def test_huge_numbers_in_the_url_are_400(
    client: Client, as_role: Callable[[str], Any], path: str
) -> None:
    # 2**40 passes Python's int() but not PostgreSQL's INTEGER id columns: the driver's refusal
    # used to come back as a 503 with the statement in the details.
    manager = await as_role("manager")
    await assert_json_error(await client.get(path, headers=manager), 400)


async def test_a_database_refusal_never_shows_sql(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Any],
) -> None:
    from sqlalchemy import text

    from cti.keys import ENGINE

    async def wrong_sql(request: web.Request) -> web.Response:  # a bug in one of our queries
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT secret FROM no_such_table WHERE caller = :c"),
                               {"c": "090-0000-0000"})
        return web.json_response({})

    client, manager = await with_route(aiohttp_client, make_settings(database_url),
                                       ("/api/wrong-sql",), wrong_sql)
    with capture_logs() as logs:
        response = await client.get("/api/wrong-sql", headers=manager)
    body = await assert_json_error(response, 500)  # our bug, not "database unavailable"
    assert "no_such_table" not in json.dumps(body)
    logged = [e for e in logs if e["event"] == "http.internal_error"]
    assert logged and logged[0]["reference"] == body["details"]["reference"]
    everything = json.dumps(logs, default=str)
    assert "no_such_table" not in everything and "090-0000-0000" not in everything


async def test_digits_in_free_text_queries_are_not_numbers(
    client: Client, as_role: Callable[[str], Any]
) -> None:
    manager = await as_role("manager")
    response = await client.get("/api/knowledge", params={"q": "0000000000000099"}, headers=manager)
    assert response.status != 400 or (await response.json())["details"].get("field") != "q"
