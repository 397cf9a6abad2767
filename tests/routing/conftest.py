"""Fixtures for the routing tests: a `Desk` drives a real `Router` with a hand-moved clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from cti.routing import (
    Decision,
    Event,
    OperatorProfile,
    OperatorStateRequested,
    OperatorView,
    Router,
    RoutingRules,
    ServiceRules,
)

D = TypeVar("D")

SERVICES = ("isolation", "skysea", "portal", "licenses", "telework", "other")


class Desk:
    """A router plus the time it lives in; records every decision it made."""

    def __init__(self, rules: RoutingRules, logger: Any = None) -> None:
        self.rules = rules
        self.router = Router(rules, logger)
        self.now = 0.0
        self.history: list[Decision] = []

    def send(self, event: Event) -> list[Decision]:
        decisions = self.router.handle(event, self.now)
        self.history.extend(decisions)
        return decisions

    def advance(self, seconds: float) -> list[Decision]:
        """Move the clock, waking the router at each deadline on the way."""
        target = self.now + seconds
        out: list[Decision] = []
        while (deadline := self.router.next_deadline()) is not None and deadline <= target:
            self.now = max(self.now, deadline)
            out.extend(self.router.handle_timer(self.now))
        self.now = target
        self.history.extend(out)
        return out

    def login(self, *operator_ids: str) -> None:
        for operator_id in operator_ids:
            self.send(OperatorStateRequested(operator_id, "available"))

    def operator(self, operator_id: str) -> OperatorView:
        return next(o for o in self.router.operators() if o.operator_id == operator_id)

    def state(self, operator_id: str) -> str:
        return self.operator(operator_id).state

    @staticmethod
    def of(kind: type[D], decisions: Iterable[Decision]) -> list[D]:
        return [d for d in decisions if isinstance(d, kind)]


def make_rules(
    skills: Mapping[str, Mapping[str, int]],
    services: Iterable[str] = SERVICES,
    *,
    service_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    **rule_overrides: Any,
) -> RoutingRules:
    """Rules for fictional operators; every service gets test-friendly defaults."""
    overrides = service_overrides or {}
    defaults: dict[str, Any] = {
        "wrap_up_s": 10.0,
        "overflow_after_s": 60.0,
        "overflow_any_after_s": 120.0,
        "max_wait_s": 600.0,
        "primary_min_proficiency": 3,
        "default_handle_time_s": 200.0,
    }
    service_rules = tuple(
        replace(ServiceRules(s), **{**defaults, **overrides.get(s, {})}) for s in services
    )
    operators = tuple(OperatorProfile(op, dict(sk)) for op, sk in skills.items())
    settings: dict[str, Any] = {"ring_timeout_s": 15.0, "announce_interval_s": None}
    settings.update(rule_overrides)
    return RoutingRules(service_rules, operators, **settings)


@pytest.fixture(scope="session")
def desk() -> Callable[..., Desk]:
    """`desk(skills, **overrides)`: a fresh Desk over `make_rules(skills, ...)`."""

    def build(skills: Mapping[str, Mapping[str, int]], **kwargs: Any) -> Desk:
        return Desk(make_rules(skills, **kwargs))

    return build


@pytest.fixture(scope="session")
def rules_for() -> Callable[..., RoutingRules]:
    return make_rules
