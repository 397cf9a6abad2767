"""Within one priority class and skill, calls are connected in arrival order.

Operators answer every offer at once; random arrivals (some priority callers),
abandons, finished calls and the passing of time; every strategy.
"""

from __future__ import annotations

import logging
from io import StringIO
from typing import Any

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.routing import (
    CallArrived,
    CallerHungUp,
    CallFinished,
    Connect,
    Decision,
    Offer,
    OfferAnswered,
    OperatorStateRequested,
    RoutingRules,
    Strategy,
)

PRIORITY_TAG = "tag-crisis-office"
RUNS = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _desk_for(build: Any, rules: RoutingRules) -> Any:
    sample = build({"op-x": {}}, services=("portal",))
    quiet = structlog.wrap_logger(
        structlog.PrintLogger(StringIO()),
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    return type(sample)(rules, logger=quiet)


@RUNS
@given(data=st.data())
def test_instant_answers_connect_each_priority_class_in_arrival_order(
    desk: Any, rules_for: Any, data: st.DataObject
) -> None:
    strategy = data.draw(st.sampled_from(list(Strategy)))
    operators = {f"op-{n}": {"portal": 4} for n in range(data.draw(st.integers(1, 3)))}
    rules = rules_for(operators, ("portal",),
                      service_overrides={"portal": {"strategy": strategy, "wrap_up_s": 5.0,
                                                    "max_wait_s": None}},
                      priority_callers=frozenset({PRIORITY_TAG}))
    d = _desk_for(desk, rules)
    for operator_id in operators:
        d.send(OperatorStateRequested(operator_id, "available"))
    vip: dict[str, bool] = {}
    connected: list[str] = []
    talking: list[str] = []

    def answer_all(decisions: list[Decision]) -> None:
        pending = list(decisions)
        while pending:
            decision = pending.pop(0)
            if isinstance(decision, Offer) and d.router.call(decision.call_id).state == "offered":
                out = d.send(OfferAnswered(decision.call_id, decision.operator_id))
                connected.extend(c.call_id for c in d.of(Connect, out))
                talking.extend(c.call_id for c in d.of(Connect, out))
                pending.extend(out)

    steps = data.draw(st.lists(st.tuples(st.sampled_from(["arrive", "finish", "hangup", "tick"]),
                                         st.booleans(), st.integers(0, 10)), max_size=50))
    for n, (kind, flag, k) in enumerate(steps):
        if kind == "arrive":
            vip[f"c-{n}"] = flag
            answer_all(d.send(CallArrived(f"c-{n}", "portal", PRIORITY_TAG if flag else "t")))
        elif kind == "finish" and talking:
            answer_all(d.send(CallFinished(talking.pop(k % len(talking)))))
        elif kind == "hangup" and vip:
            call_id = list(vip)[k % len(vip)]
            if d.router.call(call_id).state == "queued":
                answer_all(d.send(CallerHungUp(call_id)))
        else:
            answer_all(d.advance(float(k)))
    order = list(vip)
    for priority_class in (True, False):
        seq = [order.index(c) for c in connected if vip[c] is priority_class]
        assert seq == sorted(seq)
