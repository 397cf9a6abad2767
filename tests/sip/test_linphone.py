"""Linphone (a phone nobody here wrote) as the operator's phone and as a caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from linphone import Linphone
from peers import render, run_sipp, wait_until
from rtp_peer import RtpPeer, decode, has_tone

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallEvent, CallOffered, OperatorConnected

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]


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
