"""The monthly response-history report from real tickets, on both databases."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from cti.keys import SESSIONS, TICKET_WRITER
from cti.storage import audit
from cti.tickets.rules import CallRecordEvent

Client = TestClient  # type: ignore[type-arg]
APRIL = datetime(2026, 4, 6, 0, 0, tzinfo=UTC)  # Monday 09:00 in Tokyo


async def call(client: Client, n: int, at: datetime, steps: list[tuple[str, dict[str, Any]]]) -> None:
    for seq, (kind, data) in enumerate(steps, start=1):
        await client.app[TICKET_WRITER].record(
            CallRecordEvent(f"r-{n}", seq, at + timedelta(seconds=20 * seq), kind, data))


async def test_monthly_report(client: Client, as_role: Callable[[str], Any]) -> None:
    answered = [("offered", {}), ("service_selected", {"service": "skysea"}),
                ("queued", {"service": "skysea"}), ("connected", {"operator_id": "op02"}),
                ("ended", {"hung_up_by": "caller"})]
    abandoned = [("offered", {}), ("service_selected", {"service": "skysea"}),
                 ("queued", {"service": "skysea"}), ("ended", {"hung_up_by": "caller"})]
    for n in range(3):
        await call(client, n, APRIL + timedelta(hours=n), answered)
    await call(client, 3, APRIL, abandoned)
    await call(client, 4, APRIL, [("offered", {}), ("after_hours", {}), ("ended", {})])
    await call(client, 5, APRIL + timedelta(days=30), answered)  # May: not in April's report
    async with asyncio.timeout(20):
        await client.app[TICKET_WRITER].flush()

    manager = await as_role("manager")
    body = await (await client.get("/api/reports/monthly", params={"month": "2026-04"},
                                   headers=manager)).json()
    assert body["received"] == 5 and body["baseline"] == 705
    skysea = next(s for s in body["services"] if s["service"] == "skysea")
    assert skysea["received"] == 4
    assert skysea["outcomes"] == {"answered": 3, "abandoned_queue": 1}
    assert skysea["mean_wait_seconds"] == 20.0  # queued -> connected, queued -> hung up
    assert skysea["mean_talk_seconds"] == 20.0
    unassigned = next(s for s in body["services"] if s["service"] == "unassigned")
    assert unassigned["outcomes"] == {"after_hours": 1}

    text = await (await client.get("/api/reports/monthly", headers=manager,
                                   params={"month": "2026-04", "format": "text"})).text()
    assert text.startswith("2026年4月 対応履歴報告 / Response history 2026-04")
    raw = await (await client.get("/api/reports/monthly", headers=manager,
                                  params={"month": "2026-04", "format": "csv"})).text()
    rows = list(csv.reader(io.StringIO(raw)))
    assert rows[0][0] == "サービス/service" and any(r[0] == "skysea" and r[1] == "4" for r in rows)
    assert (await audit.entries(client.app[SESSIONS], action="report.monthly"))

    operator = await as_role("operator")
    assert (await client.get("/api/reports/monthly", params={"month": "2026-04"},
                             headers=operator)).status == 403
    bad = await client.get("/api/reports/monthly", params={"month": "April"}, headers=manager)
    assert bad.status == 400
