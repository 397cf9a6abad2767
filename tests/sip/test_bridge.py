"""A bridged call (caller <-> service <-> operator) with audio checked in both directions."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import SippServer, part, render, run_sipp
from rtp_peer import RtpPeer, decode, has_tone

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallEnded, CallEvent, CallOffered, OperatorConnected

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]
# 45 s in the suite: pyVoIP's 1 % pacing drift (49.5 packets/s) is a 225 ms backlog by then, past
# the 150 ms bound below; CTI_SIP_BRIDGE_SECONDS=120 for the two-minute check before a release.
BRIDGE_SECONDS = float(os.environ.get("CTI_SIP_BRIDGE_SECONDS", "45"))
CALLER_HZ, OPERATOR_HZ = 700.0, 1300.0


async def test_bridged_call_audio_both_ways_without_drift(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    """Defect 10: over a long call the relay backlog stays bounded (pyVoIP: 340 ms per minute).

    The caller speaks PCMU at 700 Hz, the operator PCMA at 1300 Hz (so the relay transcodes).
    """
    caller_media = RtpPeer(pt=0, freq=CALLER_HZ)
    operator_media = RtpPeer(pt=8, freq=OPERATOR_HZ)

    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            if isinstance(event, CallOffered):
                await door.answer(event.call_id)
                await door.play(event.call_id, "tone:hold", loop=True)
                await door.connect_to_operator(event.call_id, operator_uri, 10)

        return go()

    then = part("uas_then_wait_bye.part", bye_timeout_ms=int(BRIDGE_SECONDS * 1000) + 20000)
    uas_xml = render("uas_operator.xml", tmp_path, media_port=operator_media.port, codec=8,
                     ring_ms=100, then=then)
    receivers: list[asyncio.Task[None]] = []
    async with SippServer(uas_xml, tmp_path, timeout_s=BRIDGE_SECONDS + 40) as operator:
        operator_uri = operator.uri
        door, rec = await make_door(handler)  # type: ignore[misc]
        caller_xml = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port=caller_media.port,
                            dtmf="", bye_timeout_ms=int(BRIDGE_SECONDS * 1000) + 20000)
        caller = asyncio.create_task(
            run_sipp(caller_xml, door.local[1], tmp_path, timeout_s=BRIDGE_SECONDS + 40))
        try:
            receivers = [asyncio.create_task(p.receive()) for p in (caller_media, operator_media)]
            connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected))
            call = door.calls[connected.call_id]
            assert call.media is not None and call.operator is not None
            assert call.operator.media is not None
            caller_leg = ("127.0.0.1", call.media.local_port)
            operator_leg = ("127.0.0.1", call.operator.media.local_port)
            await asyncio.gather(caller_media.send(caller_leg, BRIDGE_SECONDS),
                                 operator_media.send(operator_leg, BRIDGE_SECONDS))
            await door.hangup(connected.call_id)
            result = await caller
            assert result.returncode == 0, result.errors + result.stderr
            op = await operator.result()
            assert op.returncode == 0, op.errors + op.stderr
        finally:
            for t in receivers:
                t.cancel()
            caller_media.close()
            operator_media.close()
    await rec.wait_for(lambda e: isinstance(e, CallEnded))

    for peer, other_hz, other_pt in ((caller_media, OPERATOR_HZ, 0), (operator_media, CALLER_HZ, 8)):
        assert peer.silent_from is not None
        talk = [(t, pt, p) for t, pt, p in peer.received if t < peer.silent_from]
        heard = [t for t, pt, p in talk if pt == other_pt and has_tone(decode(p, pt), other_hz)]
        # the other side's tone arrives for the whole talk period, on time
        assert len(heard) > 0.9 * (BRIDGE_SECONDS - 1) * 50, (len(heard), len(talk))
        # the service sends exactly 50 packets/s (pyVoIP: ~49.5): count every packet it sent
        window = [t for t, _, _ in talk if heard[0] <= t <= heard[-1]]
        rate = (len(window) - 1) / (window[-1] - window[0])
        print("RATE", len(heard), len(window), rate)
        assert abs(rate - 50) < 0.15, rate
    # backlog: after the operator falls silent, the caller stops hearing the tone within 150 ms
    assert operator_media.silent_from is not None
    last_tone = max(t for t, pt, p in caller_media.received
                    if has_tone(decode(p, pt), OPERATOR_HZ))
    print("BACKLOG", last_tone - operator_media.silent_from)
    assert last_tone - operator_media.silent_from < 0.15
