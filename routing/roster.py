"""Operators added, re-skilled or removed while the router runs (OperatorConfigured,
OperatorRemoved): the floor's operator table and the tables derived from it kept in step.

`apply` validates first and returns a rejection (reason, detail) without touching the floor,
or makes the change and returns None; the router turns a rejection into `Rejected`.
"""

from __future__ import annotations

from .distribution import eligibility_from
from .errors import RejectionReason as R
from .events import OperatorConfigured, OperatorRemoved
from .floor import Floor
from .operator_state import OperatorState
from .records import OperatorRecord
from .rules import MAX_PROFICIENCY, MIN_PROFICIENCY

_OP = OperatorState
_BUSY = frozenset({_OP.RESERVED, _OP.ON_CALL, _OP.WRAP_UP})
Rejection = tuple[R, str]


def apply(floor: Floor, event: OperatorConfigured | OperatorRemoved,
          now: float) -> Rejection | None:
    if isinstance(event, OperatorConfigured):
        return _configure(floor, event)
    return _remove(floor, event, now)


def _configure(floor: Floor, event: OperatorConfigured) -> Rejection | None:
    if not event.operator_id:
        return R.UNKNOWN_OPERATOR, "an operator id is required"
    skills: dict[str, int] = {}
    for service, level in event.skills:
        if service not in floor.services:
            return R.UNKNOWN_SERVICE, f"no service {service!r}"
        if not (isinstance(level, int) and MIN_PROFICIENCY <= level <= MAX_PROFICIENCY):
            return R.INVALID_SKILL, f"skill {service}: {level!r} is not an integer 1..5"
        skills[service] = level
    op = floor.operators.get(event.operator_id)
    if op is None:
        order = max((o.order for o in floor.operators.values()), default=-1) + 1
        floor.operators[event.operator_id] = OperatorRecord(event.operator_id, order, skills)
    else:
        if op.state is not _OP.OFFLINE:  # a skill they lose may leave its callers with nobody
            floor.coverage_dirty.update(set(op.skills) - set(skills))
        op.skills = skills
    _rebuild(floor)
    return None


def _remove(floor: Floor, event: OperatorRemoved, now: float) -> Rejection | None:
    op = floor.operators.get(event.operator_id)
    if op is None:
        return R.UNKNOWN_OPERATOR, f"no operator {event.operator_id!r}"
    if op.state in _BUSY:
        return R.OPERATOR_BUSY, f"operator {op.operator_id} is {op.state}"
    if op.state is not _OP.OFFLINE:
        op.pending = None
        floor.set_operator(op, _OP.OFFLINE, "removed", now)
    floor.deadlines.cancel(("operator", op.operator_id))
    del floor.operators[op.operator_id]
    # Keep the orders 0..n-1 so round robin goes round the operators who are left, and its
    # last pick stays the same person (or the one before a removed one).
    for service, last in floor.round_robin_last.items():
        if last >= 0:
            floor.round_robin_last[service] = sum(
                1 for o in floor.operators.values() if o.order <= last) - 1
    for order, record in enumerate(sorted(floor.operators.values(), key=lambda o: o.order)):
        record.order = order
    _rebuild(floor)
    return None


def _rebuild(floor: Floor) -> None:
    ops = floor.operators.values()
    floor.skilled = {s: tuple(op for op in ops if op.skills.get(s, 0) >= 1)
                     for s in floor.services}
    floor.eligible = eligibility_from(floor.services.values(),
                                      {op.operator_id: op.skills for op in ops})
