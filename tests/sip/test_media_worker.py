"""Media worker processes (``sip/media``): a worker that dies ends the calls it carried, health
says so while it is down, and the next calls get a new worker; legs spread over several workers
keep each bridge inside one."""

from __future__ import annotations

import asyncio
import audioop
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import SippResult, render, run_sipp, wait_until

from cti.sip.adapter import SipFrontDoor
from cti.sip.audio import sine
from cti.sip.events import CallAnswered, CallEnded, CallEvent, CallOffered, EndReason
from cti.sip.media import remote

pytestmark = pytest.mark.peers
MakeDoor = Callable[..., object]


def answer_and_hold(door: SipFrontDoor, event: CallEvent) -> object:
    async def go() -> None:
        if isinstance(event, CallOffered):
            await door.answer(event.call_id)
            await door.play(event.call_id, "tone:hold", loop=True)

    return go()


def workers(door: SipFrontDoor) -> remote.WorkerMedia:
    assert isinstance(door.rtp, remote.WorkerMedia)
    return door.rtp


async def a_waiting_caller(door: SipFrontDoor, tmp_path: Path
                           ) -> asyncio.Task[SippResult]:
    """A caller that stays on the line until we hang up (at most 15 s)."""
    caller = render("uac_wait_bye.xml", tmp_path, codecs="0", media_port="[media_port]",
                    dtmf="", bye_timeout_ms=15000)
    return asyncio.create_task(run_sipp(caller, door.local[1], tmp_path, timeout_s=30))


async def test_a_dead_worker_ends_its_calls_and_a_new_one_takes_the_next(
        make_door: MakeDoor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    door, rec = await make_door(answer_and_hold)  # type: ignore[misc]
    media = workers(door)
    assert door.socket_health() is not None and door.socket_health().media == "ok"  # type: ignore[union-attr]
    first = await a_waiting_caller(door, tmp_path)
    answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
    dead = media.workers[0].proc
    assert dead is not None
    # The worker cannot come back yet: its program is missing.
    monkeypatch.setattr(remote.sys, "executable", "/nonexistent/python")
    os.kill(dead.pid, signal.SIGKILL)
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded))
    assert isinstance(ended, CallEnded) and ended.call_id == answered.call_id
    assert ended.reason is EndReason.ERROR
    result = await first
    assert result.returncode == 0, result.errors + result.stderr  # the caller got our BYE
    health = door.socket_health()
    assert health is not None and health.media == "error: media worker 0 down"
    # While it is down a new caller is refused at once (503), not answered into silence.
    (tmp_path / "refused").mkdir()
    refused = await run_sipp(render("uac_basic.xml", tmp_path / "refused", codecs="0",
                                    pause_ms=100), door.local[1], tmp_path / "refused",
                             timeout_s=10)
    assert refused.returncode != 0 and "SIP/2.0 503" in refused.messages
    monkeypatch.undo()
    await wait_until(lambda: media.workers[0].up and media.workers[0].proc is not dead, 15)
    assert door.socket_health().media == "ok"  # type: ignore[union-attr]
    (tmp_path / "second").mkdir()
    second = await run_sipp(render("uac_basic.xml", tmp_path / "second", codecs="0",
                                   pause_ms=300), door.local[1], tmp_path / "second",
                            timeout_s=20)
    assert second.returncode == 0, second.errors + second.stderr
    ends = await rec.wait_for(lambda e: isinstance(e, CallEnded) and e.call_id != ended.call_id)
    assert isinstance(ends, CallEnded) and ends.reason is EndReason.CALLER_HUNG_UP
    await door.rtp.refresh()
    assert door.rtp.sessions == set()


async def test_worker_counters_follow_the_call(make_door: MakeDoor, tmp_path: Path) -> None:
    """A worker's leg reports what its sockets did: packets in from the caller, out to it."""
    door, rec = await make_door(answer_and_hold)  # type: ignore[misc]
    audio = tmp_path / "tone.ulaw"
    audio.write_bytes(audioop.lin2ulaw(sine((700.0,), 1.0), 2))
    caller = render("uac_long_rtp.xml", tmp_path, codecs="0", pause_ms=4000, audio=audio)
    call = asyncio.create_task(run_sipp(caller, door.local[1], tmp_path, timeout_s=30))
    answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
    leg = door.calls[answered.call_id].media
    assert leg is not None and leg.ssrc != 0
    await wait_until(lambda: leg.packets_out > 0 and leg.packets_in > 0, 5)  # its own report (1 s)
    sent, heard = leg.packets_out, leg.packets_in
    async with asyncio.timeout(5):  # asked for, the counters are those of now: they move
        while leg.packets_out < sent + 10 or leg.packets_in <= heard:
            await door.rtp.refresh()
    result = await call  # the caller hangs up after 4 s
    assert result.returncode == 0, result.errors + result.stderr


async def test_a_hung_worker_is_killed_and_replaced(
        make_door: MakeDoor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that stops reporting (here: SIGSTOP) is not left with health saying ok."""
    monkeypatch.setattr(remote, "SILENT_S", 1.5)
    door, rec = await make_door(answer_and_hold)  # type: ignore[misc]
    media = workers(door)
    call = await a_waiting_caller(door, tmp_path)
    answered = await rec.wait_for(lambda e: isinstance(e, CallAnswered))
    hung = media.workers[0].proc
    assert hung is not None
    os.kill(hung.pid, signal.SIGSTOP)
    ended = await rec.wait_for(lambda e: isinstance(e, CallEnded), 10)
    assert isinstance(ended, CallEnded) and ended.call_id == answered.call_id
    assert ended.reason is EndReason.ERROR
    assert await asyncio.wait_for(hung.wait(), 5) == -signal.SIGKILL  # killed, not exited
    await wait_until(lambda: media.workers[0].up and media.workers[0].proc is not hung, 10)
    assert door.socket_health().media == "ok"  # type: ignore[union-attr]
    assert (await call).returncode == 0
