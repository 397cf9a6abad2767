"""Operator-phone flows run the same way against every real phone (baresip, Linphone).

Each takes the phone's own way of pressing a key; the SIP and audio checks are shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from peers import SippServer, free_udp_port, part, render, run_sipp, wait_until
from rtp_peer import RtpPeer, decode, has_tone

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallEvent, CallOffered, CallTransferred, OperatorConnected

MakeDoor = Callable[..., object]
Press = Callable[[], object]
HOLD_HZ = 523.25  # the first note of tone:hold


def _dial(uri: str) -> Callable[[SipFrontDoor, CallEvent], object]:
    """A coordinator that answers each caller and rings ``uri``, then follows transfers."""
    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            if isinstance(event, CallOffered):
                await door.answer(event.call_id)
                await door.connect_to_operator(event.call_id, uri, 10)
            elif isinstance(event, CallTransferred):
                await door.connect_to_operator(event.call_id, event.target, 10)

        return go()

    return handler


async def hold_and_resume(make_door: MakeDoor, tmp_path: Path, phone_uri: str, phone_hz: float,
                          *, answered: Callable[[], Awaitable[object]], hold: Press,
                          resume: Press) -> None:
    """The operator's phone answers and sends its tone; Hold (re-INVITE sendonly) puts the
    caller on the hold tone with no audio to the phone; Resume restores the bridge."""
    caller_media = RtpPeer(pt=0, freq=700.0)
    door, rec = await make_door(_dial(phone_uri))  # type: ignore[operator]
    caller_xml = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port=caller_media.port,
                        dtmf="", bye_timeout_ms=40000)
    caller = asyncio.create_task(run_sipp(caller_xml, door.local[1], tmp_path, timeout_s=50))
    receiver = asyncio.create_task(caller_media.receive())

    def hears(hz: float, start: int) -> Callable[[], bool]:
        return lambda: any(has_tone(decode(p, pt), hz) for _, pt, p in caller_media.received[start:])

    try:
        connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
        await answered()
        call = door.calls[connected.call_id]
        assert call.media is not None and call.operator is not None
        talk = asyncio.create_task(caller_media.send(("127.0.0.1", call.media.local_port), 30))
        leg = call.operator.media
        assert leg is not None
        await wait_until(hears(phone_hz, 0), 10)
        hold()
        await wait_until(lambda: call.media is not None and call.media.peer is None, 10)
        assert not leg.send_enabled  # the held phone gets no audio
        await door.rtp.refresh()  # a media worker's counters as of now
        sent = leg.packets_out
        await wait_until(hears(HOLD_HZ, len(caller_media.received)), 10)
        await door.rtp.refresh()
        assert leg.packets_out == sent
        resume()
        await wait_until(lambda: call.media is not None and call.media.peer is leg, 10)
        await wait_until(hears(phone_hz, len(caller_media.received)), 10)
        await door.rtp.refresh()
        assert leg.send_enabled and leg.packets_out > sent
        talk.cancel()
        await door.hangup(connected.call_id)
        result = await caller
        assert result.returncode == 0, result.errors + result.stderr
    finally:
        receiver.cancel()
        caller_media.close()


async def transfer(make_door: MakeDoor, tmp_path: Path, phone_uri: str, *,
                   answered: Callable[[], Awaitable[object]],
                   press_transfer: Callable[[str], object]) -> None:
    """The phone's Transfer key (blind REFER): 202 and NOTIFY sipfrag, the phone's leg ends, the
    caller waits on the hold tone and is connected to the target the coordinator dials."""
    then = part("uas_then_wait_bye.part", bye_timeout_ms=20000)
    target_xml = render("uas_operator.xml", tmp_path, media_port=free_udp_port(True), codec=0,
                        ring_ms=100, then=then)
    async with SippServer(target_xml, tmp_path) as target:
        door, rec = await make_door(_dial(phone_uri))  # type: ignore[operator]
        caller_xml = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                            dtmf="", bye_timeout_ms=30000)
        caller = asyncio.create_task(run_sipp(caller_xml, door.local[1], tmp_path, timeout_s=40))
        first = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
        await answered()
        press_transfer(target.uri)
        moved = await rec.wait_for(lambda e: isinstance(e, CallTransferred), 10)
        assert isinstance(moved, CallTransferred) and moved.target == target.uri
        assert moved.operator_uri == phone_uri
        second = await rec.wait_for(
            lambda e: isinstance(e, OperatorConnected) and e.operator_uri == target.uri, 10)
        assert second.call_id == first.call_id
        assert door.legs and all(leg.uri == target.uri for leg in door.legs.values())
        await door.hangup(first.call_id)
        result = await caller
        assert result.returncode == 0, result.errors + result.stderr
        op = await target.result()
        assert op.returncode == 0, op.errors + op.stderr
