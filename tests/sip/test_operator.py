"""Outbound operator legs against SIPp UAS operator phones (defects 3 and 6)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import SippServer, free_udp_port, part, render, run_sipp

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOffered,
    EndReason,
    HungUpBy,
    OperatorConnected,
    OperatorFailed,
    OperatorFailure,
    OperatorNoAnswer,
    OperatorRinging,
)

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]


def connect_to(uri: str, ring_timeout_s: float, *, hangup_after_failure: bool = True
               ) -> Callable[[SipFrontDoor, CallEvent], object]:
    def handler(door: SipFrontDoor, event: CallEvent) -> object:
        async def go() -> None:
            match event:
                case CallOffered(call_id=cid):
                    await door.answer(cid)
                    await door.play(cid, "tone:hold", loop=True)
                    await door.connect_to_operator(cid, uri, ring_timeout_s)
                case OperatorFailed(call_id=cid) | OperatorNoAnswer(call_id=cid):
                    if hangup_after_failure:
                        await door.hangup(cid)
                case _:
                    pass

        return go()

    return handler


def kinds(events: list[CallEvent]) -> list[type]:
    return [type(e) for e in events if not type(e).__name__.startswith("Registration")]


def assert_clean(door: SipFrontDoor) -> None:
    assert door.calls == {}
    assert door.rtp.sessions == set()


@pytest.mark.parametrize("media_workers", [1, 0, 2])  # the default, in-process, two workers
async def test_operator_answers_then_caller_hangs_up(make_door: MakeDoor, tmp_path: Path,
                                                     media_workers: int) -> None:
    then = part("uas_then_wait_bye.part", bye_timeout_ms=10000)
    uas_xml = render("uas_operator.xml", tmp_path, media_port=free_udp_port(True), codec=0,
                     ring_ms=200, then=then)
    async with SippServer(uas_xml, tmp_path) as operator:
        door, rec = await make_door(connect_to(operator.uri, 10),  # type: ignore[misc]
                                    media_workers=media_workers)
        caller = render("uac_basic.xml", tmp_path, codecs="0", pause_ms=1500)
        result = await run_sipp(caller, door.local[1], tmp_path)
        assert result.returncode == 0, result.errors + result.stderr
        op = await operator.result()
    assert op.returncode == 0, op.errors + op.stderr
    assert "ACK-TO-TAG tag=" in op.logs  # defect 3: the ACK names the 200's To-tag
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert kinds(rec.events) == [CallOffered, CallAnswered, OperatorRinging,
                                 OperatorConnected, CallEnded]
    assert isinstance(ended, CallEnded) and ended.hung_up_by is HungUpBy.CALLER
    assert_clean(door)


async def test_operator_hangs_up_ends_caller(make_door: MakeDoor, tmp_path: Path) -> None:
    then = part("uas_then_send_bye.part", talk_ms=800)
    uas_xml = render("uas_operator.xml", tmp_path, media_port=free_udp_port(True), codec=8,
                     ring_ms=100, then=then)
    async with SippServer(uas_xml, tmp_path) as operator:
        door, rec = await make_door(connect_to(operator.uri, 10))  # type: ignore[misc]
        caller = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                        dtmf="", bye_timeout_ms=10000)
        result = await run_sipp(caller, door.local[1], tmp_path)
        assert result.returncode == 0, result.errors + result.stderr
        op = await operator.result()
    assert op.returncode == 0, op.errors + op.stderr
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded)
    assert (ended.reason, ended.hung_up_by) == (EndReason.OPERATOR_HUNG_UP, HungUpBy.OPERATOR)
    assert_clean(door)


@pytest.mark.parametrize(
    ("status", "reason_phrase", "failure"),
    [
        (486, "Busy Here", OperatorFailure.BUSY),
        (404, "Not Found", OperatorFailure.NOT_FOUND),
        (500, "Server Internal Error", OperatorFailure.ERROR),
    ],
)
async def test_operator_rejects(make_door: MakeDoor, tmp_path: Path, status: int,
                                reason_phrase: str, failure: OperatorFailure) -> None:
    """Defect 6: rejections are reported and ACKed; the caller's call goes on."""
    uas_xml = render("uas_reject.xml", tmp_path, status=status, reason=reason_phrase)
    async with SippServer(uas_xml, tmp_path) as operator:
        door, rec = await make_door(connect_to(operator.uri, 10))  # type: ignore[misc]
        caller = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                        dtmf="", bye_timeout_ms=10000)
        result = await run_sipp(caller, door.local[1], tmp_path)
        assert result.returncode == 0, result.errors + result.stderr
        op = await operator.result()
    assert op.returncode == 0, op.errors + op.stderr  # SIPp got its ACK
    failed = rec.of(OperatorFailed)
    assert len(failed) == 1 and isinstance(failed[0], OperatorFailed)
    assert (failed[0].reason, failed[0].sip_status) == (failure, status)
    assert rec.of(OperatorRinging) == []
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.hung_up_by is HungUpBy.SYSTEM
    assert_clean(door)
    assert door.legs == {}


async def test_ring_timeout_cancels_operator(make_door: MakeDoor, tmp_path: Path) -> None:
    uas_xml = render("uas_ring_cancel.xml", tmp_path)
    async with SippServer(uas_xml, tmp_path) as operator:
        door, rec = await make_door(connect_to(operator.uri, 1.0))  # type: ignore[misc]
        caller = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                        dtmf="", bye_timeout_ms=10000)
        result = await run_sipp(caller, door.local[1], tmp_path)
        assert result.returncode == 0, result.errors + result.stderr
        op = await operator.result()
    assert op.returncode == 0, op.errors + op.stderr  # CANCEL sent, 487 ACKed
    assert kinds(rec.events)[2:] == [OperatorRinging, OperatorNoAnswer, CallEnded]
    assert door.legs == {}
    assert_clean(door)


async def test_cancelled_leg_frees_its_rtp_port_before_the_487(
        make_door: MakeDoor, tmp_path: Path) -> None:
    """A phone that confirms the CANCEL but never sends its 487 keeps the INVITE transaction
    open for 32 s; the leg's RTP port must not wait for it."""
    text = render("uas_ring_cancel.xml", tmp_path).read_text()
    silent = tmp_path / "uas_cancel_no_487.xml"
    silent.write_text(text[:text.index("SIP/2.0 487")].rsplit("<send>", 1)[0]
                      + '<pause milliseconds="3000"/>\n</scenario>\n')
    low = 31000 + free_udp_port() % 1000 * 2  # a range of its own: pools are per range
    ports = range(low, low + 8)
    async with SippServer(silent, tmp_path) as operator:
        door, rec = await make_door(connect_to(operator.uri, 1.0),  # type: ignore[misc]
                                    rtp_ports=ports)
        caller = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                        dtmf="", bye_timeout_ms=10000)
        result = await run_sipp(caller, door.local[1], tmp_path)
        assert result.returncode == 0, result.errors + result.stderr
        await rec.wait_for(lambda e: isinstance(e, CallEnded))
        assert len(door.legs) == 1  # type: ignore[attr-defined]  # still waiting for the 487
        await door.rtp.refresh()  # type: ignore[attr-defined]  # the media worker is done too
        for port in ports:  # caller's and operator's RTP and RTCP sockets all closed
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", port))
        assert door.rtp.sessions == set()  # type: ignore[attr-defined]


async def test_caller_hangs_up_while_operator_rings(make_door: MakeDoor, tmp_path: Path) -> None:
    uas_xml = render("uas_ring_cancel.xml", tmp_path)
    async with SippServer(uas_xml, tmp_path) as operator:
        door, rec = await make_door(connect_to(operator.uri, 30))  # type: ignore[misc]
        caller = render("uac_basic.xml", tmp_path, codecs="0", pause_ms=800)
        result = await run_sipp(caller, door.local[1], tmp_path)
        assert result.returncode == 0, result.errors + result.stderr
        op = await operator.result()
    assert op.returncode == 0, op.errors + op.stderr  # the ringing leg was CANCELled
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.CALLER_HUNG_UP
    assert rec.of(OperatorNoAnswer) == [] and rec.of(OperatorConnected) == []
    assert_clean(door)


async def test_unreachable_operator(make_door: MakeDoor, tmp_path: Path) -> None:
    dead = f"sip:201@127.0.0.1:{free_udp_port()}"  # nothing listens there
    door, rec = await make_door(connect_to(dead, 1.0))  # type: ignore[misc]
    caller = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                    dtmf="", bye_timeout_ms=10000)
    result = await run_sipp(caller, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    failed = rec.of(OperatorFailed)
    assert len(failed) == 1 and isinstance(failed[0], OperatorFailed)
    assert (failed[0].reason, failed[0].sip_status) == (OperatorFailure.UNREACHABLE, None)
    assert door.legs == {}
    assert_clean(door)
