"""RFC 3262 reliable provisionals (100rel, RSeq, PRACK) and RFC 4028 session timers, as UAS.

Raw UDP phones check the edges (retransmission, wrong RAck, 422, expiry, our own refreshes);
SIPp runs the ordinary flows as a real peer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import render, run_sipp, wait_until
from test_transactions import SDP, Phone, answering

from cti.sip import message as sipmsg
from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallAnswered, CallEnded, CallEvent, CallOffered, EndReason

MakeDoor = Callable[..., object]


def rings(door: SipFrontDoor, event: CallEvent) -> None:
    """The coordinator leaves the call ringing (the test answers it itself)."""


async def test_reliable_180_is_retransmitted_until_its_prack(make_door: MakeDoor) -> None:
    door, rec = await make_door(rings, t1_s=0.1)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        phone.request("INVITE", cseq=1, body=SDP, extra=("Require: 100rel", "Supported: 100rel"))
        first = await asyncio.to_thread(phone.expect, 180, "INVITE")
        assert first.get("require") == "100rel"
        rseq = int(first.get("rseq"))
        again = await asyncio.to_thread(phone.expect, 180, "INVITE")  # no PRACK yet: resent
        assert int(again.get("rseq")) == rseq and again.to_tag == first.to_tag
        phone.request("PRACK", cseq=2, to_tag=first.to_tag, extra=(f"RAck: {rseq + 1} 1 INVITE",))
        await asyncio.to_thread(phone.expect, 481, "PRACK")  # names no provisional of ours
        phone.request("PRACK", cseq=3, to_tag=first.to_tag, extra=(f"RAck: {rseq} 1 INVITE",))
        await asyncio.to_thread(phone.expect, 200, "PRACK")
        offered = await rec.wait_for(lambda e: isinstance(e, CallOffered))
        call = door.calls[offered.call_id]
        assert call.reliable is None  # acknowledged: the retransmissions stopped
        await door.answer(offered.call_id)
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        phone.request("ACK", cseq=1, to_tag=ok.to_tag)
        await door.hangup(offered.call_id)
        await asyncio.to_thread(phone.expect_request, "BYE")
    finally:
        phone.close()


async def test_a_reliable_180_never_pracked_ends_in_504(make_door: MakeDoor) -> None:
    door, rec = await make_door(rings, t1_s=0.02)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        phone.request("INVITE", cseq=1, body=SDP, extra=("Require: 100rel",))
        started = time.monotonic()
        await asyncio.to_thread(phone.expect, 504, "INVITE", 5.0)
        assert time.monotonic() - started >= 64 * 0.02 - 0.05
        ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
        assert isinstance(ended, CallEnded) and ended.reason is EndReason.ERROR
        assert door.calls == {}
    finally:
        phone.close()


async def test_session_timer_422_refresh_and_expiry(make_door: MakeDoor) -> None:
    """A too-short interval gets 422 with our Min-SE; an accepted one is echoed with the
    caller as refresher; its UPDATE refreshes it; without a further refresh we send BYE."""
    door, rec = await make_door(answering, min_se_s=2)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        phone.request("INVITE", cseq=1, body=SDP, call_id=f"{uuid.uuid4().hex}@x",
                      extra=("Session-Expires: 1", "Supported: timer"))
        too_small = await asyncio.to_thread(phone.expect, 422, "INVITE")
        assert too_small.get("min-se") == "2"
        phone.request("INVITE", cseq=1, body=SDP,
                      extra=("Session-Expires: 3;refresher=uac", "Supported: timer"))
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        assert ok.get("session-expires") == "3;refresher=uac"
        assert ok.get("require") == "timer"
        phone.request("ACK", cseq=1, to_tag=ok.to_tag)
        await rec.wait_for(lambda e: isinstance(e, CallAnswered))
        phone.request("UPDATE", cseq=2, to_tag=ok.to_tag,
                      extra=("Session-Expires: 3;refresher=uac", "Supported: timer"))
        refreshed = await asyncio.to_thread(phone.expect, 200, "UPDATE")
        assert refreshed.get("session-expires") == "3;refresher=uac"
        since = time.monotonic()
        bye = await asyncio.to_thread(phone.expect_request, "BYE", 5.0)
        waited = time.monotonic() - since
        assert 1.8 <= waited <= 3.0, waited  # 3 s - min(32, 3/3): counted from the refresh
        assert bye.to_tag == "caller1"
        ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
        assert isinstance(ended, CallEnded) and ended.reason is EndReason.SESSION_EXPIRED
    finally:
        phone.close()


async def test_we_refresh_when_the_caller_cannot(make_door: MakeDoor) -> None:
    """Session-Expires from a caller without 'timer' (a proxy added it): we are the refresher,
    refresh by UPDATE at half the interval, and end the call when a refresh gets 481."""
    door, rec = await make_door(answering, min_se_s=1)  # type: ignore[misc]
    phone = Phone(door.local[1])
    try:
        phone.request("INVITE", cseq=1, body=SDP,
                      extra=("Session-Expires: 2", "Allow: INVITE, ACK, BYE, UPDATE"))
        ok = await asyncio.to_thread(phone.expect, 200, "INVITE")
        assert ok.get("session-expires") == "2;refresher=uas"
        assert not ok.has("require")
        phone.request("ACK", cseq=1, to_tag=ok.to_tag)
        since = time.monotonic()
        update = await asyncio.to_thread(phone.expect_request, "UPDATE", 3.0)
        assert 0.8 <= time.monotonic() - since <= 1.6
        assert update.get("session-expires") == "2;refresher=uas" and not update.body
        phone.sock.sendto(sipmsg.build_response(update, 200), ("127.0.0.1", door.local[1]))
        second = await asyncio.to_thread(phone.expect_request, "UPDATE", 3.0)
        assert second.cseq[0] > update.cseq[0]
        phone.sock.sendto(sipmsg.build_response(second, 481), ("127.0.0.1", door.local[1]))
        await asyncio.to_thread(phone.expect_request, "BYE", 3.0)
        ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
        assert isinstance(ended, CallEnded) and ended.reason is EndReason.SESSION_EXPIRED
    finally:
        phone.close()


@pytest.mark.peers
async def test_sipp_caller_with_100rel_and_session_timer(make_door: MakeDoor,
                                                         tmp_path: Path) -> None:
    """SIPp requires 100rel and asks for a 90 s session timer: our 180 comes reliably, its
    PRACK is answered, the 200 echoes the timer, and SIPp's UPDATE refresh is accepted."""
    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            if isinstance(event, CallOffered):
                await wait_until(lambda: door.pracks == 1, 5)  # our reliable 180 PRACKed
                await door.answer(event.call_id)

        return go()

    door, rec = await make_door(handler)  # type: ignore[misc]
    result = await run_sipp(render("uac_prack_timer.xml", tmp_path), door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr + result.logs
    assert "RSeq:" in result.messages and "Session-Expires: 90;refresher=uac" in result.messages
    too_small = await run_sipp(render("uac_timer_too_small.xml", tmp_path), door.local[1],
                               tmp_path)
    assert too_small.returncode == 0, too_small.errors + too_small.stderr
    assert "Min-SE: 90" in too_small.messages
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.CALLER_HUNG_UP
