"""Inbound calls in direct mode against SIPp (real peer) and raw malformed datagrams."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import HOST, render, run_sipp

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOffered,
    EndReason,
    HungUpBy,
    PlaybackFinished,
)

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]


def answer_and_loop(door: SipFrontDoor, event: CallEvent) -> object:
    async def go() -> None:
        if isinstance(event, CallOffered):
            await door.answer(event.call_id)
            await door.play(event.call_id, "greeting", loop=True)

    return go()


def answer_play_hangup(door: SipFrontDoor, event: CallEvent) -> object:
    async def go() -> None:
        if isinstance(event, CallOffered):
            await door.answer(event.call_id)
            await door.play(event.call_id, "short")
        elif isinstance(event, PlaybackFinished):
            await door.hangup(event.call_id)

    return go()


def own_threads() -> set[str]:
    # asyncio's child watcher starts a thread per SIPp process ("waitpid-N" in 3.11.7,
    # "asyncio-waitpid-N" in later releases) that outlives the process by a moment; not ours
    return {t.name for t in threading.enumerate() if "waitpid-" not in t.name}


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def assert_no_leftovers(door: SipFrontDoor) -> None:
    """Defect 4: nothing of a finished call is left."""
    assert door.calls == {}
    assert door.legs == {}
    assert door.rtp.sessions == set()


async def test_answer_fast_then_caller_hangs_up(make_door: MakeDoor, tmp_path: Path) -> None:
    door, rec = await make_door(answer_and_loop)  # type: ignore[misc]
    threads_before = own_threads()
    scenario = render("uac_basic.xml", tmp_path, codecs="0 8", pause_ms=800)
    result = await run_sipp(scenario, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded)
    assert (ended.reason, ended.hung_up_by) == (EndReason.CALLER_HUNG_UP, HungUpBy.CALLER)
    offered = rec.of(CallOffered)[0]
    assert isinstance(offered, CallOffered) and offered.caller == "0355501234"
    assert offered.caller_display == "Test Caller"
    # defect 1: SIPp's own measurement of INVITE -> 200 OK (ms); stock pyVoIP needs ~1008 ms
    rtt_ms = [float(line.split(";")[-2]) for line in result.rtt_csv.splitlines()[1:] if line]
    assert rtt_ms and max(rtt_ms) < 500, result.rtt_csv
    assert "ANSWER-MLINE m=audio" in result.logs and "RTP/AVP 0 101" in result.logs
    assert_no_leftovers(door)
    assert own_threads() <= threads_before  # no per-call threads, nothing left running


async def test_service_hangs_up_with_a_correct_bye(make_door: MakeDoor, tmp_path: Path) -> None:
    """Defect 2: our BYE has our own Via, so SIPp's 200 comes back to us and SIPp is happy."""
    door, rec = await make_door(answer_play_hangup)  # type: ignore[misc]
    scenario = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                      dtmf="", bye_timeout_ms=8000)
    result = await run_sipp(scenario, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.hung_up_by is HungUpBy.SYSTEM
    bye = next(m for m in result.messages.split("----") if "BYE sip:" in m)
    assert f"Via: SIP/2.0/UDP {HOST}:{door.local[1]};branch=z9hG4bK" in bye
    assert "SIPpTag" not in bye.split("From:")[1].split("\n")[0]  # From is our side
    assert [type(e) for e in rec.events[1:]] == [
        CallOffered, CallAnswered, PlaybackFinished, CallEnded]
    assert_no_leftovers(door)


async def test_cancel_before_answer_gets_487(make_door: MakeDoor, tmp_path: Path) -> None:
    door, rec = await make_door(lambda d, e: None)  # type: ignore[misc]
    result = await run_sipp(render("uac_cancel.xml", tmp_path), door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.CALLER_CANCELLED
    assert ended.hung_up_by is HungUpBy.CALLER
    assert "SIP/2.0 487 Request Terminated" in result.messages
    assert_no_leftovers(door)


async def test_options_and_unsupported_methods(make_door: MakeDoor, tmp_path: Path) -> None:
    door, _ = await make_door(lambda d, e: None)  # type: ignore[misc]
    result = await run_sipp(render("uac_options.xml", tmp_path), door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    assert "SIP/2.0 405 Method Not Allowed" in result.messages
    assert "SIP/2.0 501 Not Implemented" in result.messages


async def test_many_short_calls_leave_nothing_behind(make_door: MakeDoor, tmp_path: Path) -> None:
    """Defect 4 (leak) and 7 (unique ids) over 30 calls at 15 calls/s."""
    door, rec = await make_door(answer_and_loop)  # type: ignore[misc]
    fds_before = open_fds()
    scenario = render("uac_basic.xml", tmp_path, codecs="8 0", pause_ms=300)
    result = await run_sipp(scenario, door.local[1], tmp_path, calls=30, rate=15, timeout_s=30)
    assert result.returncode == 0, result.errors + result.stderr
    await rec.wait_for(lambda e: len(rec.of(CallEnded)) == 30, within=10)
    assert all(isinstance(e, CallEnded) and e.reason is EndReason.CALLER_HUNG_UP
               for e in rec.of(CallEnded))
    assert len({e.call_id for e in rec.of(CallAnswered)}) == 30
    assert_no_leftovers(door)
    assert open_fds() <= fds_before


def udp_exchange(port: int, payload: bytes, expect_reply: bool = True) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(2.0 if expect_reply else 0.3)
        s.sendto(payload, (HOST, port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def request(method: str, port: int, *, body: bytes = b"", extra: str = "", length: int | None = None,
            drop: str = "") -> bytes:
    headers = [
        f"{method} sip:helpdesk@{HOST}:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP {HOST}:5999;branch=z9hG4bK-{uuid.uuid4().hex};rport",
        "From: <sip:0355509876@example.invalid>;tag=raw1",
        f"To: <sip:helpdesk@{HOST}>",
        f"Call-ID: {uuid.uuid4().hex}@example.invalid",
        f"CSeq: 1 {method}",
        "Contact: <sip:0355509876@127.0.0.1:5999>",
    ]
    headers = [h for h in headers if not drop or not h.startswith(drop)]
    if extra:
        headers.append(extra)
    headers.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


G729_ONLY = (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             b"m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n")


async def test_malformed_and_hostile_input(make_door: MakeDoor) -> None:
    door, rec = await make_door(lambda d, e: None)  # type: ignore[misc]
    port = door.local[1]

    def status(reply: bytes | None) -> str:
        assert reply is not None, "no response"
        return reply.split(b"\r\n", 1)[0].decode()

    cases = {
        "missing Call-ID": request("OPTIONS", port, drop="Call-ID"),
        "bad Content-Length": request("OPTIONS", port, body=b"abc", length=999),
        "non-numeric Content-Length": request("OPTIONS", port, extra="Content-Length: x"),
        "bad CSeq": request("OPTIONS", port, drop="CSeq", extra="CSeq: abc"),
        "garbage header": request("OPTIONS", port, extra="this is not a header"),
        "SDP garbage": request("INVITE", port, body=b"\x00\xff garbage",
                               extra="Content-Type: application/sdp"),
    }
    for name, data in cases.items():
        reply = await asyncio.to_thread(udp_exchange, port, data)
        assert status(reply).startswith("SIP/2.0 400"), name
    reply = await asyncio.to_thread(udp_exchange, port, request(
        "INVITE", port, body=G729_ONLY, extra="Content-Type: application/sdp"))
    assert status(reply) == "SIP/2.0 488 Not Acceptable Here"
    huge = request("OPTIONS", port, extra="X-Pad: " + "A" * 20_000)
    reply = await asyncio.to_thread(udp_exchange, port, huge)
    assert status(reply) == "SIP/2.0 513 Message Too Long"  # RFC 3261 21.5.11
    for junk in (b"\x00\x01garbage", b"INVITE\r\n\r\n", request("OPTIONS", port, drop="Via")):
        assert await asyncio.to_thread(udp_exchange, port, junk, False) is None
    # still healthy afterwards
    reply = await asyncio.to_thread(udp_exchange, port, request("OPTIONS", port))
    assert status(reply) == "SIP/2.0 200 OK"
    assert door.transport is not None and door.transport.malformed >= 8
    assert rec.of(CallOffered) == []
    assert_no_leftovers(door)


async def test_allow_list_refuses_other_peers(make_door: MakeDoor) -> None:
    door, rec = await make_door(lambda d, e: None,  # type: ignore[misc]
                                allow_from=frozenset({"127.0.0.2"}))
    port = door.local[1]
    sdp = (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           b"m=audio 40000 RTP/AVP 0\r\n")
    reply = await asyncio.to_thread(udp_exchange, port, request(
        "INVITE", port, body=sdp, extra="Content-Type: application/sdp"))
    assert reply is not None and reply.startswith(b"SIP/2.0 403 Forbidden")
    assert rec.of(CallOffered) == []


async def test_unspeakable_tts_prompt_still_finishes(make_door: MakeDoor, tmp_path: Path) -> None:
    """A tts: text that cannot be spoken must not stall the call flow."""

    def broken(text: str, path: Path) -> None:
        raise RuntimeError("no speech engine")

    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            if isinstance(event, CallOffered):
                await door.answer(event.call_id)
                await door.play(event.call_id, "tts:次の受付は月曜日です。")
            elif isinstance(event, PlaybackFinished):
                await door.hangup(event.call_id)

        return go()

    door, rec = await make_door(handler, synthesize=broken)  # type: ignore[misc]
    scenario = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                      dtmf="", bye_timeout_ms=8000)
    result = await run_sipp(scenario, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    assert len(rec.of(PlaybackFinished)) == 1
