"""Live events for the browsers: screen pops to one operator, floor changes to supervisors.

Each connected console has a bounded queue; a console that stops reading loses its oldest
events (and is told so with a ``dropped`` count) rather than slowing the call flow down.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from cti.auth import Principal, Role

log = structlog.get_logger()
QUEUE_LIMIT = 256
ALERTS_KEPT = 50  # the wallboard shows the latest alerts again after a reload
ALERT_TYPES = frozenset({"alert", "escalation_overdue"})
FLOOR_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})


@dataclass(eq=False)
class Subscription:
    who: Principal
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT))
    dropped: int = 0

    def offer(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            log.warning("console.event_dropped", user=self.who.name, dropped=self.dropped)
        self.queue.put_nowait(message)


class ConsoleFeed:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self.recent_alerts: deque[dict[str, Any]] = deque(maxlen=ALERTS_KEPT)

    def subscribe(self, who: Principal) -> Subscription:
        subscription = Subscription(who)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def connected(self) -> int:
        return len(self._subscriptions)

    def to_operator(self, operator_id: str, message: dict[str, Any]) -> int:
        """Send to every console of the user bound to one operator (an operator may have two
        tabs); how many got it."""
        return self._send((s for s in self._subscriptions if s.who.operator_id == operator_id),
                          message)

    def to_floor(self, message: dict[str, Any]) -> int:
        """Send to every supervisor, manager and admin console (alerts are also kept)."""
        if message.get("type") in ALERT_TYPES:
            self.recent_alerts.appendleft(message)
        return self._send((s for s in self._subscriptions if s.who.role in FLOOR_ROLES), message)

    def to_everyone(self, message: dict[str, Any]) -> int:
        """Send to every console (the hours changed, an incident notice went up or down)."""
        return self._send(self._subscriptions, message)

    def _send(self, targets: Iterable[Subscription], message: dict[str, Any]) -> int:
        count = 0
        for subscription in targets:
            subscription.offer(message)
            count += 1
        return count
