"""baresip (a strict UA) as the operator's phone: defect 3 and audio from a real phone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import Baresip, SippServer, free_udp_port, part, render, run_sipp, wait_until
from rtp_peer import RtpPeer, decode, has_tone

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import (
    CallEnded,
    CallEvent,
    CallOffered,
    CallTransferred,
    HungUpBy,
    OperatorConnected,
)

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]
TALK_S = 6.0


async def test_baresip_operator_keeps_the_call_and_sends_audio(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    """Defect 3: with a random To-tag in the ACK, baresip repeats its 200 OK and drops the call.

    Here the ACK is right: baresip never repeats the 200, the call stays up, and the caller
    hears baresip's 1300 Hz tone through the bridge.
    """
    caller_media = RtpPeer(pt=0, freq=700.0)

    async with Baresip(tmp_path, tone_hz=1300) as phone:
        def handler(door: SipFrontDoor, event: CallEvent) -> object:
            async def go() -> None:
                if isinstance(event, CallOffered):
                    await door.answer(event.call_id)
                    await door.play(event.call_id, "tone:hold", loop=True)
                    await door.connect_to_operator(event.call_id, phone.uri, 10)

            return go()

        door, rec = await make_door(handler)  # type: ignore[misc]
        caller_xml = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port=caller_media.port,
                            dtmf="", bye_timeout_ms=30000)
        caller = asyncio.create_task(run_sipp(caller_xml, door.local[1], tmp_path, timeout_s=40))
        receiver = asyncio.create_task(caller_media.receive())
        try:
            connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
            call = door.calls[connected.call_id]
            assert call.media is not None
            await caller_media.send(("127.0.0.1", call.media.local_port), TALK_S)
            assert connected.call_id in door.calls  # still up after TALK_S seconds
            await door.hangup(connected.call_id)
            result = await caller
            assert result.returncode == 0, result.errors + result.stderr
        finally:
            receiver.cancel()
            caller_media.close()
        ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
        assert isinstance(ended, CallEnded) and ended.hung_up_by is HungUpBy.SYSTEM
        assert door.retransmitted_2xx == 0, phone.output()
    heard = [p for _, pt, p in caller_media.received if has_tone(decode(p, pt), 1300.0)]
    assert len(heard) > 0.8 * (TALK_S - 1) * 50, (len(heard), len(caller_media.received))


async def test_baresip_operator_holds_and_resumes(make_door: MakeDoor, tmp_path: Path) -> None:
    """The operator presses Hold on a real phone: its re-INVITE (sendonly) is answered recvonly,
    the caller hears the hold tone instead of the operator, and Resume restores the bridge."""
    caller_media = RtpPeer(pt=0, freq=700.0)
    async with Baresip(tmp_path, tone_hz=1300, console=True) as phone:
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
            call = door.calls[connected.call_id]
            assert call.media is not None and call.operator is not None
            caller_leg = ("127.0.0.1", call.media.local_port)
            talk = asyncio.create_task(caller_media.send(caller_leg, 30))
            leg = call.operator.media
            assert leg is not None
            await wait_until(lambda: any(has_tone(decode(p, pt), 1300.0)
                                         for _, pt, p in caller_media.received[-10:]), 10)
            phone.command("/hold")
            await wait_until(lambda: call.media is not None and call.media.peer is None, 10)
            assert not leg.send_enabled  # the held phone gets no audio
            sent = leg.packets_out
            start = len(caller_media.received)
            await wait_until(lambda: any(has_tone(decode(p, pt), 523.25)
                                         for _, pt, p in caller_media.received[start:]), 10)
            assert leg.packets_out == sent
            phone.command("/resume")
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
        assert "481" not in phone.output()


async def test_baresip_operator_transfers_the_caller_to_another_phone(
    make_door: MakeDoor, tmp_path: Path,
) -> None:
    """Transfer key on a real phone: REFER -> 202, NOTIFY sipfrag, the operator leg ends, the
    caller waits on the hold tone and is connected to the target the coordinator dials."""
    then = part("uas_then_wait_bye.part", bye_timeout_ms=20000)
    target_xml = render("uas_operator.xml", tmp_path, media_port=free_udp_port(True), codec=0,
                        ring_ms=100, then=then)
    async with Baresip(tmp_path, tone_hz=1300, console=True) as phone, \
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
        phone.command(f"/transfer {target.uri}")
        moved = await rec.wait_for(lambda e: isinstance(e, CallTransferred), 10)
        assert isinstance(moved, CallTransferred) and moved.target == target.uri
        assert moved.operator_uri == phone.uri
        second = await rec.wait_for(
            lambda e: isinstance(e, OperatorConnected) and e.operator_uri == target.uri, 10)
        assert second.call_id == first.call_id
        assert door.legs and all(leg.uri == target.uri for leg in door.legs.values())
        await door.hangup(first.call_id)
        result = await caller
        assert result.returncode == 0, result.errors + result.stderr
        op = await target.result()
        assert op.returncode == 0, op.errors + op.stderr
    log = phone.output()
    assert "SIP/2.0 200 OK" in log or "transfer" in log.lower()
