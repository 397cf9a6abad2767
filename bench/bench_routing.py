"""Routing decision throughput and latency at helpdesk-peak-plus size.

    .venv/bin/python bench/bench_routing.py [--events N] [--seconds S] [--queued Q]

15 operators with mixed skills over the six services, a queue held at 1,000
waiting calls, and a random mix of what happens on a busy floor: arrivals,
answers, failed offers, finished calls, abandons, supervisor moves, and the
timers (ring timeouts, wrap-up ends, overflow steps, announcements). Every
`Router.handle` / `Router.handle_timer` call is timed in-process with
`perf_counter_ns`; the figures are for that call (which may emit several
decisions). Logging is filtered out (CRITICAL only; routing logs nothing at that level) so the figures are
the decision engine's; run with --log to include rendering JSON log lines to
an in-memory sink. Bounded in events and wall-clock time.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from io import StringIO
from typing import Any

import structlog

from cti.routing import (
    CallArrived,
    CallClosed,
    CallerHungUp,
    CallFinished,
    CallMoved,
    CancelOffer,
    Connect,
    Decision,
    Event,
    Offer,
    OfferAnswered,
    OfferFailed,
    OperatorProfile,
    OperatorStateRequested,
    Router,
    RoutingRules,
    ServiceRules,
    Strategy,
)

SERVICES = ("isolation", "skysea", "portal", "licenses", "telework", "other")


def build_rules(rng: random.Random, operators: int) -> RoutingRules:
    strategies = [Strategy.LONGEST_IDLE, Strategy.PROFICIENCY_THEN_IDLE, Strategy.ROUND_ROBIN,
                  Strategy.LONGEST_IDLE, Strategy.PROFICIENCY_THEN_IDLE, Strategy.RING_ALL]
    services = tuple(
        ServiceRules(s, strategy=strategies[i], wrap_up_s=5.0, overflow_after_s=60.0,
                     overflow_any_after_s=180.0, max_wait_s=None)
        for i, s in enumerate(SERVICES)
    )
    profiles = []
    for n in range(operators):
        skills = {s: rng.randint(1, 5) for s in rng.sample(SERVICES, rng.randint(1, 3))}
        skills["other"] = skills.get("other", 2)
        profiles.append(OperatorProfile(f"op-{n:02d}", skills))
    return RoutingRules(services, tuple(profiles), ring_timeout_s=15.0, max_missed_offers=3,
                        announce_interval_s=45.0,
                        priority_callers=frozenset({"tag-crisis-office"}))


def make_logger(with_log: bool) -> Any:
    """A concrete (already bound, not lazy) logger, as cti should pass in production."""
    if with_log:
        return structlog.wrap_logger(
            structlog.PrintLogger(StringIO()),
            processors=[structlog.processors.add_log_level,
                        structlog.processors.TimeStamper(fmt="iso"),
                        structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)).bind()
    return structlog.wrap_logger(
        structlog.PrintLogger(StringIO()),
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL)).bind()


class Floor:
    """What the bench knows from the decisions, to pick plausible next events."""

    def __init__(self) -> None:
        self.ringing: dict[str, list[str]] = defaultdict(list)
        self.talking: list[str] = []
        self.open: set[str] = set()

    def learn(self, decisions: list[Decision]) -> None:
        for d in decisions:
            match d:
                case Offer(call_id, operator_id):
                    self.ringing[call_id].append(operator_id)
                case CancelOffer(call_id, operator_id):
                    if operator_id in self.ringing.get(call_id, []):
                        self.ringing[call_id].remove(operator_id)
                        if not self.ringing[call_id]:
                            del self.ringing[call_id]
                case Connect(call_id):
                    self.ringing.pop(call_id, None)
                    self.talking.append(call_id)
                case CallClosed(call_id):
                    self.open.discard(call_id)
                    self.ringing.pop(call_id, None)
                    if call_id in self.talking:
                        self.talking.remove(call_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--queued", type=int, default=1_000)
    parser.add_argument("--operators", type=int, default=15)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--log", action="store_true", help="render JSON log lines too")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    rules = build_rules(rng, args.operators)
    router = Router(rules, logger=make_logger(args.log))
    floor = Floor()
    now = 0.0
    serial = 0
    latencies: list[int] = []
    by_kind: dict[str, list[int]] = defaultdict(list)
    decided: Counter[str] = Counter()

    def run(kind: str, call: Any, *call_args: Any) -> list[Decision]:
        start = time.perf_counter_ns()
        out: list[Decision] = call(*call_args)
        elapsed = time.perf_counter_ns() - start
        latencies.append(elapsed)
        by_kind[kind].append(elapsed)
        decided.update(type(d).__name__ for d in out)
        floor.learn(out)
        return out

    def send(event: Event) -> list[Decision]:
        return run(type(event).__name__, router.handle, event, now)

    def arrive() -> None:
        nonlocal serial
        serial += 1
        call_id = f"c-{serial:07d}"
        floor.open.add(call_id)
        tag = "tag-crisis-office" if rng.random() < 0.01 else f"tag-{serial}"
        send(CallArrived(call_id, rng.choice(SERVICES), tag))

    # set-up (not timed): everyone logged in and busy, then the queue filled
    for profile in rules.operators:
        floor.learn(router.handle(OperatorStateRequested(profile.operator_id, "available"), now))
    while floor.ringing or len(floor.open) < args.queued + args.operators:
        if floor.ringing:
            call_id, ops = next(iter(floor.ringing.items()))
            floor.learn(router.handle(OfferAnswered(call_id, ops[0]), now))
            continue
        serial += 1
        floor.open.add(f"c-{serial:07d}")
        floor.learn(router.handle(CallArrived(f"c-{serial:07d}", rng.choice(SERVICES)), now))
        now += 0.05
    latencies.clear()
    by_kind.clear()
    decided.clear()
    queue_sizes = []

    gc_before = [g["collections"] for g in gc.get_stats()]
    started = time.perf_counter()
    while len(latencies) < args.events and time.perf_counter() - started < args.seconds:
        now += 0.25
        deadline = router.next_deadline()
        if deadline is not None and deadline <= now:
            run("timer", router.handle_timer, now)
        waiting = len(floor.open) - len(floor.talking) - len(floor.ringing)
        roll = rng.random()
        if floor.ringing and roll < 0.5:
            call_id, ops = rng.choice(list(floor.ringing.items()))
            if rng.random() < 0.9:
                send(OfferAnswered(call_id, rng.choice(ops)))
            else:
                send(OfferFailed(call_id, rng.choice(ops), "no_answer"))
        elif floor.talking and roll < 0.6:
            send(CallFinished(rng.choice(floor.talking)))
        elif waiting < args.queued:
            arrive()
        elif roll < 0.8:
            queued = [c for c in floor.open if c not in floor.ringing]
            candidate = rng.choice(queued)
            if candidate not in floor.talking:
                send(CallerHungUp(candidate))
        elif roll < 0.85:
            queued = [c for c in floor.open if c not in floor.ringing and c not in floor.talking]
            send(CallMoved(rng.choice(queued), rng.choice(SERVICES)))
        else:
            arrive()
        queue_sizes.append(waiting)
    wall = time.perf_counter() - started
    gc_runs = [g["collections"] - b for g, b in zip(gc.get_stats(), gc_before, strict=True)]

    total_ns = sum(latencies)
    decisions = sum(decided.values())
    ordered = sorted(latencies)

    def pct(values: list[int], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] / 1000.0

    print(f"routing bench: {args.operators} operators, queue held at ~{args.queued} calls "
          f"(min {min(queue_sizes)}, max {max(queue_sizes)}), seed {args.seed}, "
          f"logging {'JSON to memory' if args.log else 'filtered out'}")
    print(f"python {sys.version.split()[0]}; {len(latencies)} router calls in {wall:.2f} s wall, "
          f"{total_ns / 1e9:.3f} s inside the router")
    print(f"decisions: {decisions} ({decisions / (total_ns / 1e9):,.0f} decisions/s inside the "
          f"router; {len(latencies) / (total_ns / 1e9):,.0f} router calls/s)")
    print(f"latency per router call: p50 {pct(ordered, 0.50):.1f} us, "
          f"p99 {pct(ordered, 0.99):.1f} us, p99.9 {pct(ordered, 0.999):.1f} us, "
          f"max {ordered[-1] / 1000:.1f} us, mean {statistics.fmean(ordered) / 1000:.1f} us")
    print(f"garbage collections during the run (gen0/1/2): {'/'.join(map(str, gc_runs))}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print("by input (count, p50 us, p99 us):")
    for kind, values in sorted(by_kind.items()):
        values.sort()
        print(f"  {kind:<16} {len(values):>7} {pct(values, 0.5):>8.1f} {pct(values, 0.99):>8.1f}")
    print("decisions made: " + ", ".join(f"{k} {v}" for k, v in decided.most_common()))
    target_ok = pct(ordered, 0.99) < 1000.0
    print(f"target p99 < 1 ms: {'met' if target_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
