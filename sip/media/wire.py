"""The pipe between the call path and a media worker: length-prefixed pickled batches.

Both ends are this program (the worker is ``python -m cti.sip.media.worker`` started by the
service on an inherited socketpair), so pickle is safe here; nothing from the network is ever
unpickled. Each frame is a 4-byte big-endian length and one pickled list of messages, each a
tuple whose first item names it. Messages are batched per event-loop turn (``Outbox``): one
write and one read per turn however many calls changed, instead of one per message.

Commands (service -> worker): ``open``, ``set``, ``play``, ``stop``, ``bridge``, ``unbridge``,
``clock``, ``close``. Events (worker -> service): ``opened``, ``digit``, ``finished``,
``report``. Their fields are documented where they are handled (``worker.py``, ``remote.py``).
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any, Final

LENGTH: Final = struct.Struct("!I")
MAX_FRAME: Final = 64 * 1024 * 1024  # a sanity bound; a batch of audio for every call fits

Message = tuple[Any, ...]


def encode(messages: list[Message]) -> bytes:
    body = pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(body)) + body


async def read_batch(reader: asyncio.StreamReader) -> list[Message] | None:
    """The next batch, or None when the other end has gone (EOF)."""
    try:
        head = await reader.readexactly(LENGTH.size)
        (size,) = LENGTH.unpack(head)
        if size > MAX_FRAME:
            raise ValueError(f"media frame of {size} bytes")
        messages: list[Message] = pickle.loads(await reader.readexactly(size))
        return messages
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class Outbox:
    """Messages queued during one turn of the event loop, written as one frame at its end."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._queued: list[Message] = []
        self.closed = False

    def put(self, message: Message) -> None:
        if self.closed:
            return
        if not self._queued:
            asyncio.get_running_loop().call_soon(self.flush)
        self._queued.append(message)

    def flush(self) -> None:
        if not self._queued or self.closed:
            return
        batch, self._queued = self._queued, []
        if self.writer.is_closing():
            self.closed = True
            return
        self.writer.write(encode(batch))

    def close(self) -> None:
        self.flush()
        self.closed = True
        self.writer.close()
