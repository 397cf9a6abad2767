"""Routing configuration as frozen dataclasses (cti maps the TOML config onto these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from .errors import InvalidRoutingRules

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 5


class Strategy(StrEnum):
    """How a service picks among the operators free to take a call."""

    LONGEST_IDLE = "longest_idle"
    PROFICIENCY_THEN_IDLE = "proficiency_then_idle"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """Rules for one service (queue).

    Overflow levels: level 0 offers the call only to operators whose proficiency
    for the service is at least `primary_min_proficiency`; after
    `overflow_after_s` of waiting (level 1) to anyone with the skill; after
    `overflow_any_after_s` (level 2) to any logged-in operator. After
    `max_wait_s` the caller is offered a callback/voicemail. `None` disables a
    step.
    """

    service_id: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    wrap_up_s: float = 30.0
    wrap_up_extension_s: float | None = None  # None: the same as wrap_up_s
    overflow_after_s: float | None = 60.0
    overflow_any_after_s: float | None = 180.0
    max_wait_s: float | None = 600.0
    primary_min_proficiency: int = 3
    default_handle_time_s: float = 300.0

    @property
    def extension_s(self) -> float:
        return self.wrap_up_s if self.wrap_up_extension_s is None else self.wrap_up_extension_s

    def __post_init__(self) -> None:
        key = f"services.{self.service_id}"
        if not self.service_id:
            raise InvalidRoutingRules("services.service_id", "a non-empty service id")
        try:
            object.__setattr__(self, "strategy", Strategy(self.strategy))
        except ValueError:
            raise InvalidRoutingRules(
                f"{key}.strategy", "one of " + ", ".join(s.value for s in Strategy)
            ) from None
        for name in ("wrap_up_s", "default_handle_time_s"):
            if getattr(self, name) < 0:
                raise InvalidRoutingRules(f"{key}.{name}", "a number >= 0")
        if self.wrap_up_extension_s is not None and self.wrap_up_extension_s < 0:
            raise InvalidRoutingRules(f"{key}.wrap_up_extension_s", "a number >= 0")
        previous = 0.0
        for name in ("overflow_after_s", "overflow_any_after_s", "max_wait_s"):
            value = getattr(self, name)
            if value is None:
                continue
            if value < previous:
                raise InvalidRoutingRules(
                    f"{key}.{name}",
                    "a number >= 0 and >= the earlier overflow steps "
                    "(overflow_after_s <= overflow_any_after_s <= max_wait_s)",
                )
            previous = value
        if not MIN_PROFICIENCY <= self.primary_min_proficiency <= MAX_PROFICIENCY:
            raise InvalidRoutingRules(f"{key}.primary_min_proficiency", "an integer 1..5")


@dataclass(frozen=True, slots=True)
class OperatorProfile:
    """An operator and their proficiency (1..5) per service id."""

    operator_id: str
    skills: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.operator_id:
            raise InvalidRoutingRules("operators.operator_id", "a non-empty operator id")
        for service, level in self.skills.items():
            if not (isinstance(level, int) and MIN_PROFICIENCY <= level <= MAX_PROFICIENCY):
                raise InvalidRoutingRules(
                    f"operators.{self.operator_id}.skills.{service}", "an integer 1..5"
                )
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))


@dataclass(frozen=True, slots=True)
class RoutingRules:
    """Everything the router needs to know, fixed for the life of a `Router`."""

    services: tuple[ServiceRules, ...]
    operators: tuple[OperatorProfile, ...]
    ring_timeout_s: float = 20.0
    max_missed_offers: int = 3
    announce_interval_s: float | None = 45.0
    priority_callers: frozenset[str] = frozenset()
    priority_caller_boost: int = 1
    handle_time_window: int = 20
    closed_calls_kept: int = 10_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", tuple(self.services))
        object.__setattr__(self, "operators", tuple(self.operators))
        object.__setattr__(self, "priority_callers", frozenset(self.priority_callers))
        if not self.services:
            raise InvalidRoutingRules("services", "at least one service")
        service_ids = [s.service_id for s in self.services]
        if len(set(service_ids)) != len(service_ids):
            raise InvalidRoutingRules("services", "unique service ids")
        operator_ids = [o.operator_id for o in self.operators]
        if len(set(operator_ids)) != len(operator_ids):
            raise InvalidRoutingRules("operators", "unique operator ids")
        known = set(service_ids)
        for op in self.operators:
            for service in op.skills:
                if service not in known:
                    raise InvalidRoutingRules(
                        f"operators.{op.operator_id}.skills.{service}",
                        "a configured service id (" + ", ".join(service_ids) + ")",
                    )
        if self.ring_timeout_s <= 0:
            raise InvalidRoutingRules("ring_timeout_s", "a number > 0")
        if self.max_missed_offers < 1:
            raise InvalidRoutingRules("max_missed_offers", "an integer >= 1")
        if self.announce_interval_s is not None and self.announce_interval_s <= 0:
            raise InvalidRoutingRules("announce_interval_s", "a number > 0 or None")
        if self.handle_time_window < 1:
            raise InvalidRoutingRules("handle_time_window", "an integer >= 1")
        if self.closed_calls_kept < 0:
            raise InvalidRoutingRules("closed_calls_kept", "an integer >= 0")

    def service(self, service_id: str) -> ServiceRules | None:
        for s in self.services:
            if s.service_id == service_id:
                return s
        return None
