"""Linphone (a phone nobody here wrote) as the operator's phone and as a caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from linphone import Linphone
from peers import HOST, SippServer, free_udp_port, part, render, run_sipp, wait_until
from rtp_peer import RtpPeer, decode, has_tone
from test_ipv6 import ipv6_loopback
from tests_support import bearer

from cti.app import build_app
from cti.config import default_config_path, load_settings
from cti.keys import CALL_CENTER, SESSIONS, TICKET_WRITER
from cti.sip.adapter import SipFrontDoor
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOffered,
    CallTransferred,
    OperatorConnected,
)
from cti.storage import create_engine, upgrade
from cti.storage import tickets as store

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]
TALK_S = 2.0


async def test_linphone_operator_holds_and_resumes(make_door: MakeDoor, tmp_path: Path) -> None:
    """Linphone answers as the operator and sends its tone; its Pause (re-INVITE sendonly) puts
    the caller on the hold tone with no audio to Linphone, and Resume restores the bridge."""
    caller_media = RtpPeer(pt=0, freq=700.0)
    async with Linphone(tmp_path, tone_hz=1300) as phone:
        def handler(door: SipFrontDoor, event: CallEvent) -> object:
            async def go() -> None:
                if isinstance(event, CallOffered):
                    await door.answer(event.call_id)
                    await door.connect_to_operator(event.call_id, phone.uri, 10)

            return go()

        door, rec = await make_door(handler)  # type: ignore[misc]
        caller_xml = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port=caller_media.port,
                            dtmf="", bye_timeout_ms=40000)
        caller = asyncio.create_task(run_sipp(caller_xml, door.local[1], tmp_path, timeout_s=50))
        receiver = asyncio.create_task(caller_media.receive())
        try:
            connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
            await phone.wait_output(r"Call \d+ with .* connected")
            call = door.calls[connected.call_id]
            assert call.media is not None and call.operator is not None
            talk = asyncio.create_task(caller_media.send(("127.0.0.1", call.media.local_port), 30))
            leg = call.operator.media
            assert leg is not None
            await wait_until(lambda: any(has_tone(decode(p, pt), 1300.0)
                                         for _, pt, p in caller_media.received[-10:]), 10)
            phone.command("pause")
            await wait_until(lambda: call.media is not None and call.media.peer is None, 10)
            assert not leg.send_enabled
            sent = leg.packets_out
            start = len(caller_media.received)
            await wait_until(lambda: any(has_tone(decode(p, pt), 523.25)
                                         for _, pt, p in caller_media.received[start:]), 10)
            assert leg.packets_out == sent
            phone.command("resume")
            await wait_until(lambda: call.media is not None and call.media.peer is leg, 10)
            start = len(caller_media.received)
            await wait_until(lambda: any(has_tone(decode(p, pt), 1300.0)
                                         for _, pt, p in caller_media.received[start:]), 10)
            assert leg.send_enabled and leg.packets_out > sent
            talk.cancel()
            await door.hangup(connected.call_id)
            result = await caller
            assert result.returncode == 0, result.errors + result.stderr
        finally:
            receiver.cancel()
            caller_media.close()


async def test_linphone_operator_transfers_the_caller(make_door: MakeDoor, tmp_path: Path) -> None:
    """Linphone's Transfer (blind REFER): 202 and NOTIFY sipfrag, Linphone's leg ends, and the
    caller is connected to the target the coordinator dials."""
    then = part("uas_then_wait_bye.part", bye_timeout_ms=20000)
    target_xml = render("uas_operator.xml", tmp_path, media_port=free_udp_port(True), codec=0,
                        ring_ms=100, then=then)
    async with Linphone(tmp_path, tone_hz=1300) as phone, \
            SippServer(target_xml, tmp_path) as target:
        def handler(door: SipFrontDoor, event: CallEvent) -> object:
            async def go() -> None:
                if isinstance(event, CallOffered):
                    await door.answer(event.call_id)
                    await door.connect_to_operator(event.call_id, phone.uri, 10)
                elif isinstance(event, CallTransferred):
                    await door.connect_to_operator(event.call_id, event.target, 10)

            return go()

        door, rec = await make_door(handler)  # type: ignore[misc]
        caller_xml = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                            dtmf="", bye_timeout_ms=30000)
        caller = asyncio.create_task(run_sipp(caller_xml, door.local[1], tmp_path, timeout_s=40))
        first = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
        await phone.wait_output(r"Call \d+ with .* connected")
        phone.command(f"transfer {target.uri}")
        moved = await rec.wait_for(lambda e: isinstance(e, CallTransferred), 10)
        assert isinstance(moved, CallTransferred) and moved.target == target.uri
        assert moved.operator_uri == phone.uri
        second = await rec.wait_for(
            lambda e: isinstance(e, OperatorConnected) and e.operator_uri == target.uri, 10)
        assert second.call_id == first.call_id
        assert door.legs and all(leg.uri == target.uri for leg in door.legs.values())
        await phone.wait_output(r"Call \d+ .*ended")  # Linphone's own leg is over
        await door.hangup(first.call_id)
        result = await caller
        assert result.returncode == 0, result.errors + result.stderr
        op = await target.result()
        assert op.returncode == 0, op.errors + op.stderr


async def test_linphone_caller_picks_a_service_and_reaches_a_linphone_operator(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    """The whole service with Linphone on both ends: a Linphone caller dials the helpdesk,
    presses 2 (RFC 2833 from Linphone) during the menu, routing offers the call to op02, whose
    phone is another Linphone; the two hear each other, and the ticket says so."""
    async with Linphone(tmp_path, name="operator", tone_hz=1300) as operator, \
            Linphone(tmp_path, name="caller", user="2345", auto_answer=False,
                     tone_hz=700) as phone:
        client, sip_port = await service(aiohttp_client, tmp_path, {"op02": operator.uri})
        center = client.app[CALL_CENTER]
        phone.command(f"call sip:helpdesk@{HOST}:{sip_port}")
        await phone.wait_output(r"Call \d+ with .* connected")  # the IVR has started
        phone.command("2")
        await operator.wait_output(r"Call \d+ with .* connected", 15)
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


async def service(aiohttp_client: Callable[..., Any], tmp_path: Path,
                  operators: dict[str, str]) -> tuple[Any, int]:
    """`cti` in direct mode with its default config, `operators` re-pointed at test phones and
    made available through the API."""
    text = default_config_path().read_text(encoding="utf-8")
    for operator_id, uri in operators.items():
        number = f"22{operator_id[-2:]}"
        text = text.replace(f'uri = "sip:{number}@127.0.0.1:5070"', f'uri = "{uri}"')
    config = tmp_path / "helpdesk.toml"
    config.write_text(text, encoding="utf-8")
    sip_port = free_udp_port()
    settings = load_settings(config, {
        "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}",
        "CTI_DATABASE_JOURNAL": str(tmp_path / "journal.jsonl"),
        "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789",
        "CTI_SIP_MODE": "direct", "CTI_SIP_LISTEN": f"{HOST}:{sip_port}",
        "CTI_SIP_RTP_PORTS": "32000-32999", "CTI_HOURS_OVERRIDE": "open",
    })
    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    client = await aiohttp_client(build_app(settings))
    for operator_id in operators:
        headers = await bearer(client.app, operator_id, "operator")
        ready = await client.put(f"/api/operators/{operator_id}/state",
                                 json={"state": "available"}, headers=headers)
        assert ready.status == 200, await ready.text()
    return client, sip_port


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this host")
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
