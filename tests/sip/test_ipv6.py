"""IPv6: the front door listens on [::1] when configured and relays c=IN IP6 media."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import render, run_sipp
from test_transactions import answering

from cti.sip.events import CallAnswered, CallEnded

MakeDoor = Callable[..., object]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.peers
@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this host")
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
