"""baresip (a strict UA) as the operator's phone: defect 3 and audio from a real phone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import Baresip, render, run_sipp
from phone_flows import hold_and_resume, transfer
from rtp_peer import RtpPeer, decode, has_tone

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallEnded, CallEvent, CallOffered, HungUpBy, OperatorConnected

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
    async with Baresip(tmp_path, tone_hz=1300, console=True) as phone:
        await hold_and_resume(make_door, tmp_path, phone.uri, 1300.0, answered=_nothing,
                              hold=lambda: phone.command("/hold"),
                              resume=lambda: phone.command("/resume"))
    assert "481" not in phone.output()


async def test_baresip_operator_transfers_the_caller_to_another_phone(
    make_door: MakeDoor, tmp_path: Path,
) -> None:
    """Transfer key on a real phone: REFER -> 202, NOTIFY sipfrag, the operator leg ends, the
    caller waits on the hold tone and is connected to the target the coordinator dials."""
    async with Baresip(tmp_path, tone_hz=1300, console=True) as phone:
        await transfer(make_door, tmp_path, phone.uri, answered=_nothing,
                       press_transfer=lambda uri: phone.command(f"/transfer {uri}"))
    log = phone.output()
    assert "SIP/2.0 200 OK" in log or "transfer" in log.lower()


async def _nothing() -> None:
    """baresip answers automatically; OperatorConnected already says so."""
