"""Erlang B/C/A against published tables, closed forms and a simulation.

Sources of the expected values:

* Erlang B: the 1 % grade-of-service column of the standard Erlang B table
  (e.g. ITU-T "Teletraffic Engineering Handbook", Iversen, table of the
  Erlang B formula; the same figures appear in every traffic table):
  N=5 -> 1.361 E, N=10 -> 4.461 E, N=20 -> 12.031 E.
* Erlang C: the worked example of Call Centre Helper, "Erlang C formula -
  made simple with an easy worked example" (100 calls in 30 minutes, AHT
  180 s, 80 % answered in 20 s): 14 agents, probability of waiting 17.4 %,
  service level 88.8 %, occupancy 71.4 %; 13 agents reach 79.6 %, short of
  the target.  The same figures are in pyworkforce's documentation.
* Closed forms: M/M/1 waits with probability rho; M/M/2 with 2 rho^2 / (1 + rho)
  (Kleinrock, Queueing Systems vol. 1, sec. 3.4).
* Erlang A has no closed form; it is checked against Erlang C as patience
  grows and against a seeded discrete-event simulation of M/M/n+M.
"""

from __future__ import annotations

import heapq
import math
import random
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cti.metrics import StaffingError, erlang_b, erlang_c, evaluate, staffing
from cti.metrics.errors import PlanningInputError


@pytest.mark.parametrize(("servers", "load"), [(5, 1.361), (10, 4.461), (20, 12.031)])
def test_erlang_b_matches_the_one_percent_table(servers: int, load: float) -> None:
    # Table loads are rounded to 3 decimals, so blocking is 1 % to within that rounding.
    assert erlang_b(servers, load) == pytest.approx(0.01, abs=2e-5)


def _erlang_c_by_definition(n: int, a: Fraction) -> Fraction:
    """The textbook sum with exact fractions and factorials (independent of the recursion)."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    bottom = sum(a**k / math.factorial(k) for k in range(n)) + top
    return top / bottom


@pytest.mark.parametrize(("n", "a"), [(1, "1/2"), (3, "2"), (7, "5.5"), (14, "10"), (30, "24.7")])
def test_erlang_c_equals_the_textbook_sum(n: int, a: str) -> None:
    load = Fraction(a)
    assert erlang_c(n, float(load)) == pytest.approx(float(_erlang_c_by_definition(n, load)))


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_erlang_c_closed_forms_for_one_and_two_servers(rho: float) -> None:
    assert erlang_c(1, rho) == pytest.approx(rho)
    assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))


def test_call_centre_helper_worked_example() -> None:
    calls_per_hour = 100 * 2  # 100 calls per 30 minutes
    result = staffing(calls_per_hour, 180, 0.8, 20)
    assert result.operators == 14
    assert result.wait_probability == pytest.approx(0.1741, abs=1e-4)
    assert result.service_level == pytest.approx(0.888, abs=1e-3)
    assert result.occupancy == pytest.approx(0.714, abs=1e-3)
    # ASA = P(wait) * AHT / (N - A), with A = 10 Erlangs.
    assert result.asa_seconds == pytest.approx(result.wait_probability * 180 / 4)
    assert result.model == "erlang_c"
    one_fewer = evaluate(13, calls_per_hour, 180, 20)
    assert one_fewer.service_level == pytest.approx(0.796, abs=1e-3)
    assert one_fewer.service_level < 0.8


def test_staffing_is_the_fewest_operators_meeting_the_target() -> None:
    for calls, aht, target, within in [(5.4, 420, 0.8, 20), (30, 300, 0.9, 30), (2, 600, 0.8, 20)]:
        result = staffing(calls, aht, target, within)
        assert result.service_level >= target
        below = evaluate(result.operators - 1, calls, aht, within)
        assert below.service_level < target


def test_unstable_queue_has_no_service() -> None:
    result = evaluate(2, 60, 180, 20)  # 3 Erlangs on 2 operators
    assert result.service_level == 0.0
    assert math.isinf(result.asa_seconds)
    assert result.to_json()["asa_seconds"] is None  # JSON has no infinity


def test_no_calls_need_no_operators() -> None:
    assert staffing(0, 420, 0.8, 20).operators == 0
    assert staffing(0, 420, 0.8, 20, abandon_rate=1 / 60).operators == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"calls_per_hour": -1.0}, "calls_per_hour"),
        ({"calls_per_hour": math.nan}, "calls_per_hour"),
        ({"calls_per_hour": 1e6}, "calls_per_hour"),  # beyond any helpdesk
        ({"aht_seconds": 0.0}, "aht_seconds"),
        ({"target": 1.0}, "target"),
        ({"within_seconds": -5.0}, "within_seconds"),
        ({"abandon_rate": -0.1}, "abandon_rate"),
    ],
)
def test_invalid_inputs_raise_a_named_error(kwargs: dict[str, float], field: str) -> None:
    args: dict[str, float] = {"calls_per_hour": 10, "aht_seconds": 300, "target": 0.8,
                              "within_seconds": 20} | kwargs  # fmt: skip
    with pytest.raises(StaffingError) as error:
        staffing(**args)
    assert error.value.field == field
    assert isinstance(error.value, PlanningInputError)  # reported as 400 by /api/staffing


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    c = evaluate(14, 200, 180, 20)
    a = evaluate(14, 200, 180, 20, abandon_rate=1e-9)
    assert a.model == "erlang_a"
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-5)


def test_abandonment_needs_fewer_operators_than_erlang_c() -> None:
    c = staffing(200, 180, 0.8, 20)
    a = staffing(200, 180, 0.8, 20, abandon_rate=1 / 60)
    assert a.operators < c.operators
    assert 0 < a.abandon_probability < 0.2


def _simulate(n: int, lam: float, mu: float, theta: float, within: float, calls: int,
              seed: int) -> tuple[float, float, float]:  # fmt: skip
    """FCFS M/M/n+M: (answered within t, abandoned, mean queue time) over all calls."""
    rng = random.Random(seed)
    free_at = [0.0] * n  # heap of times each operator becomes free
    heapq.heapify(free_at)
    t = 0.0
    within_count = abandoned = 0
    total_wait = 0.0
    for _ in range(calls):
        t += rng.expovariate(lam)
        patience = rng.expovariate(theta)
        # FCFS: callers ahead already took their operators, so this caller gets the
        # earliest free one (its wait is known on arrival and compared with its patience).
        start = max(t, free_at[0])
        wait = start - t
        if wait > patience:
            abandoned += 1
            total_wait += patience
            continue
        heapq.heapreplace(free_at, start + rng.expovariate(mu))
        total_wait += wait
        within_count += wait <= within
    return within_count / calls, abandoned / calls, total_wait / calls


def test_erlang_a_matches_a_simulation() -> None:
    # 3 operators, 20 calls/h, AHT 6 min, mean patience 2 min: a loaded small helpdesk.
    n, calls_per_hour, aht, theta, within = 3, 20.0, 360.0, 1 / 120, 20.0
    sl, aband, asa = _simulate(n, calls_per_hour / 3600, 1 / aht, theta, within, 60_000, 7)
    model = evaluate(n, calls_per_hour, aht, within, abandon_rate=theta)
    assert model.service_level == pytest.approx(sl, abs=0.015)
    assert model.abandon_probability == pytest.approx(aband, abs=0.01)
    assert model.asa_seconds == pytest.approx(asa, rel=0.06)


@settings(max_examples=60, deadline=None)
@example(calls=1.0, aht=30.0, target=0.5, within=5e-324, patience=10.0)  # denormal target time
@given(
    calls=st.floats(min_value=0.5, max_value=400),
    aht=st.floats(min_value=30, max_value=1800),
    target=st.floats(min_value=0.5, max_value=0.95),
    within=st.floats(min_value=0, max_value=120),
    patience=st.one_of(st.none(), st.floats(min_value=10, max_value=900)),
)
def test_staffing_is_minimal_and_more_operators_never_hurt(
    calls: float, aht: float, target: float, within: float, patience: float | None
) -> None:
    theta = None if patience is None else 1 / patience
    result = staffing(calls, aht, target, within, theta)
    assert result.service_level >= target
    fewer = evaluate(result.operators - 1, calls, aht, within, theta)
    assert fewer.service_level < target
    more = evaluate(result.operators + 1, calls, aht, within, theta)
    assert more.service_level >= result.service_level - 1e-9
    assert more.asa_seconds <= result.asa_seconds + 1e-9
