"""Decision -> screen_pop delivery, measured through the whole service.

The in-memory phone network stands in for SIP; everything else is real: the app, its database
(SQLite in a temp dir), the journal, the router and a websocket per operator console. For each
call the clock starts when the caller's digit is handed to the service and stops when the
operator's websocket receives the screen pop, so the figure includes the IVR decision, the
routing decision, the ticket journal write and the websocket hop (an upper bound on
decision -> screen_pop).

    .venv/bin/python bench/bench_screen_pop.py [--calls 200]

Bounded: at most --calls calls and 120 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

os.environ.setdefault("CTI_LOG_FORMAT", "json")


async def main(calls: int) -> None:
    import logging

    from cti.app import build_app
    from cti.auth import digest, new_secret
    from cti.config import default_config_path, load_settings
    from cti.keys import CALL_CENTER, SESSIONS
    from cti.logging import configure_logging
    from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
    from cti.storage import create_engine, upgrade
    from cti.storage.users import add_token

    configure_logging("json", logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="cti-bench-"))
    config = tmp / "helpdesk.toml"
    config.write_text(default_config_path().read_text(encoding="utf-8")
                      .replace("wrap_up_seconds = 60", "wrap_up_seconds = 0")
                      .replace("wrap_up_seconds = 90", "wrap_up_seconds = 0"), encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp / 'cti.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = load_settings(config, {
        "CTI_DATABASE_URL": url, "CTI_SIP_MODE": "off", "CTI_HOURS_OVERRIDE": "open",
        "CTI_DATABASE_JOURNAL": str(tmp / "journal.jsonl"),
        "CTI_PRIVACY_CALLER_HASH_SECRET": "bench-secret-0123456789abcdef0123",
    })
    network = MemoryPhoneNetwork()
    app = build_app(settings, control=network)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    center = app[CALL_CENTER]
    from datetime import UTC, datetime

    headers: dict[str, dict[str, str]] = {}
    for op in settings.operators:
        secret = new_secret()
        await add_token(app[SESSIONS], op.id, "operator", digest(secret), datetime.now(UTC),
                        operator_id=op.id)
        headers[op.id] = {"Authorization": f"Bearer {secret}"}
        network.set_operator(op.uri, OperatorBehaviour.RING)
    latencies: list[float] = []
    deadline = time.monotonic() + 120
    pops: asyncio.Queue[tuple[float, dict[str, object]]] = asyncio.Queue()

    async def read(ws: object) -> None:
        async for message in ws:  # type: ignore[attr-defined]
            body = message.json()
            if body.get("type") == "screen_pop":
                pops.put_nowait((time.monotonic(), body))

    async with ClientSession(base_url=str(server.make_url("/"))) as http:
        sockets = {}
        readers = []
        for op_id, h in headers.items():
            ws = await http.ws_connect("/api/events", headers=h)
            await ws.receive_json()
            sockets[op_id] = ws
            readers.append(asyncio.create_task(read(ws)))
            await http.put(f"/api/operators/{op_id}/state", json={"state": "available"}, headers=h)
        for n in range(calls):
            if time.monotonic() > deadline:
                break
            call_id = network.dial(caller="2345")
            await center.wait_for(lambda call_id=call_id: network.call(call_id).playing == ("greeting",))
            network.finish_playback(call_id)
            start = time.monotonic()
            network.press(call_id, "1239"[n % 4])
            async with asyncio.timeout(10):
                received_at, pop = await pops.get()
            if pop["call_id"] != call_id:
                raise RuntimeError(f"screen pop for the wrong call: {pop}")
            latencies.append(received_at - start)
            await center.wait_for(lambda call_id=call_id: network.call(call_id).operator_uri is not None)
            network.operator_answers(call_id)
            await center.wait_for(lambda call_id=call_id: network.call(call_id).state.name == "BRIDGED")
            network.caller_hangs_up(call_id)
            await center.wait_for(lambda call_id=call_id: call_id not in center.active_calls
                                  and not any(v.state == "wrap_up" for v in center.router.operators()))
        for ws in sockets.values():
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    await server.close()
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"screen_pop delivery over {len(ms)} calls (digit -> websocket, SQLite, in-process):")
    print(f"  p50 {statistics.median(ms):.2f} ms   p99 {p99:.2f} ms   max {ms[-1]:.2f} ms")
    print(f"  target p99 <= 100 ms: ratio {p99 / 100:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    if args.calls < 1 or args.calls > 2000:
        sys.exit("--calls must be 1..2000")
    asyncio.run(main(args.calls))
