"""Who may take a call (overflow levels) and whom a service's strategy picks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .records import OperatorRecord
from .rules import RoutingRules, ServiceRules, Strategy
from .waiting import LEVELS


def overflow_level(rules: ServiceRules, arrived_at: float, now: float) -> int:
    """The overflow level a call of this service that arrived at `arrived_at` has
    reached at `now`. Compared as `arrived_at + step <= now`, exactly as the
    deadlines are computed, so a deadline that fired always finds its step reached."""
    if rules.overflow_any_after_s is not None and arrived_at + rules.overflow_any_after_s <= now:
        return 2
    if rules.overflow_after_s is not None and arrived_at + rules.overflow_after_s <= now:
        return 1
    return 0


def max_wait_reached(rules: ServiceRules, arrived_at: float, now: float) -> bool:
    return rules.max_wait_s is not None and arrived_at + rules.max_wait_s <= now


def next_overflow_at(rules: ServiceRules, arrived_at: float, level: int) -> float | None:
    """When a call at `level` widens next, or None if it never will."""
    for step, after in ((1, rules.overflow_after_s), (2, rules.overflow_any_after_s)):
        if step > level and after is not None:
            return arrived_at + after
    return None


def operator_reaches(rules: ServiceRules, skills: dict[str, int], level: int) -> bool:
    """May an operator with `skills` be offered a call of this service at `level`?"""
    proficiency = skills.get(rules.service_id, 0)
    if level == 0:
        return proficiency >= rules.primary_min_proficiency
    if level == 1:
        return proficiency >= 1
    return True


def eligibility_table(rules: RoutingRules) -> dict[tuple[str, int], frozenset[str]]:
    """(service, level) -> operator ids who may take such a call when free."""
    return eligibility_from(rules.services, {op.operator_id: op.skills for op in rules.operators})


def eligibility_from(
    services: Iterable[ServiceRules], skills: Mapping[str, Mapping[str, int]]
) -> dict[tuple[str, int], frozenset[str]]:
    """The same table for any operators (``skills``: operator id -> service -> proficiency)."""
    return {
        (service.service_id, level): frozenset(
            operator_id
            for operator_id, their in skills.items()
            if operator_reaches(service, dict(their), level)
        )
        for service in services
        for level in range(LEVELS)
    }


def choose_operators(
    strategy: Strategy,
    service: str,
    candidates: Sequence[OperatorRecord],
    last_round_robin: int,
    operator_count: int,
) -> list[OperatorRecord]:
    """The operator(s) to ring, by the service's strategy. `candidates` is non-empty."""
    match strategy:
        case Strategy.LONGEST_IDLE:
            return [min(candidates, key=lambda op: (op.idle_since, op.order))]
        case Strategy.PROFICIENCY_THEN_IDLE:
            return [
                min(
                    candidates,
                    key=lambda op: (-op.skills.get(service, 0), op.idle_since, op.order),
                )
            ]
        case Strategy.ROUND_ROBIN:
            return [
                min(
                    candidates,
                    key=lambda op: (op.order - last_round_robin - 1) % operator_count,
                )
            ]
        case Strategy.RING_ALL:
            return sorted(candidates, key=lambda op: op.order)
