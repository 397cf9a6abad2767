"""Login throttling per user name and per source address (sans-IO: time comes in as ``now``).

Failed logins are counted in a sliding window (``failure_window``). When a user name reaches
``max_failures_per_user`` it is locked for ``lockout``: every login for that name is refused with
429 until then, even with the right password (so guessing on cannot tell). When one address
reaches ``max_failures_per_address`` (spread over any names), that address is refused until its
oldest counted failure leaves the window. A successful login clears the name's count.

State lives in this process (each node of a pair counts for itself); both tables are bounded so a
flood of invented names or addresses cannot grow memory without limit.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cti.config.settings import AuthSettings

MAX_TRACKED = 10_000  # names and addresses each; the least recently failing are forgotten first


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # "user_locked" or "address_throttled"
    retry_after_s: int


@dataclass(frozen=True, slots=True)
class Lockout:
    """A name or an address has just been locked: the caller audits and logs it."""

    kind: str  # "user" or "address"
    key: str
    failures: int
    until: datetime


class LoginThrottle:
    def __init__(self, settings: AuthSettings) -> None:
        self._per_user = settings.max_failures_per_user
        self._per_address = settings.max_failures_per_address
        self._window = timedelta(minutes=settings.failure_window_minutes)
        self._lockout = timedelta(minutes=settings.lockout_minutes)
        self._user_failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._address_failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._locked_users: OrderedDict[str, datetime] = OrderedDict()

    def check(self, username: str, address: str, now: datetime) -> Refusal | None:
        """Before the password is looked at: may this name, from this address, try now?"""
        until = self._locked_users.get(username)
        if until is not None:
            if now < until:
                return Refusal("user_locked", _seconds(until - now))
            del self._locked_users[username]
        failures = self._recent(self._address_failures, address, now)
        if failures is not None and len(failures) >= self._per_address:
            return Refusal("address_throttled", _seconds(failures[0] + self._window - now))
        return None

    def failed(self, username: str, address: str, now: datetime) -> list[Lockout]:
        locks = []
        user = self._record(self._user_failures, username, now)
        if len(user) >= self._per_user:
            until = now + self._lockout
            self._locked_users[username] = until
            _bound(self._locked_users)
            self._user_failures.pop(username, None)
            locks.append(Lockout("user", username, len(user), until))
        address_failures = self._record(self._address_failures, address, now)
        if len(address_failures) == self._per_address:
            locks.append(Lockout("address", address, len(address_failures),
                                 address_failures[0] + self._window))
        return locks

    def succeeded(self, username: str) -> None:
        self._user_failures.pop(username, None)

    def _recent(self, table: OrderedDict[str, deque[datetime]], key: str,
                now: datetime) -> deque[datetime] | None:
        found = table.get(key)
        if found is None:
            return None
        while found and found[0] <= now - self._window:
            found.popleft()
        if not found:
            del table[key]
            return None
        return found

    def _record(self, table: OrderedDict[str, deque[datetime]], key: str,
                now: datetime) -> deque[datetime]:
        found = self._recent(table, key, now)
        if found is None:
            found = table[key] = deque()
        found.append(now)
        table.move_to_end(key)
        _bound(table)
        return found


def _bound(table: OrderedDict[str, Any]) -> None:
    while len(table) > MAX_TRACKED:
        table.popitem(last=False)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
