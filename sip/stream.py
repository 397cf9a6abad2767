"""A single-consumer async stream of call events, fed from the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

from cti.sip.events import CallEvent

_CLOSED = object()


class EventStream:
    """Unbounded FIFO; ``close()`` ends the iteration after the queued events are drained."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def put(self, event: CallEvent) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_CLOSED)

    def reopen(self) -> None:
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[CallEvent]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            yield cast(CallEvent, item)

    def pending(self) -> list[CallEvent]:
        """Drain and return what is queued now, without waiting (for tests)."""
        out: list[CallEvent] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _CLOSED:
                self._queue.put_nowait(item)
                break
            out.append(cast(CallEvent, item))
        return out
