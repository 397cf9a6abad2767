"""A real Prometheus scrapes the running service while calls go through it; every expression of
the dashboards and rules parses against what the service exposes, and the call counters match
the calls driven."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from tests_support import running_prometheus, wait_for

from cti.app import build_app
from cti.auth import digest, new_secret
from cti.config import Settings
from cti.keys import CALL_CENTER, SESSIONS
from cti.metrics.dashboards import dashboards, panel_queries, render
from cti.metrics.rules import all_expressions, rule_groups
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import create_engine, upgrade
from cti.storage.users import add_token


async def test_prometheus_scrapes_the_service(
    aiohttp_server: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}",
                             CTI_HOURS_OVERRIDE="open")
    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    network = MemoryPhoneNetwork()
    server = await aiohttp_server(build_app(settings, control=network), host="127.0.0.1")
    center = server.app[CALL_CENTER]
    secret = new_secret()
    await add_token(server.app[SESSIONS], "op02", "operator", digest(secret), datetime.now(UTC),
                    operator_id="op02")

    async def wait(predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            await center.wait_for(predicate)

    with running_prometheus(f"127.0.0.1:{server.port}", tmp_path / "prom") as prometheus:
        await asyncio.to_thread(wait_for, "the first scrape", lambda: bool(
            prometheus.series('up{job="cti"} == 1')))
        network.set_operator("sip:2202@127.0.0.1:5070", OperatorBehaviour.ANSWER)
        async with aiohttp.ClientSession() as http:
            ready = await http.put(f"http://127.0.0.1:{server.port}/api/operators/op02/state",
                                   json={"state": "available"},
                                   headers={"Authorization": f"Bearer {secret}"})
            assert ready.status == 200
        answered = network.dial(caller="2345")
        await wait(lambda: network.call(answered).playing == ("greeting",))
        network.press(answered, "2")  # barge in: SKYSEA; op02 answers at once
        await wait(lambda: network.call(answered).state.name == "BRIDGED")
        network.caller_hangs_up(answered)
        await wait(lambda: answered not in center.active_calls)

        await asyncio.to_thread(wait_for, "the calls to be scraped", lambda: bool(prometheus.series(
            'cti_calls_total{service="skysea", outcome="ended"} == 1')))
        panel_exprs = [expr for model in dashboards().values()
                       for _, expr in panel_queries(json.loads(render(model)))]
        rule_exprs = [expr for _, expr in all_expressions(rule_groups())]
        for expr in panel_exprs + rule_exprs:
            answer = await asyncio.to_thread(prometheus.query, expr)
            assert answer.get("status") == "success", f"{expr!r} -> {answer}"
        offered = await asyncio.to_thread(
            prometheus.series, 'cti_calls_offered_total{service="skysea"}')
        assert [float(s["value"][1]) for s in offered] == [1.0]
        mtd = await asyncio.to_thread(prometheus.series, "cti_calls_month_to_date")
        assert [float(s["value"][1]) for s in mtd] == [1.0]
        waiting = await asyncio.to_thread(prometheus.series, 'cti_calls_waiting{service="skysea"}')
        assert [float(s["value"][1]) for s in waiting] == [0.0]
