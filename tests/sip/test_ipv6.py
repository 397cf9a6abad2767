"""IPv6: the front door listens on [::1] when configured (alone or next to IPv4) and relays
c=IN IP6 media."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import SippServer, free_udp_port, part, render, run_sipp
from test_transactions import answering

from cti.sip.adapter import SipFrontDoor
from cti.sip.events import CallAnswered, CallEnded, CallEvent, CallOffered, OperatorConnected

MakeDoor = Callable[..., object]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


# Skipped on a laptop without IPv6 loopback; with CTI_REQUIRE_PEERS (CI) it runs and fails there.
needs_ipv6 = pytest.mark.skipif(not os.environ.get("CTI_REQUIRE_PEERS") and not ipv6_loopback(),
                                reason="no IPv6 loopback on this host")


@pytest.mark.peers
@needs_ipv6
async def test_call_over_ipv6_loopback(make_door: MakeDoor, tmp_path: Path) -> None:
    door, rec = await make_door(answering, bind_host="::1")  # type: ignore[misc]
    assert door.local[0] == "::1"
    xml = render("uac_basic.xml", tmp_path, codecs="0", pause_ms=1500)
    result = await run_sipp(xml, door.local[1], tmp_path, source="::1", target_host="::1")
    assert result.returncode == 0, result.errors + result.stderr
    answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert ended.call_id == answered.call_id
    messages = result.messages
    assert "c=IN IP6 ::1" in messages  # our answer names IPv6 media
    assert "Contact: <sip:helpdesk@[::1]:" in messages


@pytest.mark.peers
@needs_ipv6
async def test_ipv4_and_ipv6_at_once(make_door: MakeDoor, tmp_path: Path) -> None:
    """Dual stack: one service listens on 127.0.0.1 and [::1]; a SIPp caller on each family
    gets answers, Contact and media of its own family, and an IPv6 caller is bridged to an
    operator phone on IPv4 (the relay crosses families)."""
    then = part("uas_then_wait_bye.part", bye_timeout_ms=15000)
    operator_xml = render("uas_operator.xml", tmp_path, media_port=free_udp_port(True), codec=0,
                          ring_ms=100, then=then)
    async with SippServer(operator_xml, tmp_path) as operator:
        def handler(door: SipFrontDoor, event: CallEvent) -> object:
            async def go() -> None:
                if isinstance(event, CallOffered):
                    await door.answer(event.call_id)
                    if event.call_id.startswith("v6-"):
                        await door.connect_to_operator(event.call_id, operator.uri, 10)

            return go()

        door, rec = await make_door(  # type: ignore[misc]
            handler, bind_host="127.0.0.1", also_bind=("::1", 0))
        assert door.transport is not None
        v4_port, v6_port = door.transport.addresses[4][1], door.transport.addresses[6][1]
        health = door.socket_health()
        assert health is not None and health.bound
        assert health.local == f"127.0.0.1:{v4_port}, [::1]:{v6_port}"
        v4 = tmp_path / "v4"
        v6 = tmp_path / "v6"
        v4.mkdir()
        v6.mkdir()
        v4_xml = render("uac_basic.xml", v4, codecs="0", pause_ms=1500)
        v6_xml = render("uac_wait_bye.xml", v6, codecs="0", media_port="[media_port]", dtmf="",
                        bye_timeout_ms=20000)
        v6_call = asyncio.create_task(run_sipp(
            v6_xml, v6_port, v6, source="::1", target_host="::1", timeout_s=30,
            extra=("-cid_str", "v6-%u-%p@%s")))
        v4_result = await run_sipp(v4_xml, v4_port, v4)
        connected = await rec.wait_for(lambda e: isinstance(e, OperatorConnected), 10)
        await door.hangup(connected.call_id)
        v6_result = await v6_call
        op_result = await operator.result()
    assert v4_result.returncode == 0, v4_result.errors + v4_result.stderr
    assert v6_result.returncode == 0, v6_result.errors + v6_result.stderr
    assert op_result.returncode == 0, op_result.errors + op_result.stderr
    assert "c=IN IP4 127.0.0.1" in v4_result.messages
    assert f"Contact: <sip:helpdesk@127.0.0.1:{v4_port}>" in v4_result.messages
    assert "IP6" not in v4_result.messages
    assert "c=IN IP6 ::1" in v6_result.messages
    assert f"Contact: <sip:helpdesk@[::1]:{v6_port}>" in v6_result.messages
    # the operator leg went out of the IPv4 socket, with IPv4 Via, Contact and media
    assert f"Via: SIP/2.0/UDP 127.0.0.1:{v4_port};" in op_result.messages
    assert "c=IN IP4 127.0.0.1" in op_result.messages
