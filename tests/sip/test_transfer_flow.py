"""The call centre follows an operator's transfer: another operator's phone rings, or the caller
waits in the target service's queue, and the ticket's timeline shows the transfer. Routing
follows too: the first operator goes to wrap-up, the floor shows the second one on the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tests_support import bearer

from cti.app import build_app
from cti.config import Settings
from cti.keys import CALL_CENTER, TICKET_WRITER
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour

Client = TestClient  # type: ignore[type-arg]
OP01, OP02 = "sip:2201@127.0.0.1:5070", "sip:2202@127.0.0.1:5070"


@pytest.fixture
async def desk(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[Client, MemoryPhoneNetwork]]:
    network = MemoryPhoneNetwork()
    settings = make_settings(database_url, CTI_HOURS_OVERRIDE="open")
    yield await aiohttp_client(build_app(settings, control=network)), network


async def token(client: Client, name: str, role: str) -> dict[str, str]:
    return await bearer(client.app, name, role)


async def settle(client: Client, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        await client.app[CALL_CENTER].wait_for(predicate)


async def connected_to_op01(client: Client, network: MemoryPhoneNetwork) -> str:
    for op in ("op01", "op02"):
        headers = await token(client, op, "operator")
        ready = await client.put(f"/api/operators/{op}/state", json={"state": "available"},
                                 headers=headers)
        assert ready.status == 200, await ready.text()
    network.set_operator(OP01, OperatorBehaviour.RING)
    network.set_operator(OP02, OperatorBehaviour.RING)
    call_id = network.dial(caller="2345")
    await settle(client, lambda: network.call(call_id).playing == ("greeting",))
    network.finish_playback(call_id)
    await settle(client, lambda: (network.call(call_id).playing or ("",))[0].startswith("menu_"))
    network.press(call_id, "1")  # isolation: op01 has the skill, op02 has not
    await settle(client, lambda: network.call(call_id).operator_uri == OP01)
    network.operator_answers(call_id)
    await settle(client, lambda: network.call(call_id).state.name == "BRIDGED")
    return call_id


async def timeline(client: Client, call_id: str) -> list[dict[str, Any]]:
    supervisor = await token(client, "sv01", "supervisor")
    network_done = client.app[TICKET_WRITER]
    await network_done.flush()
    tickets = (await (await client.get("/api/tickets", headers=supervisor)).json())["tickets"]
    ticket = next(t for t in tickets if t["call_id"] == call_id)
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=supervisor)).json()
    return list(detail["timeline"])


async def floor(client: Client) -> dict[str, dict[str, Any]]:
    supervisor = await token(client, "sv01", "supervisor")
    listed = await (await client.get("/api/operators", headers=supervisor)).json()
    return {op["id"]: op for op in listed["operators"]}


async def test_transfer_to_another_operator(desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    call_id = await connected_to_op01(client, network)
    network.operator_transfers(call_id, OP02)
    await settle(client, lambda: network.call(call_id).operator_uri == OP02)
    network.operator_answers(call_id)
    await settle(client, lambda: network.call(call_id).state.name == "BRIDGED")
    ops = await floor(client)
    assert (ops["op01"]["state"], ops["op01"]["call_id"]) == ("wrap_up", None)
    assert (ops["op02"]["state"], ops["op02"]["call_id"]) == ("on_call", call_id)
    events = await timeline(client, call_id)
    moved = next(e for e in events if e["kind"] == "transferred")
    assert moved["data"] == {"from_operator": "op01", "to_operator": "op02",
                             "to_service": "isolation"}
    after = [e["kind"] for e in events[events.index(moved):]]
    assert after == ["transferred", "operator_offered", "connected"], after
    network.caller_hangs_up(call_id)
    await settle(client, lambda: call_id not in client.app[CALL_CENTER].active_calls)
    ops = await floor(client)
    assert ops["op02"]["state"] == "wrap_up"


async def test_transfer_back_to_a_service_queue(desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    call_id = await connected_to_op01(client, network)
    network.operator_transfers(call_id, "sip:queue-skysea@127.0.0.1")
    await settle(client, lambda: network.call(call_id).operator_uri == OP02)  # skysea: op02
    network.operator_answers(call_id)
    await settle(client, lambda: network.call(call_id).state.name == "BRIDGED")
    ops = await floor(client)
    assert ops["op01"]["state"] == "wrap_up"  # never offered its own transfer back
    assert (ops["op02"]["state"], ops["op02"]["call_id"]) == ("on_call", call_id)
    events = await timeline(client, call_id)
    moved = next(e for e in events if e["kind"] == "transferred")
    assert moved["data"] == {"from_operator": "op01", "to_operator": None,
                             "to_service": "skysea"}
    # routing queued it in skysea and offered it to the skilled operator who was free
    after = [(e["kind"], e["data"].get("service") or e["data"].get("operator_id"))
             for e in events[events.index(moved) + 1:]]
    assert after == [("moved", "skysea"), ("operator_offered", "op02"), ("connected", "op02")]
