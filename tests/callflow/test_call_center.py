"""A whole call through the service, with the in-memory phone network in place of SIP.

Caller dials, hears the greeting and menu, presses a digit, waits in the queue; the operator
logs in, gets the screen pop on the websocket, answers; the call ends and the ticket says what
happened. Real database (both backends), real HTTP and websocket, real journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tests_support import bearer

from cti.app import build_app
from cti.config import Settings
from cti.keys import CALL_CENTER, SESSIONS, TICKET_WRITER
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import audit, create_engine, session_factory

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def desk(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[Client, MemoryPhoneNetwork]]:
    network = MemoryPhoneNetwork()
    settings = make_settings(database_url, CTI_HOURS_OVERRIDE="open")
    client: Client = await aiohttp_client(build_app(settings, control=network))
    yield client, network


async def token(client: Client, name: str, role: str) -> dict[str, str]:
    return await bearer(client.app, name, role)


async def settle(client: Client, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        await client.app[CALL_CENTER].wait_for(predicate)


def playing(network: MemoryPhoneNetwork, call_id: str) -> tuple[str, ...] | None:
    return network.call(call_id).playing


async def reach_menu(client: Client, network: MemoryPhoneNetwork, caller: str = "2345") -> str:
    """Dial, hear the greeting to its end, and wait for the menu; returns the call id."""
    call_id = network.dial(caller=caller)
    await settle(client, lambda: playing(network, call_id) == ("greeting",))
    network.finish_playback(call_id)
    await settle(client, lambda: (playing(network, call_id) or ("",))[0].startswith("menu_"))
    return call_id


async def ended_ticket(client: Client, call_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """Once the call centre has let the call go and its events are stored: its ticket."""
    await settle(client, lambda: call_id not in client.app[CALL_CENTER].active_calls)
    async with asyncio.timeout(10):
        await client.app[TICKET_WRITER].flush()
    tickets = (await (await client.get("/api/tickets", headers=headers)).json())["tickets"]
    return next(t for t in tickets if t["call_id"] == call_id)


async def test_answered_call_end_to_end(desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    op = await token(client, "op01", "operator")
    supervisor = await token(client, "sv01", "supervisor")
    ws = await client.ws_connect("/api/events", headers=op)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    network.set_operator("sip:2201@127.0.0.1:5070", OperatorBehaviour.RING)
    ready = await client.put("/api/operators/op01/state", json={"state": "available"}, headers=op)
    assert ready.status == 200, await ready.text()

    call_id = await reach_menu(client, network)
    network.press(call_id, "1")  # isolation
    await settle(client, lambda: network.call(call_id).operator_uri is not None)

    queues = await (await client.get("/api/queues", headers=supervisor)).json()
    isolation = next(q for q in queues["queues"] if q["service"] == "isolation")
    assert [c["call_id"] for c in isolation["waiting"]] == [call_id]
    assert isolation["waiting"][0]["state"] == "offered"  # op01 is ringing
    pop = await ws.receive_json(timeout=5)
    while pop["type"] != "screen_pop":
        pop = await ws.receive_json(timeout=5)
    assert pop["call_id"] == call_id and pop["service"] == "isolation"
    assert pop["caller"] == "2345"  # an internal extension is shown as is

    network.operator_answers(call_id)
    await settle(client, lambda: network.call(call_id).state.name == "BRIDGED")
    operators = await (await client.get("/api/operators", headers=supervisor)).json()
    op01 = next(o for o in operators["operators"] if o["id"] == "op01")
    assert op01["state"] == "on_call" and op01["call_id"] == call_id

    async with asyncio.timeout(10):
        await client.app[TICKET_WRITER].flush()
    assert client.app[CALL_CENTER].ticket_ids.get(call_id) is not None  # for the screen pop
    network.caller_hangs_up(call_id)
    ticket = await ended_ticket(client, call_id, supervisor)
    assert ticket["outcome"] == "answered" and ticket["operator"] == "op01"
    # the last events were applied after the call ended: nothing of it is kept (a soak leak)
    assert call_id not in client.app[CALL_CENTER].ticket_ids
    assert ticket["service"] == "isolation" and ticket["status"] == "in_progress"
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=supervisor)).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["offered", "service_selected", "queued", "operator_offered", "connected",
                     "ended"]
    assert detail["timeline"][-1]["data"]["hung_up_by"] == "caller"
    operators = await (await client.get("/api/operators", headers=supervisor)).json()
    assert next(o for o in operators["operators"] if o["id"] == "op01")["state"] == "wrap_up"
    extended = await client.post("/api/operators/op01/wrap-up/extend", headers=op)
    assert extended.status == 200 and (await extended.json())["wrap_up_left_s"] > 60
    twice = await client.post("/api/operators/op01/wrap-up/extend", headers=op)
    assert twice.status == 409  # once per call
    await ws.close()


async def test_caller_hangs_up_in_the_menu(desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, network = desk
    call_id = network.dial(caller="09011112222")
    await settle(client, lambda: playing(network, call_id) == ("greeting",))
    network.caller_hangs_up(call_id)
    supervisor = await token(client, "sv01", "supervisor")
    ticket = await ended_ticket(client, call_id, supervisor)
    assert ticket["outcome"] == "abandoned_ivr" and ticket["status"] == "closed"


async def test_garbage_digits_then_fallback_to_other(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    client, network = desk
    call_id = network.dial(caller="2345")
    await settle(client, lambda: playing(network, call_id) == ("greeting",))
    network.finish_playback(call_id)
    for plays in (2, 3, 4):  # greeting, then 1 + ivr_max_repeats(2) menus, each answered wrongly
        await settle(client, lambda plays=plays: len(network.call(call_id).played) == plays)
        network.press(call_id, "7")
    # Routed to "other"; nobody is logged in, so the caller is offered a callback and let go.
    await settle(client, lambda: call_id not in client.app[CALL_CENTER].active_calls
                 or playing(network, call_id) == ("callback_registered",))
    menus = [p for p in network.call(call_id).played if p[-1].startswith("menu_")]
    assert [m[0] for m in menus][1:] == ["invalid_choice", "invalid_choice"]
    network.finish_playback(call_id)
    supervisor = await token(client, "sv01", "supervisor")
    ticket = await ended_ticket(client, call_id, supervisor)
    assert ticket["service"] == "other" and ticket["outcome"] == "callback_requested"
    assert ticket["status"] == "callback_requested"
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=supervisor)).json()
    selected = next(e for e in detail["timeline"] if e["kind"] == "service_selected")
    assert selected["data"] == {"service": "other", "digit": None, "fallback": True}
    callback = next(e for e in detail["timeline"] if e["kind"] == "callback_requested")
    assert callback["data"] == {"reason": "no_skilled_operator", "reachable": True}


async def test_an_outside_caller_is_not_promised_a_callback(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    client, network = desk
    call_id = await reach_menu(client, network, caller="09011112222")
    network.press(call_id, "3")  # nobody with the portal skill is logged in
    await settle(client, lambda: playing(network, call_id) == ("operator_unavailable",))
    network.finish_playback(call_id)
    supervisor = await token(client, "sv01", "supervisor")
    ticket = await ended_ticket(client, call_id, supervisor)
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=supervisor)).json()
    callback = next(e for e in detail["timeline"] if e["kind"] == "callback_requested")
    assert callback["data"]["reachable"] is False


async def test_incident_notice_is_played_and_a_caller_who_leaves_is_deflected(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    client, network = desk
    supervisor = await token(client, "sv01", "supervisor")
    declared = await client.put("/api/incident", headers=supervisor, json={
        "service": "isolation", "priority_delta": 1,
        "message_ja": "現在、インターネット分離環境に障害が発生しています。復旧作業中です。",
        "message_en": "The internet isolation service is down; we are working on it."})
    assert declared.status == 200, await declared.text()
    operators = await (await client.get("/api/queues", headers=supervisor)).json()
    isolation = next(q for q in operators["queues"] if q["service"] == "isolation")
    assert isolation["priority_delta"] == 1

    call_id = network.dial(caller="2345")
    await settle(client, lambda: (playing(network, call_id) or ("",))[0] == "greeting")
    played = playing(network, call_id)
    assert played is not None and played[1].startswith("tts:現在、インターネット分離環境に障害")
    network.finish_playback(call_id)  # heard the notice to the end
    await settle(client, lambda: (playing(network, call_id) or ("",))[0].startswith("menu_"))
    network.caller_hangs_up(call_id)
    ticket = await ended_ticket(client, call_id, supervisor)
    assert ticket["outcome"] == "deflected"

    cleared = await client.delete("/api/incident", headers=supervisor)
    assert (await cleared.json()) == {"incident": None}
    queues = await (await client.get("/api/queues", headers=supervisor)).json()
    assert next(q for q in queues["queues"] if q["service"] == "isolation")["priority_delta"] == 0
    operator = await token(client, "op01", "operator")
    denied = await client.put("/api/incident", headers=operator, json={"message_ja": "x"})
    assert denied.status == 403
    bad = await client.put("/api/incident", headers=supervisor,
                           json={"message_ja": "x", "priority_delta": 3})
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "service"


async def test_operator_who_does_not_answer_is_skipped_and_the_next_one_rings(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    client, network = desk
    supervisor = await token(client, "sv01", "supervisor")
    for op in ("op01", "op02"):  # both take SKYSEA calls at proficiency >= 3
        response = await client.put(f"/api/operators/{op}/state", json={"state": "available"},
                                    headers=supervisor)
        assert response.status == 200
    call_id = await reach_menu(client, network)
    network.press(call_id, "2")
    await settle(client, lambda: network.call(call_id).operator_uri is not None)
    first = network.call(call_id).operator_uri
    network.ring_timeout(call_id)  # the SIP leg gives up: CANCEL, "no answer"
    await settle(client, lambda: network.call(call_id).operator_uri not in (None, first))
    second = network.call(call_id).operator_uri
    assert {first, second} == {"sip:2201@127.0.0.1:5070", "sip:2202@127.0.0.1:5070"}
    network.operator_answers(call_id)
    await settle(client, lambda: network.call(call_id).state.name == "BRIDGED")
    operators = (await (await client.get("/api/operators", headers=supervisor)).json())["operators"]
    states = {o["id"]: (o["state"], o["missed_in_row"]) for o in operators}
    missed = "op01" if first.startswith("sip:2201") else "op02"
    answered = "op02" if missed == "op01" else "op01"
    assert states[answered][0] == "on_call" and states[missed] == ("available", 1)


async def test_out_of_hours_caller_is_told_why_and_when_and_the_call_is_recorded(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Settings],
) -> None:
    from tests_support import FixedClock

    holiday = FixedClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # 勤労感謝の日 10:00 JST
    network = MemoryPhoneNetwork()
    client: Client = await aiohttp_client(build_app(make_settings(database_url), clock=holiday,
                                                    control=network))
    call_id = network.dial(caller="09011112222")
    await settle(client, lambda: network.call(call_id).playing is not None)
    played = network.call(call_id).playing
    assert played is not None and played[0] == "closed_holiday"
    assert "11月24日、火曜日の8時45分" in played[1]  # the reopening, spoken
    network.finish_playback(call_id)
    supervisor = await token(client, "sv01", "supervisor")
    ticket = await ended_ticket(client, call_id, supervisor)
    assert ticket["outcome"] == "after_hours" and ticket["status"] == "new"
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=supervisor)).json()
    assert detail["timeline"][1]["data"] == {"reason_code": "holiday"}
    assert detail["timeline"][-1]["data"]["hung_up_by"] == "system"


async def test_position_announcement_then_back_to_hold(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    from cti.routing import Announce

    client, network = desk
    supervisor = await token(client, "sv01", "supervisor")
    assert (await client.put("/api/operators/op05/state", json={"state": "away"},
                             headers=supervisor)).status == 200  # telework skill logged in
    call_id = await reach_menu(client, network)
    network.press(call_id, "5")
    await settle(client, lambda: playing(network, call_id) == ("tone:hold",))
    center = client.app[CALL_CENTER]
    for position, expected in ((3, ("queue_position_3", "queue_wait")),
                               (14, ("queue_ahead", "queue_wait"))):
        await center.submit(lambda p=position: center.route_decisions(
            [Announce(call_id, p, 240.0)]))
        assert playing(network, call_id) == expected
        network.finish_playback(call_id)
        await settle(client, lambda: playing(network, call_id) == ("tone:hold",))
    assert network.call(call_id).looping


async def test_caller_gone_before_we_answer_still_leaves_a_ticket(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    from structlog.testing import capture_logs

    client, network = desk
    with capture_logs() as logs:
        call_id = network.dial(caller="2345")
        network.caller_hangs_up(call_id)  # CANCEL before the service got to answer
        supervisor = await token(client, "sv01", "supervisor")
        ticket = await ended_ticket(client, call_id, supervisor)
    assert ticket["outcome"] == "abandoned_ivr"
    events = [entry["event"] for entry in logs]
    assert "call_center.call_gone" in events and "call_center.job_failed" not in events


async def test_shutdown_in_the_middle_of_a_call_still_records_its_end(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Settings],
) -> None:
    from cti.storage import tickets as store

    network = MemoryPhoneNetwork()
    settings = make_settings(database_url, CTI_HOURS_OVERRIDE="open")
    client: Client = await aiohttp_client(build_app(settings, control=network))
    call_id = await reach_menu(client, network)
    await client.close()  # the service stops while the caller listens to the menu
    engine = create_engine(database_url)
    try:
        found = await store.list_tickets(session_factory(engine), store.TicketFilter())
        _, timeline = await store.get_ticket(session_factory(engine), found[0].id)
    finally:
        await engine.dispose()
    assert found[0].call_id == call_id and found[0].outcome == "interrupted"
    assert found[0].status == "new"  # someone should look at it
    assert timeline[-1].kind == "ended" and timeline[-1].data["reason"] == "shutdown"


async def test_who_may_change_an_operators_state(desk: tuple[Client, MemoryPhoneNetwork]) -> None:
    client, _ = desk
    op01 = await token(client, "op01", "operator")
    manager = await token(client, "mg01", "manager")
    supervisor = await token(client, "sv01", "supervisor")
    assert (await client.put("/api/operators/op02/state", json={"state": "available"},
                             headers=op01)).status == 403
    assert (await client.put("/api/operators/op01/state", json={"state": "available"},
                             headers=manager)).status == 403
    assert (await client.put("/api/operators/nobody/state", json={"state": "available"},
                             headers=supervisor)).status == 404
    bad = await client.put("/api/operators/op01/state", json={"state": "on_call"}, headers=op01)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "state"
    away = await client.put("/api/operators/op01/state", headers=op01,
                            json={"state": "away", "reason": "meeting"})
    assert (await away.json())["state"] == "away"
    forced = await client.put("/api/operators/op01/state", json={"state": "available"},
                              headers=supervisor)
    assert (await forced.json())["state"] == "available"
    listed = (await (await client.get("/api/operators", headers=manager)).json())["operators"]
    assert next(o for o in listed if o["id"] == "op01")["state"] == "available"


async def test_supervisor_moves_a_waiting_call_and_hands_it_to_an_operator(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    client, network = desk
    supervisor = await token(client, "sv01", "supervisor")
    assert (await client.put("/api/operators/op03/state", json={"state": "away"},
                             headers=supervisor)).status == 200  # portal skill, on a break
    call_id = await reach_menu(client, network)
    network.press(call_id, "3")  # portal: op03 is away, so the call waits
    await settle(client, lambda: playing(network, call_id) == ("tone:hold",))
    assert (await client.put("/api/operators/op05/state", json={"state": "away"},
                             headers=supervisor)).status == 200  # telework skill, away too
    moved = await client.post(f"/api/calls/{call_id}/move", json={"service": "telework"},
                              headers=supervisor)
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["service"] == "telework"
    queues = (await (await client.get("/api/queues", headers=supervisor)).json())["queues"]
    assert [c["call_id"] for q in queues if q["service"] == "telework" for c in q["waiting"]] \
        == [call_id]
    taken = await client.post(f"/api/calls/{call_id}/take", json={"operator_id": "op05"},
                              headers=supervisor)
    assert taken.status == 200, await taken.text()
    await settle(client, lambda: network.call(call_id).operator_uri == "sip:2205@127.0.0.1:5070")
    again = await client.post(f"/api/calls/{call_id}/take", json={"operator_id": "op03"},
                              headers=supervisor)
    assert again.status == 409  # no longer waiting in a queue: it is ringing op05
    operator = await token(client, "op01", "operator")
    assert (await client.post(f"/api/calls/{call_id}/move", json={"service": "other"},
                              headers=operator)).status == 403
    entries = await audit.entries(client.app[SESSIONS], action="call.CallTaken")
    assert entries and entries[0].target == call_id


async def test_a_call_refused_for_capacity_still_leaves_a_record(
    desk: tuple[Client, MemoryPhoneNetwork],
) -> None:
    """503 for saturation, ports or flood limits: no call took place, but the refusal, its
    reason and the (masked) caller are on record, and the metric counts it."""
    client, network = desk
    sip_call_id = network.refuse("saturated", caller="0355501234")
    supervisor = await token(client, "sv01", "supervisor")
    refused: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not refused:  # the event goes SIP -> call centre -> journal -> database
            await client.app[TICKET_WRITER].flush()
            tickets = (await (await client.get("/api/tickets", headers=supervisor)).json())
            refused = [t for t in tickets["tickets"]
                       if t["call_id"].startswith(f"{sip_call_id}/refused/")]
            await asyncio.sleep(0.05)
    assert len(refused) == 1 and refused[0]["outcome"] == "refused"
    assert refused[0]["status"] == "closed"
    detail = await (await client.get(f"/api/tickets/{refused[0]['id']}", headers=supervisor)).json()
    ended = detail["timeline"][-1]
    assert (ended["kind"], ended["data"]["refusal"]) == ("ended", "saturated")
    assert "0355501234" not in str(detail)  # an outside number is masked, as for any call
    metrics = await (await client.get("/metrics")).text()
    assert 'cti_calls_unrouted_total{reason="refused"} 1.0' in metrics
