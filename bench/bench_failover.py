"""Failover of the HA pair (issue 15): kill → first call answered by the other node, measured.

A fresh PostgreSQL database (on the server at 127.0.0.1:5432, user postgres), two `cti serve`
nodes with the shipped lease settings (3 s lease, 0.5 s renewal unless given), Kamailio with the
shipped ``config/kamailio/kamailio.cfg`` in front, a SIPp stream of ``--rate`` calls/s (each
``--stay-ms`` in the menu, then BYE). ``--rounds`` times: SIGKILL of the active node, measure
the time to the first call the other node answers, restart the killed node (it comes back as
the standby and applies its journal), wait ``--settle`` seconds. Then one planned handover
(`cti ha handover`), measured the same way. At the end every call SIPp saw answered must have
exactly one ticket with a terminal outcome.

Printed per event: seconds from kill (or handover) to the first call answered by the other
node. With ``--registered`` both nodes register with Kamailio as the helpdesk extension
(registrar, parallel forking: the standby answers 503, the active node's 200 wins) instead of
the dispatcher. Totals: placed, answered, refused before
answer, interrupted by the kills, tickets, duplicates, calls left open. Target: failover ≤ 5 s,
0 duplicates, 0 left open, answered = tickets with a terminal outcome.

    .venv/bin/python bench/bench_failover.py [--rounds 3] [--rate 5] [--stay-ms 2000]
        [--lease 3.0] [--renew 0.5] [--registered]

Bounded: every wait has a deadline; about 20 s per round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ha"))
from pair import (
    CTI,
    Callers,
    KamailioFront,
    KamailioRegistrar,
    Node,
    TcpProxy,
    bounded_wait,
    call_records,
    read_log_events,
    wait_started,
)
from pg import pg_admin


def first_answer_after(url: str, callers: Callers, node: Node, since: float) -> float | None:
    answered = set(callers.answered())
    times = [r["offered_at"].timestamp() for r in call_records(url)
             if r["node"] == node.name and r["id"] in answered
             and r["offered_at"].timestamp() > since]
    return min(times) if times else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--stay-ms", type=int, default=2000)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--renew", type=float, default=0.5)
    parser.add_argument("--settle", type=float, default=4.0)
    parser.add_argument("--registered", action="store_true",
                        help="registered mode: both nodes register with Kamailio as registrar")
    args = parser.parse_args()
    name = f"cti_bench_failover_{int(time.time())}"
    asyncio.run(pg_admin(f"CREATE DATABASE {name}", timeout_s=10))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    work = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    proxies = [TcpProxy(("127.0.0.1", 5432)) for _ in range(2)]
    nodes = [Node(n, work, url.replace("5432", str(p.port)), lease_s=args.lease,
                  renew_s=args.renew, rtp_ports=ports)
             for n, p, ports in (("a", proxies[0], "34000-34999"), ("b", proxies[1], "35000-35999"))]
    front = KamailioRegistrar(work, nodes) if args.registered else KamailioFront(work, nodes)
    callers: Callers | None = None
    events: list[dict[str, Any]] = []
    try:
        upgraded = subprocess.run([*CTI, "db", "upgrade"], env=nodes[0].env, cwd=work,
                                  capture_output=True, text=True, timeout=120, check=False)
        if upgraded.returncode != 0:
            print(upgraded.stderr)
            return 1
        for node in nodes:
            node.start()
        bounded_wait("pair up", lambda: {n.role() for n in nodes} == {"active", "standby"}, 90)
        front.start()
        if isinstance(front, KamailioRegistrar):
            bounded_wait("both nodes registered", lambda: front.registered() >= 2, 30)
        total_s = args.rounds * (args.lease + args.settle + 12) + 30
        callers = Callers(work, front.port, rate=args.rate, count=int(total_s * args.rate),
                          stay_ms=args.stay_ms)
        bounded_wait("first calls", lambda: len(callers.answered()) >= 5, 30)
        for round_ in range(args.rounds):
            active = next(n for n in nodes if n.role() == "active")
            other = next(n for n in nodes if n is not active)
            active.kill()
            at = time.time()
            answered = bounded_wait("answered by the other node", lambda o=other, t=at:
                                    first_answer_after(url, callers, o, t), 30, 0.1)
            events.append({"event": f"SIGKILL {round_ + 1}", "at": at, "answered": answered})
            starts = len(read_log_events(active, "service.started"))
            active.start()
            wait_started(active, count=starts + 1, timeout=90)
            bounded_wait("restarted as standby", lambda n=active: n.role() == "standby", 30)
            time.sleep(args.settle)  # steady stream between events (bench pacing, not sync)
        active = next(n for n in nodes if n.role() == "active")
        other = next(n for n in nodes if n is not active)
        handover = subprocess.Popen([*CTI, "ha", "handover"], env=active.env, cwd=work,
                                    stdout=subprocess.PIPE, text=True)
        assert handover.stdout is not None
        print(handover.stdout.readline().strip())  # "asked a (epoch n) to hand over ..."
        at = time.time()  # from the request on the lease row, not from the command's start
        print(handover.communicate(timeout=60)[0].strip())
        answered = bounded_wait("answered after handover", lambda: first_answer_after(
            url, callers, other, at), 30, 0.1)
        events.append({"event": "handover", "at": at, "answered": answered})
        time.sleep(args.settle)
        callers.finish()  # stop placing; the calls in progress end normally
        callers.wait(60)
        bounded_wait("every call closed", lambda: all(r["ended"] for r in call_records(url)),
                     60, 0.5)
        records = {r["id"]: r for r in call_records(url)}
        placed, answered_ids = callers.placed(), set(callers.answered())
        mode = "registered (Kamailio registrar, forking)" if args.registered else "dispatcher"
        print(f"\nbench_failover ({mode}): lease {args.lease} s, renewal {args.renew} s, "
              f"{args.rate} calls/s, {args.stay_ms} ms per call, Kamailio probe 1 s")
        print(f"{'event':<12} {'to first answer by the other node (s)':>38}")
        figures = []
        for event in events:
            gap = event["answered"] - event["at"]
            figures.append(gap)
            print(f"{event['event']:<12} {gap:>38.2f}")
        kills = figures[:-1]
        if kills:
            print(f"SIGKILL → answered: median {statistics.median(kills):.2f} s, "
                  f"max {max(kills):.2f} s (target ≤ 5 s)")
        terminal = sum(1 for c in answered_ids if c in records and records[c]["ended"]
                       and records[c]["outcome"] and records[c]["tickets"] == 1)
        duplicates = sum(1 for r in records.values() if r["tickets"] > 1 or r["offers"] > 1)
        refused = set(callers.refused())
        print(f"placed {len(placed)}, answered {len(answered_ids)}, refused before answer (503) "
              f"{len(refused)}, otherwise unanswered "
              f"{len(set(placed) - answered_ids - refused)}, interrupted by the "
              f"kills {sum(1 for r in records.values() if r['outcome'] == 'interrupted')}, "
              f"refused calls with a ticket {len(refused & set(records))}")
        print(f"tickets {sum(r['tickets'] for r in records.values())}, answered calls with one "
              f"ticket and a terminal outcome {terminal}/{len(answered_ids)}, duplicates "
              f"{duplicates}, left open {sum(1 for r in records.values() if not r['ended'])}")
        return 0 if terminal == len(answered_ids) and duplicates == 0 else 1
    finally:
        if callers is not None:
            callers.stop()
        front.stop()
        for node in nodes:
            node.stop()
        for proxy in proxies:
            proxy.close()
        asyncio.run(pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", timeout_s=10))


if __name__ == "__main__":
    sys.exit(main())
