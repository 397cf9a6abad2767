"""Deadlines per owner (a call or an operator), one live deadline each.

A heap with lazy deletion: rescheduling or cancelling bumps the owner's token
and leaves the old heap entry to be discarded when it surfaces.
"""

from __future__ import annotations

import heapq
from itertools import count

Owner = tuple[str, str]  # ("call", call_id) or ("operator", operator_id)


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Owner]] = []
        self._live: dict[Owner, tuple[float, int]] = {}
        self._counter = count()

    def schedule(self, owner: Owner, at: float) -> None:
        token = next(self._counter)
        self._live[owner] = (at, token)
        heapq.heappush(self._heap, (at, token, owner))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._live):
            self._compact()

    def cancel(self, owner: Owner) -> None:
        self._live.pop(owner, None)

    def next(self) -> float | None:
        self._discard_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Owner | None:
        """Remove and return the earliest owner whose deadline is <= now."""
        self._discard_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, owner = heapq.heappop(self._heap)
        del self._live[owner]
        return owner

    def _discard_stale(self) -> None:
        heap = self._heap
        while heap:
            at, token, owner = heap[0]
            if self._live.get(owner) == (at, token):
                return
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(at, token, owner) for owner, (at, token) in self._live.items()]
        heapq.heapify(self._heap)
