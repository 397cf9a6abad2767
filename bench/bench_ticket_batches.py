"""The ticket writer's batch path (``storage.tickets.apply_call_events``) on its own.

Feeds a stream of call events, as calls overlap under load (each batch touches calls that are
new and calls that have earlier events stored), in batches of ``--batch-events``, and prints per
backend: batches/s and events/s (wall), CPU µs per event of this process (the service's main
process does this work), and the cyclic garbage the path leaves per batch (objects the
collector finds unreachable, with automatic collection off during the run: what it would have
to scan and free under load, issue 14).

    .venv/bin/python bench/bench_ticket_batches.py [--batches 300] [--batch-events 20]
        [--backends sqlite postgres]

SQLite in a temporary folder; PostgreSQL a fresh database on 127.0.0.1:5432 (as
bench_capacity.py: ``CTI_BENCH_POSTGRES`` names the admin URL), dropped afterwards. Bounded:
``--batches`` batches (at most 5,000) per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pg import pg_admin

from cti.tickets.rules import CallRecordEvent

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
KINDS = [("offered", {"caller_hash": "h", "caller_display": "2345"}),
         ("service_selected", {"service": "skysea"}), ("queued", {"service": "skysea"}),
         ("operator_offered", {"operator_id": "op02"}), ("connected", {"operator_id": "op02"}),
         ("ended", {"hung_up_by": "caller", "reason": "bye"})]
OVERLAP = 8  # calls in progress at once: event k of call i comes at position i + k * OVERLAP


def stream(events: int) -> list[CallRecordEvent]:
    calls = events // len(KINDS) + 1
    order = sorted((i + k * OVERLAP, i, k) for i in range(calls) for k in range(len(KINDS)))
    out = []
    for _, i, k in order[:events]:
        kind, data = KINDS[k]
        at = T0 + timedelta(seconds=i * 0.01 + k)
        out.append(CallRecordEvent(f"{uuid.UUID(int=i)}@bench.invalid", k, at, kind, dict(data)))
    return out


async def run(url: str, batches: int, size: int) -> dict[str, float]:
    from cti.storage import create_engine, session_factory, upgrade
    from cti.storage.tickets import apply_call_events

    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        events = stream(batches * size)
        warm = 10  # connection pool, compiled-statement cache
        for b in range(warm):
            await apply_call_events(sessions, events[b * size:(b + 1) * size], T0)
        gc.collect()
        gc.disable()
        wall, cpu = time.perf_counter(), time.process_time()
        for b in range(warm, batches):
            await apply_call_events(sessions, events[b * size:(b + 1) * size], T0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        garbage = gc.collect()
        gc.enable()
        n = batches - warm
        return {"batches_s": n / wall, "events_s": n * size / wall,
                "cpu_us_event": cpu / (n * size) * 1e6, "garbage_batch": garbage / n}
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    print(f"== bench_ticket_batches {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, nproc={os.cpu_count()}, "
          f"batches={args.batches} x {args.batch_events} events")
    for backend in args.backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                got = await run(f"sqlite+aiosqlite:///{Path(tmp) / 'cti.db'}", args.batches,
                                args.batch_events)
        else:
            name = f"bench_batches_{os.getpid()}"
            await pg_admin(f"CREATE DATABASE {name}")
            try:
                got = await run(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
                                args.batches, args.batch_events)
            finally:
                await pg_admin(f"DROP DATABASE IF EXISTS {name}")
        print(f"  {backend:8} {got['batches_s']:7.1f} batches/s {got['events_s']:7.0f} events/s "
              f"cpu={got['cpu_us_event']:6.0f} µs/event garbage={got['garbage_batch']:6.0f} "
              "objects/batch")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-events", type=int, default=20)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"],
                        choices=["sqlite", "postgres"])
    a = parser.parse_args()
    if not 11 <= a.batches <= 5_000 or not 1 <= a.batch_events <= 2_000:
        sys.exit("--batches must be 11..5000 and --batch-events 1..2000")
    asyncio.run(main(a))
