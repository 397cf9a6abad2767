"""The records API on both databases: every filter, cursor paging past any limit with a total,
CSV and XLSX exports of the same filter (read back with openpyxl), and the audit of every read."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from console_support import T0, make_tickets

from cti.app import build_app
from cti.config import Settings

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], database_url: str,
                 make_settings: Callable[..., Settings]) -> AsyncIterator[Client]:
    yield await aiohttp_client(build_app(make_settings(database_url)))


async def test_search_pages_counts_exports_and_audits(client: Client,
                                                      as_role: Callable[..., Any]) -> None:
    ids = await make_tickets(client, 23)
    manager = await as_role("manager")
    walked: list[int] = []
    cursor = None
    for _ in range(10):
        query = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/records", params=query, headers=manager)).json()
        assert page["total"] == 23
        walked += [t["id"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == sorted(ids, reverse=True)  # newest first, each once

    async def total(**params: str) -> int:
        response = await client.get("/api/records", params=params, headers=manager)
        assert response.status == 200, await response.text()
        return int((await response.json())["total"])

    assert await total(service="skysea") == 8
    assert await total(operator="op01") == 11
    assert await total(q="VPN") == 1 and await total(q="100%") == 0
    assert await total(category="ネットワーク・接続") == 1
    assert await total(escalation_target="vendor") == 1
    assert await total(since=(T0 + timedelta(minutes=10)).isoformat(),
                       until=(T0 + timedelta(minutes=15)).isoformat()) == 5
    assert await total(status="in_progress", outcome="answered") == 23
    bad = await client.get("/api/records", params={"cursor": "not-a-cursor"}, headers=manager)
    assert bad.status == 400
    assert (await client.get("/api/records", params={"service": "x" * 50},
                             headers=manager)).status == 400
    assert (await client.get("/api/records", headers=await as_role("operator"))).status == 403

    exported = await client.get("/api/records/export", params={"format": "csv",
                                                               "service": "isolation"},
                                headers=manager)
    assert exported.status == 200 and "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    assert rows[0][0] == "受付番号 / Reference" and len(rows) == 1 + 8
    assert rows[1][1].endswith("+09:00")
    formula = await client.get("/api/records/export", params={"format": "xlsx", "q": "VPN"},
                               headers=manager)
    book = openpyxl.load_workbook(io.BytesIO(await formula.read()))
    sheet = book.active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and values[1][9] == "'=SUM(A1) VPNにつながらない"  # never a formula
    assert values[1][6] == "op02"

    escalations = await (await client.get("/api/escalations", headers=manager)).json()
    assert [e["business_age_s"] for e in escalations["escalations"]] == [0]  # made "in the future"

    admin = await as_role("admin")
    log = await (await client.get("/api/audit", params={"actor": "test-manager"},
                                  headers=admin)).json()
    actions = [e["action"] for e in log["entries"]]
    assert actions.count("records.export") == 2 and "records.search" in actions
    assert log["total"] == len(actions)
    assert (await client.get("/api/audit", headers=manager)).status == 403
    # found by schemathesis: an object where an id belongs is a 400, never a 500
    for method, path, body in (("PUT", "/api/users/mgr/operator", {"operator_id": {}}),
                               ("POST", "/api/calls/c1/move", {"service": {}}),
                               ("POST", "/api/calls/c1/take", {"operator_id": []}),
                               ("PUT", "/api/incident", {"message_ja": "x", "service": {}})):
        answer = await client.request(method, path, json=body, headers=admin)
        assert answer.status == 400, (path, await answer.text())
