"""Callers that vanish, flood DTMF or hang up mid-menu; ids unique across restarts."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from ivr_driver import IvrDriver
from peers import HOST, free_udp_port, render, run_sipp

from cti.sip.adapter import SipFrontDoor
from cti.sip.audio import PromptLibrary
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOffered,
    DigitReceived,
    EndReason,
)
from cti.sip.ivr import IvrSettings, MenuEntry
from cti.sip.settings import RegistrarSettings, SipSettings

MakeDoor = Callable[..., object]
ENTRIES = (MenuEntry("1", "isolation", "インターネット分離", "internet isolation"),)


def answer_only(door: SipFrontDoor, event: CallEvent) -> object:
    async def go() -> None:
        if isinstance(event, CallOffered):
            await door.answer(event.call_id)

    return go()


@pytest.mark.peers
async def test_silent_caller_is_hung_up_after_the_media_timeout(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    """A caller that vanished without BYE (no RTP) must not leave a stuck call."""
    door, rec = await make_door(answer_only, media_timeout_s=1.0)  # type: ignore[misc]
    scenario = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port=free_udp_port(True),
                      dtmf="", bye_timeout_ms=8000)
    result = await run_sipp(scenario, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr  # it got our BYE
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.MEDIA_TIMEOUT
    assert door.calls == {}


@pytest.mark.peers
async def test_dtmf_flood_is_bounded(make_door: MakeDoor, tmp_path: Path) -> None:
    door, rec = await make_door(answer_only, max_digits_per_second=5)  # type: ignore[misc]
    scenario = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port=free_udp_port(True),
                      dtmf="", bye_timeout_ms=10000)
    caller = asyncio.create_task(run_sipp(scenario, door.local[1], tmp_path))
    answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
    call = door.calls[answered.call_id]
    assert call.media is not None and call.offer.event_pt == 101
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(300):  # 300 distinct events in a burst, plus garbage
            event = struct.pack("!BBH", i % 12, 0x80, 160)
            s.sendto(struct.pack("!BBHII", 0x80, 0x80 | 101, i, 1000 + 800 * i, 7) + event,
                     (HOST, call.media.local_port))
            s.sendto(b"\x80\x65garbage", (HOST, call.media.local_port))
    await rec.wait_for(lambda e: isinstance(e, DigitReceived))
    await door.hangup(answered.call_id)
    result = await caller
    assert result.returncode == 0, result.errors + result.stderr
    digits = rec.of(DigitReceived)
    assert 1 <= len(digits) <= 5 * 3  # bounded by the per-second guard, not 300
    assert door.calls == {}


@pytest.mark.peers
async def test_caller_hangs_up_after_incident_message_is_deflected(
    make_door: MakeDoor, tmp_path: Path
) -> None:
    holder: dict[str, IvrDriver] = {}
    door, rec = await make_door(lambda d, e: holder["d"].handle(e))  # type: ignore[misc]
    holder["d"] = IvrDriver(door, IvrSettings(ENTRIES, digit_timeout_s=5), incident_prompt="short")
    # greeting (0.6 s) + incident (0.2 s), then the caller leaves during the menu
    scenario = render("uac_basic.xml", tmp_path, codecs="0", pause_ms=1500)
    result = await run_sipp(scenario, door.local[1], tmp_path)
    assert result.returncode == 0, result.errors + result.stderr
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.CALLER_HUNG_UP
    (left,) = holder["d"].left.values()
    assert left.deflected


async def test_call_ids_and_branches_unique_across_restarts(prompt_dir: Path) -> None:
    """Defect 7: pyVoIP's first Call-ID is the same in every process."""
    ids = []
    for _ in range(2):
        settings = SipSettings(prompt_dir=prompt_dir, bind_port=0, registrar=RegistrarSettings(
            "127.0.0.1", free_udp_port(), retry_s=30, attempt_timeout_s=0.2))
        door = SipFrontDoor(settings, PromptLibrary(prompt_dir))
        await door.start()
        reg = door.registration
        ids.append(reg.call_id)  # type: ignore[attr-defined]
        await door.stop()
    assert ids[0] != ids[1]
    from cti.sip.message import new_branch, new_call_id

    assert len({new_call_id("h") for _ in range(1000)}) == 1000
    assert len({new_branch() for _ in range(1000)}) == 1000
