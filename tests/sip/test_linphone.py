"""Linphone (a phone nobody here wrote) as the operator's phone and as a caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from linphone import Linphone
from peers import HOST, wait_until
from phone_flows import hold_and_resume, transfer
from test_ipv6 import needs_ipv6
from tests_support import direct_service

from cti.keys import CALL_CENTER, SESSIONS, TICKET_WRITER
from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallAnswered, CallEnded, CallEvent, CallOffered
from cti.storage import tickets as store

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]
TALK_S = 2.0
CONNECTED = r"Call \d+ with .* connected"


async def test_linphone_operator_holds_and_resumes(make_door: MakeDoor, tmp_path: Path) -> None:
    """Linphone answers as the operator and sends its tone; its Pause (re-INVITE sendonly) puts
    the caller on the hold tone with no audio to Linphone, and Resume restores the bridge."""
    async with Linphone(tmp_path, tone_hz=1300) as phone:
        await hold_and_resume(make_door, tmp_path, phone.uri, 1300.0,
                              answered=lambda: phone.wait_output(CONNECTED),
                              hold=lambda: phone.command("pause"),
                              resume=lambda: phone.command("resume"))
    assert "481" not in phone.output()


async def test_linphone_operator_transfers_the_caller(make_door: MakeDoor, tmp_path: Path) -> None:
    """Linphone's Transfer (blind REFER): 202 and NOTIFY sipfrag, Linphone's leg ends, and the
    caller is connected to the target the coordinator dials."""
    async with Linphone(tmp_path, tone_hz=1300) as phone:
        await transfer(make_door, tmp_path, phone.uri,
                       answered=lambda: phone.wait_output(CONNECTED),
                       press_transfer=lambda uri: phone.command(f"transfer {uri}"))
        await phone.wait_output(r"Call \d+ .*ended")  # Linphone's own leg is over


async def test_linphone_caller_picks_a_service_and_reaches_a_linphone_operator(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    """The whole service with Linphone on both ends: a Linphone caller dials the helpdesk,
    presses 2 (RFC 2833 from Linphone) during the menu, routing offers the call to op02, whose
    phone is another Linphone; the two hear each other, and the ticket says so."""
    async with Linphone(tmp_path, name="operator", tone_hz=1300) as operator, \
            Linphone(tmp_path, name="caller", user="2345", auto_answer=False,
                     tone_hz=700) as phone:
        client, sip_port = await direct_service(aiohttp_client, tmp_path, {"op02": operator.uri},
                                               rtp_ports="32000-32999")
        center = client.app[CALL_CENTER]
        phone.command(f"call sip:helpdesk@{HOST}:{sip_port}")
        await phone.wait_output(CONNECTED)  # the IVR has started
        phone.command("2")
        await operator.wait_output(CONNECTED, 15)
        [call_id] = center.active_calls
        await wait_until(lambda: center.router.call(call_id).state == "connected")
        await asyncio.sleep(TALK_S)  # the conversation itself: both phones send their tones
        mark = len(phone.output())
        phone.command("terminate")
        await phone.wait_output(r"ended", after=mark)
        await operator.wait_output(r"ended")
        async with asyncio.timeout(10):
            await center.wait_for(lambda: not center.active_calls)
            await client.app[TICKET_WRITER].flush()
    assert phone.heard(1300.0) > 50, "the caller never heard the operator's phone"
    assert operator.heard(700.0) > 50, "the operator's phone never heard the caller"
    [ticket] = await store.list_tickets(client.app[SESSIONS], store.TicketFilter())
    assert (ticket.service, ticket.outcome, ticket.operator_id) == ("skysea", "answered", "op02")
    _, timeline = await store.get_ticket(client.app[SESSIONS], ticket.id)
    kinds = [e.kind for e in timeline]
    assert kinds == ["offered", "service_selected", "queued", "operator_offered", "connected",
                     "ended"], kinds
    assert timeline[1].data["digit"] == "2"
    assert timeline[-1].data["hung_up_by"] == "caller"


async def test_linphone_operator_transfers_to_a_queue_and_routing_follows(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    """The whole service: op01's Linphone takes an isolation call and transfers it to
    ``sip:queue-skysea@...``; routing puts op01 in wrap-up and offers the call to op02 (the
    skysea operator), whose Linphone answers; the ticket ends up op02's, in skysea."""
    async with Linphone(tmp_path, name="op01", tone_hz=1300) as first, \
            Linphone(tmp_path, name="op02", tone_hz=1500) as second, \
            Linphone(tmp_path, name="caller", user="2345", auto_answer=False,
                     tone_hz=700) as phone:
        client, sip_port = await direct_service(
            aiohttp_client, tmp_path, {"op01": first.uri, "op02": second.uri},
            rtp_ports="33000-33999")
        center = client.app[CALL_CENTER]
        phone.command(f"call sip:helpdesk@{HOST}:{sip_port}")
        await phone.wait_output(CONNECTED)
        phone.command("1")  # isolation: op01 has the skill, op02 has not
        await first.wait_output(CONNECTED, 15)
        [call_id] = center.active_calls
        await wait_until(lambda: center.router.call(call_id).operator_id == "op01")
        first.command(f"transfer sip:queue-skysea@{HOST}")
        await second.wait_output(CONNECTED, 15)
        await wait_until(lambda: center.router.call(call_id).state == "connected")
        states = {o.operator_id: (o.state, o.call_id) for o in center.router.operators()}
        assert states["op01"] == ("wrap_up", None)
        assert states["op02"] == ("on_call", call_id)
        view = center.router.call(call_id)
        assert (view.operator_id, view.service) == ("op02", "skysea")
        mark = len(phone.output())
        phone.command("terminate")
        await phone.wait_output(r"ended", after=mark)
        async with asyncio.timeout(10):
            await center.wait_for(lambda: not center.active_calls)
            await client.app[TICKET_WRITER].flush()
        assert {o.operator_id: o.state for o in center.router.operators()}["op02"] == "wrap_up"
    [ticket] = await store.list_tickets(client.app[SESSIONS], store.TicketFilter())
    assert (ticket.service, ticket.outcome, ticket.operator_id) == ("skysea", "answered", "op02")
    _, timeline = await store.get_ticket(client.app[SESSIONS], ticket.id)
    moved = next(e for e in timeline if e.kind == "transferred")
    assert moved.data == {"from_operator": "op01", "to_operator": None, "to_service": "skysea"}


@needs_ipv6
async def test_linphone_calls_over_ipv6_into_a_dual_stack_service(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    """Linphone with IPv6 on calls [::1] while the service also listens on 127.0.0.1: the
    answer, Contact and media are IPv6, Linphone's audio reaches us and it hears our tone."""
    async with Linphone(tmp_path, user="2345", auto_answer=False, tone_hz=700,
                        ipv6=True) as phone:
        def handler(door: SipFrontDoor, event: CallEvent) -> object:
            async def go() -> None:
                if isinstance(event, CallOffered):
                    await door.answer(event.call_id)
                    await door.play(event.call_id, "tone:1000", loop=True)

            return go()

        door, rec = await make_door(  # type: ignore[misc]
            handler, bind_host="127.0.0.1", also_bind=("::1", 0))
        assert door.transport is not None
        phone.command(f"call sip:helpdesk@[::1]:{door.transport.addresses[6][1]}")
        await phone.wait_output(r"Call \d+ with .* connected")
        answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
        call = door.calls[answered.call_id]
        assert call.media is not None and call.media.remote is not None
        assert call.media.remote[0] == "::1" and call.sdp.address == "::1"
        await wait_until(lambda: call.media is not None and call.media.packets_in > 100)
        mark = len(phone.output())
        phone.command("terminate")
        await phone.wait_output(r"ended", after=mark)
        await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert phone.heard(1000.0) > 60, "Linphone never heard our tone over IPv6"
