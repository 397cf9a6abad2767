"""Erlang C (M/M/n) and Erlang A (M/M/n+M, Palm) staffing.

Pure functions, no I/O.  Units: arrival rates in calls per hour, times in
seconds.  The two models:

* **Erlang C** - Poisson arrivals, exponential handle times, ``n`` operators,
  callers wait forever.  ``P(wait) = C(n, A)`` with ``A = lambda * AHT`` the
  offered load in Erlangs; ``SL(t) = 1 - C * exp(-(n - A) * t / AHT)``;
  ``ASA = C * AHT / (n - A)``.  Computed through the numerically stable
  Erlang B recursion (no factorials).
* **Erlang A** (Palm 1943; Garnett, Mandelbaum & Reiman 2002) - the same
  plus exponential patience: every waiting caller hangs up at rate
  ``theta = abandon_rate`` (1 / mean patience, per second).  The stationary
  distribution of the birth-death chain is summed directly; the service level
  ``P(answered with wait <= t)`` comes from the transient of the tagged
  caller's queue position (uniformisation), so abandoned callers count as
  not answered in time.

In both models the reported ``asa_seconds`` is the mean time in queue over
all offered calls, ``Lq / lambda`` (Little's law); for Erlang C this is the
textbook ASA formula above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from cti.metrics.errors import PlanningInputError

MAX_OPERATORS = 500

Model = Literal["erlang_c", "erlang_a"]


class StaffingError(PlanningInputError):
    """Inputs that no staffing level can satisfy or that make no sense (the caller's fault).

    ``field`` names the offending input (``calls_per_hour``, ``aht_seconds``, ``target``,
    ``within_seconds``, ``abandon_rate``) so a web handler can report it.
    """


@dataclass(frozen=True, slots=True)
class Staffing:
    """Operators needed for one interval and what they achieve."""

    operators: int
    service_level: float
    asa_seconds: float
    occupancy: float
    wait_probability: float
    abandon_probability: float
    model: Model

    def to_json(self) -> dict[str, float | int | str | None]:
        """JSON-safe: an unbounded ASA (unstable queue) is ``None``."""
        return {
            "operators": self.operators,
            "service_level": self.service_level,
            "asa_seconds": self.asa_seconds if math.isfinite(self.asa_seconds) else None,
            "occupancy": self.occupancy,
            "wait_probability": self.wait_probability,
            "abandon_probability": self.abandon_probability,
            "model": self.model,
        }


def offered_load(calls_per_hour: float, aht_seconds: float) -> float:
    """Offered traffic in Erlangs."""
    return calls_per_hour * aht_seconds / 3600.0


def erlang_b(operators: int, load: float) -> float:
    """Blocking probability B(n, A) by the recursion B(k) = A B(k-1) / (k + A B(k-1))."""
    if operators < 0 or load < 0:
        raise StaffingError(f"erlang_b needs operators >= 0 and load >= 0, got {operators}, {load}")
    b = 1.0
    for k in range(1, operators + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(operators: int, load: float) -> float:
    """Probability that a caller waits, C(n, A); 1.0 when the queue is unstable (A >= n)."""
    if load <= 0:
        return 0.0
    if operators <= load:
        return 1.0
    b = erlang_b(operators, load)
    return operators * b / (operators - load * (1.0 - b))


def _erlang_c_metrics(
    operators: int, calls_per_hour: float, aht_seconds: float, within_seconds: float
) -> Staffing:
    load = offered_load(calls_per_hour, aht_seconds)
    if load <= 0:
        return Staffing(operators, 1.0, 0.0, 0.0, 0.0, 0.0, "erlang_c")
    if operators <= load:
        return Staffing(operators, 0.0, math.inf, 1.0, 1.0, 0.0, "erlang_c")
    c = erlang_c(operators, load)
    sl = 1.0 - c * math.exp(-(operators - load) * within_seconds / aht_seconds)
    asa = c * aht_seconds / (operators - load)
    return Staffing(operators, sl, asa, load / operators, c, 0.0, "erlang_c")


def _stationary(operators: int, lam: float, mu: float, theta: float) -> list[float]:
    """Stationary distribution of M/M/n+M truncated where the tail is negligible."""
    weights = [1.0]
    k = 0
    total = 1.0
    while True:
        k += 1
        death = mu * min(k, operators) + theta * max(k - operators, 0)
        nxt = weights[-1] * lam / death
        weights.append(nxt)
        total += nxt
        if k > operators and nxt < 1e-15 * total:
            break
        if k > 100_000:
            raise StaffingError("Erlang A distribution did not converge")
    return [w / total for w in weights]


def _served_within(
    operators: int, mu: float, theta: float, start: list[float], within_seconds: float
) -> float:
    """P(a tagged caller reaches an operator within t) by uniformisation.

    ``start[i]`` is the probability that the caller arrives with ``i`` callers
    ahead in the queue.  From ``i`` ahead the caller moves to ``i - 1`` at rate
    ``n mu + i theta`` (service or abandonment of someone ahead), is served
    from ``0`` at rate ``n mu``, and abandons at rate ``theta``.
    """
    top = len(start) - 1
    uniform = operators * mu + top * theta + theta
    rt = uniform * within_seconds
    if rt <= 0:  # also a denormal ``within_seconds`` that underflows to 0
        return 0.0
    vec = list(start)
    served_by_step = 0.0
    result = 0.0
    poisson = math.exp(-rt) if rt < 700 else 0.0
    log_poisson = -rt
    max_steps = int(rt + 12 * math.sqrt(rt) + 60)
    for m in range(max_steps + 1):
        if m > 0:
            log_poisson += math.log(rt) - math.log(m)
            poisson = math.exp(log_poisson)
            new = [0.0] * len(vec)
            served_by_step += vec[0] * operators * mu / uniform
            for i, p in enumerate(vec):
                if p == 0.0:
                    continue
                advance = (operators * mu + i * theta) / uniform if i > 0 else 0.0
                leave = theta / uniform + (operators * mu / uniform if i == 0 else 0.0)
                stay = 1.0 - advance - leave
                new[i] += p * stay
                if i > 0:
                    new[i - 1] += p * advance
            vec = new
        result += poisson * served_by_step
    return result


def _erlang_a_metrics(
    operators: int,
    calls_per_hour: float,
    aht_seconds: float,
    within_seconds: float,
    abandon_rate: float,
) -> Staffing:
    lam = calls_per_hour / 3600.0
    if lam <= 0:
        return Staffing(operators, 1.0, 0.0, 0.0, 0.0, 0.0, "erlang_a")
    if operators == 0:
        return Staffing(0, 0.0, 1.0 / abandon_rate, 0.0, 1.0, 1.0, "erlang_a")
    mu = 1.0 / aht_seconds
    pi = _stationary(operators, lam, mu, abandon_rate)
    wait_probability = sum(pi[operators:])
    queue_length = sum((k - operators) * p for k, p in enumerate(pi) if k > operators)
    abandon_probability = abandon_rate * queue_length / lam
    busy = sum(min(k, operators) * p for k, p in enumerate(pi))
    served_now = 1.0 - wait_probability
    served_later = _served_within(operators, mu, abandon_rate, pi[operators:], within_seconds)
    return Staffing(
        operators=operators,
        service_level=min(1.0, served_now + served_later),
        asa_seconds=queue_length / lam,
        occupancy=busy / operators,
        wait_probability=wait_probability,
        abandon_probability=abandon_probability,
        model="erlang_a",
    )


def evaluate(
    operators: int,
    calls_per_hour: float,
    aht_seconds: float,
    within_seconds: float,
    abandon_rate: float | None = None,
) -> Staffing:
    """What ``operators`` achieve; Erlang A when ``abandon_rate`` (1/s) is given."""
    _check(calls_per_hour, aht_seconds, within_seconds, abandon_rate)
    if operators < 0:
        raise StaffingError(f"operators must be >= 0, got {operators}")
    if abandon_rate is None or abandon_rate == 0:
        return _erlang_c_metrics(operators, calls_per_hour, aht_seconds, within_seconds)
    return _erlang_a_metrics(operators, calls_per_hour, aht_seconds, within_seconds, abandon_rate)


def staffing(
    calls_per_hour: float,
    aht_seconds: float,
    target: float,
    within_seconds: float,
    abandon_rate: float | None = None,
) -> Staffing:
    """Fewest operators whose service level (answered within ``within_seconds``) >= ``target``.

    ``abandon_rate`` is the Erlang A patience parameter theta in 1/second
    (the reciprocal of callers' mean patience); ``None`` or 0 selects Erlang C.
    No calls need no operators.
    """
    _check(calls_per_hour, aht_seconds, within_seconds, abandon_rate)
    if not 0.0 < target < 1.0:
        raise StaffingError(f"target must be a fraction in (0, 1), got {target}", "target")
    if calls_per_hour == 0:
        return evaluate(0, 0.0, aht_seconds, within_seconds, abandon_rate)
    load = offered_load(calls_per_hour, aht_seconds)
    if load > MAX_OPERATORS:
        raise StaffingError(f"{load:.1f} Erlangs needs more than {MAX_OPERATORS} operators", "calls_per_hour")
    erlang_a = abandon_rate is not None and abandon_rate > 0
    # Erlang C needs n > A for a stable queue; Erlang A is stable for any n >= 1.
    # The service level grows with n, so bisect for the fewest operators meeting the target.
    lo = 1 if erlang_a else max(1, math.floor(load) + 1)
    hi = MAX_OPERATORS
    best = evaluate(hi, calls_per_hour, aht_seconds, within_seconds, abandon_rate)
    if best.service_level < target:
        raise StaffingError(
            f"more than {MAX_OPERATORS} operators needed for {load:.1f} Erlangs", "calls_per_hour"
        )
    while lo < hi:
        mid = (lo + hi) // 2
        result = evaluate(mid, calls_per_hour, aht_seconds, within_seconds, abandon_rate)
        if result.service_level >= target:
            hi, best = mid, result
        else:
            lo = mid + 1
    return best


def _check(
    calls_per_hour: float, aht_seconds: float, within_seconds: float, abandon_rate: float | None
) -> None:
    if not math.isfinite(calls_per_hour) or calls_per_hour < 0:
        raise StaffingError(f"calls_per_hour must be >= 0, got {calls_per_hour}", "calls_per_hour")
    if not math.isfinite(aht_seconds) or aht_seconds <= 0:
        raise StaffingError(f"aht_seconds must be > 0, got {aht_seconds}", "aht_seconds")
    if not math.isfinite(within_seconds) or within_seconds < 0:
        raise StaffingError(f"within_seconds must be >= 0, got {within_seconds}", "within_seconds")
    if abandon_rate is not None and (not math.isfinite(abandon_rate) or abandon_rate < 0):
        raise StaffingError(f"abandon_rate must be >= 0 per second, got {abandon_rate}", "abandon_rate")
