"""The operator's desk from the service's state, users bound to operators, and the metrics a
real call moves. Real database (both backends), real HTTP, the in-memory phone network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from console_support import call_to_menu, settle
from prometheus_client import generate_latest

from cti.app import build_app
from cti.auth import hash_password
from cti.config import Settings
from cti.floor.bindings import binding_problems
from cti.keys import CALL_CENTER, REGISTRY, SESSIONS, TICKET_WRITER
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage.users import OperatorTaken, add_user, bind_operator, list_users

Client = TestClient  # type: ignore[type-arg]
OP01_URI = "sip:2201@127.0.0.1:5070"


@pytest.fixture
async def desk(aiohttp_client: Callable[..., Any], database_url: str,
               make_settings: Callable[..., Settings]) -> AsyncIterator[tuple[Client, MemoryPhoneNetwork]]:
    network = MemoryPhoneNetwork()
    settings = make_settings(database_url, CTI_HOURS_OVERRIDE="open")
    client: Client = await aiohttp_client(build_app(settings, control=network))
    # A browser sends its page's Origin with every write the session cookie carries.
    client.session.headers["Origin"] = f"http://{client.host}:{client.port}"
    now = datetime.now(UTC)
    await add_user(client.app[SESSIONS], "alice", "operator", hash_password("pw-alice-desk"), now,
                   operator_id="op01")
    await add_user(client.app[SESSIONS], "bob", "operator", hash_password("pw-bob-desk"), now)
    yield client, network


async def login(client: Client, user: str, password: str) -> None:
    response = await client.post("/api/session", json={"username": user, "password": password})
    assert response.status == 200, await response.text()


def sample(client: Client, line_start: str) -> float:
    text = generate_latest(client.app[REGISTRY]).decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(line_start))


async def test_a_bound_user_takes_a_call_and_the_desk_survives_a_reload(
        desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    await login(client, "alice", "pw-alice-desk")
    idle = await (await client.get("/api/me/desk")).json()
    assert idle["operator_id"] == "op01" and idle["operator"]["state"] == "offline"
    assert idle["call"] is None and idle["ticket_id"] is None
    ready = await client.put("/api/operators/op01/state", json={"state": "available"})
    assert ready.status == 200, await ready.text()
    assert (await client.put("/api/operators/op02/state", json={"state": "available"})).status == 403

    network.set_operator(OP01_URI, OperatorBehaviour.RING)
    call_id = await call_to_menu(client.app, network)
    network.press(call_id, "1")  # isolation: op01
    await settle(client.app, lambda: network.call(call_id).operator_uri is not None)
    network.operator_answers(call_id)
    await settle(client.app, lambda: network.call(call_id).state.name == "BRIDGED")
    async with asyncio.timeout(10):
        await client.app[TICKET_WRITER].flush()
    # A reload mid-call: the desk says which call, which ticket, which state.
    talking = await (await client.get("/api/me/desk")).json()
    assert talking["operator"]["state"] == "on_call" and talking["call"]["call_id"] == call_id
    assert talking["call"]["caller"] == "2345" and talking["call"]["connected"] is True
    assert talking["ticket_id"] is not None and talking["ticket_id"] == talking["call"]["ticket_id"]
    assert [t["id"] for t in talking["open_tickets"]] == [talking["ticket_id"]]
    handled_before = sample(client, 'cti_handle_seconds_count{service="isolation"}')

    network.caller_hangs_up(call_id)
    await settle(client.app, lambda: call_id not in client.app[CALL_CENTER].active_calls)
    after = await (await client.get("/api/me/desk")).json()
    assert after["call"] is None and after["operator"]["state"] == "wrap_up"
    assert 0 < after["operator"]["wrap_up_left_s"] <= 60
    assert after["ticket_id"] == talking["ticket_id"]  # the form stays until the ticket is done
    assert sample(client, 'cti_handle_seconds_count{service="isolation"}') == handled_before + 1
    assert sample(client, 'cti_calls_total{outcome="ended",service="isolation"}') == 1


async def test_an_unbound_operator_user_is_told_and_refused(
        desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, _ = desk
    await login(client, "bob", "pw-bob-desk")
    mine = await (await client.get("/api/me/desk")).json()
    assert mine["operator_id"] is None and mine["operator"] is None
    tickets = await client.get("/api/tickets")
    assert tickets.status == 403 and "--operator" in (await tickets.json())["message"]
    assert (await client.put("/api/operators/bob/state", json={"state": "available"})).status == 404
    problems = binding_problems(await list_users(client.app[SESSIONS]), ["op01", "op02"])
    assert [(p.kind, p.subject) for p in problems] == [
        ("unbound_operator_user", "bob"), ("operator_without_user", "op02")]
    with pytest.raises(OperatorTaken):
        await bind_operator(client.app[SESSIONS], "bob", "op01")
    bound = await bind_operator(client.app[SESSIONS], "bob", "op02")
    assert bound.operator_id == "op02"


async def test_after_hours_and_menu_hang_ups_are_counted(
        aiohttp_client: Callable[..., Any], database_url: str,
        make_settings: Callable[..., Settings]) -> None:
    network = MemoryPhoneNetwork()
    closed = await aiohttp_client(build_app(
        make_settings(database_url, CTI_HOURS_OVERRIDE="closed"), control=network))
    call_id = network.dial(caller="2345")
    await settle(closed.app, lambda: network.call(call_id).playing is not None)
    network.caller_hangs_up(call_id)
    await settle(closed.app, lambda: call_id not in closed.app[CALL_CENTER].active_calls)
    assert sample(closed, 'cti_calls_unrouted_total{reason="after_hours"}') == 1
    assert sample(closed, 'cti_calls_unrouted_total{reason="menu_hangup"}') == 0


async def test_a_hang_up_in_the_menu_is_counted(desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    in_menu = await call_to_menu(client.app, network)
    network.caller_hangs_up(in_menu)
    await settle(client.app, lambda: in_menu not in client.app[CALL_CENTER].active_calls)
    assert sample(client, 'cti_calls_unrouted_total{reason="menu_hangup"}') == 1
    assert sample(client, 'cti_calls_unrouted_total{reason="after_hours"}') == 0


# Series the dashboards and rules read that no call moves: configuration, the clock, SIP,
# escalations, write errors, and recording/alert rule outputs.
NOT_MOVED_BY_A_CALL = frozenset({
    "cti_calls_baseline", "cti_calls_baseline_current_month", "cti_calls_expected_to_date",
    "cti_calls_forecast_month", "cti_business_hours", "cti_staffing_forecast",
    "cti_escalations_open", "cti_sip_registered", "cti_tickets_write_errors_total",
    "cti_reports_failing",  # the monthly report schedule, not calls
    "cti_staffing_recommended",  # moves with the handle-time mean, but may round to the same
    "cti_node_active",  # the node's role in an HA pair (tests/ha), not calls
    "cti_media_up", "cti_media_late_ticks_total",  # media workers (tests/sip/test_media_worker)
    # callers refused, SIP datagrams dropped: overload, not a call (tests/sip/test_flood.py)
    "cti_sip_invites_refused_total", "cti_sip_datagrams_dropped_total",
})


def dashboard_series() -> set[str]:
    root = Path(__file__).parents[2] / "config"
    text = "".join(p.read_text(encoding="utf-8") for p in [
        *(root / "grafana" / "dashboards").glob("*.json"), root / "prometheus" / "rules.yml"])
    names = set(re.findall(r"\b(cti_[a-z_]+)(?![a-z_:])", text))
    recorded = set(re.findall(r"record: *([a-z_:]+)", text))
    return {n for n in names if n not in recorded and not n.startswith("cti_alerts")
            and n not in ("cti_recording",)}


def samples(client: Client) -> dict[str, float]:
    out = {}
    for line in generate_latest(client.app[REGISTRY]).decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


async def test_a_real_call_moves_every_series_the_dashboards_use(
        desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    await login(client, "alice", "pw-alice-desk")
    network.set_operator(OP01_URI, OperatorBehaviour.RING)
    assert (await client.put("/api/operators/op01/state", json={"state": "available"})).status == 200
    snapshots = [samples(client)]
    call_id = await call_to_menu(client.app, network)
    network.press(call_id, "1")
    await settle(client.app, lambda: network.call(call_id).operator_uri is not None)
    snapshots.append(samples(client))  # ringing op01: the call still waits
    network.operator_answers(call_id)
    await settle(client.app, lambda: network.call(call_id).state.name == "BRIDGED")
    snapshots.append(samples(client))
    network.caller_hangs_up(call_id)
    await settle(client.app, lambda: call_id not in client.app[CALL_CENTER].active_calls)
    snapshots.append(samples(client))

    def moved(name: str) -> bool:
        keys = {k for snap in snapshots for k in snap if k.split("{")[0] == name}
        return any(len({snap.get(k) for snap in snapshots}) > 1 for k in keys)

    wanted = dashboard_series() - NOT_MOVED_BY_A_CALL
    assert {"cti_handle_seconds_count", "cti_calls_total", "cti_service_level_ratio"} <= wanted
    assert sorted(n for n in wanted if not moved(n)) == []
