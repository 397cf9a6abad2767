"""Waiting calls, bucketed by (service, overflow level), each bucket kept sorted.

Every call in one bucket can be taken by the same set of operators, so only a
bucket's head is ever a candidate for an operator: that keeps a dispatch at
O(services x levels) however long the queue is. Buckets are plain sorted lists
(`bisect`): inserting and removing move memory in C, which for a helpdesk queue
(even 1,000 calls) is cheaper than a balanced tree in Python.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from heapq import merge

from .records import CallKey

LEVELS = 3  # 0: primary operators, 1: any proficiency, 2: any logged-in operator


class WaitingCalls:
    def __init__(self, services: Iterable[str]) -> None:
        self._buckets: dict[tuple[str, int], list[CallKey]] = {
            (service, level): [] for service in services for level in range(LEVELS)
        }

    def add(self, service: str, level: int, key: CallKey) -> None:
        insort(self._buckets[(service, level)], key)

    def remove(self, service: str, level: int, key: CallKey) -> None:
        bucket = self._buckets[(service, level)]
        index = bisect_left(bucket, key)
        if index == len(bucket) or bucket[index] != key:
            raise KeyError(key)
        del bucket[index]

    def heads(self) -> Iterator[tuple[str, int, CallKey]]:
        for (service, level), bucket in self._buckets.items():
            if bucket:
                yield service, level, bucket[0]

    def position(self, service: str, key: CallKey) -> int:
        """1-based position of `key` among the waiting calls of `service`."""
        return 1 + sum(
            bisect_left(self._buckets[(service, level)], key) for level in range(LEVELS)
        )

    def count(self, service: str) -> int:
        return sum(len(self._buckets[(service, level)]) for level in range(LEVELS))

    def ordered(self, service: str) -> list[CallKey]:
        return list(merge(*(self._buckets[(service, level)] for level in range(LEVELS))))
