from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cti.sip.adapter import SipFrontDoor
from cti.sip.audio import PromptLibrary, silence, sine
from cti.sip.events import CallEvent
from cti.sip.settings import SipSettings


def write_wav(path: Path, pcm: bytes) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)


@pytest.fixture
def prompt_dir(tmp_path: Path) -> Path:
    d = tmp_path / "prompts"
    d.mkdir()
    write_wav(d / "greeting.wav", sine((440.0,), 0.6))
    write_wav(d / "short.wav", sine((1000.0,), 0.2))
    for name in ("menu_1_isolation", "menu_2_skysea", "menu_9_other", "invalid_choice",
                 "no_input", "closed_after_hours"):
        write_wav(d / f"{name}.wav", sine((600.0,), 0.2) + silence(0.1))
    return d


class Recorder:
    """Collects a door's events and lets tests wait for one with a timeout."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self._changed = asyncio.Condition()

    async def consume(self, door: SipFrontDoor, handler: Callable[[CallEvent], object]) -> None:
        async for event in door.events():
            self.events.append(event)
            result = handler(event)
            if asyncio.iscoroutine(result):
                await result
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[CallEvent], bool], within: float = 10.0
                       ) -> CallEvent:
        async def find() -> CallEvent:
            async with self._changed:
                while True:
                    for e in self.events:
                        if predicate(e):
                            return e
                    await self._changed.wait()

        return await asyncio.wait_for(find(), within)

    def of(self, kind: type) -> list[CallEvent]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
async def make_door(prompt_dir: Path) -> AsyncIterator[Callable[..., object]]:
    doors: list[SipFrontDoor] = []
    tasks: list[asyncio.Task[None]] = []

    async def make(handler: Callable[[SipFrontDoor, CallEvent], object], **kw: object
                   ) -> tuple[SipFrontDoor, Recorder]:
        synthesize = kw.pop("synthesize", None)
        settings = SipSettings(prompt_dir=prompt_dir, bind_port=0, **kw)  # type: ignore[arg-type]
        door = SipFrontDoor(settings, PromptLibrary(prompt_dir, synthesize))  # type: ignore[arg-type]
        await door.start()
        rec = Recorder()
        tasks.append(asyncio.create_task(rec.consume(door, lambda e: handler(door, e))))
        doors.append(door)
        return door, rec

    yield make
    for door in doors:
        await door.stop()
    for t in tasks:
        await asyncio.wait_for(t, 5)
