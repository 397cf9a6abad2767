"""One rule for time in everything a person reads: ISO 8601 with the helpdesk's offset (+09:00),
whole seconds — in every JSON route and every CSV export (``cti.clock.wire_time``).

A realistic month is seeded, an incident declared and an hours override set, then every GET
route of the API is read as an admin; a route added later without being read here fails the
coverage check below.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from cti.keys import SESSIONS, SETTINGS
from cti.reports.period import Month
from cti.reports.seed import seed_month

LOOKS_LIKE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
HELPDESK_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00")
# Call facts inside a timeline's ``data`` are kept as recorded (UTC, whole seconds).
RECORDED_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\+09:00|\+00:00)")
NOT_READ_HERE = {"/api/events",  # websocket: its events carry no timestamps of their own
                 "/api/reports/{id}/files/{name}",  # a stored file, bytes as kept
                 "/api/docs", "/api/openapi.json", "/metrics", "/", "/console", "/console/"}


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _bad_times(body: Any) -> list[str]:
    bad = []
    for path, text in _strings(body):
        if not LOOKS_LIKE_TIME.match(text):
            continue
        rule = RECORDED_TIME if ".data." in path else HELPDESK_TIME
        if not rule.fullmatch(text):
            bad.append(f"{path} = {text!r}")
    return bad


async def test_every_timestamp_people_read_is_helpdesk_time_in_whole_seconds(
    client: TestClient, as_role: Callable[[str], Any],
) -> None:
    app = client.app
    await seed_month(app[SETTINGS], app[SESSIONS], Month(2026, 10), seed=5,
                     now=datetime(2026, 11, 1, tzinfo=UTC), calls=40)
    admin = await as_role("admin")
    for method, path, body in (
        ("PUT", "/api/incident", {"message_ja": "テスト障害です。", "message_en": "A test outage.",
                                  "until": "2026-11-24T17:00:00+09:00"}),
        ("PUT", "/api/calendar/override", {"mode": "open", "until": "2026-11-24T18:30:00+09:00"}),
    ):
        answer = await client.request(method, path, json=body, headers=admin)
        assert answer.status == 200, await answer.text()

    tickets = (await (await client.get("/api/tickets?limit=5", headers=admin)).json())["tickets"]
    assert tickets, "the seeded month has no tickets"
    articles = await client.post("/api/knowledge", json={"ticket_id": next(
        t["id"] for t in tickets if t["status"] in ("resolved", "closed") and t["answer"])},
        headers=admin)
    article = (await articles.json())["id"] if articles.status == 201 else None
    ticket = tickets[0]["id"]
    read = [
        "/healthz", "/api/session", "/api/calendar", "/api/services", "/api/operators", "/api/queues",
        "/api/floor", "/api/incident", "/api/tickets?limit=50", f"/api/tickets/{ticket}",
        f"/api/tickets/{ticket}/related", "/api/escalations", "/api/knowledge",
        "/api/knowledge/similar?text=USB", "/api/incidents/suspected?hours=72",
        "/api/records?since=2026-10-01T00:00:00%2B09:00&limit=50", "/api/audit", "/api/users",
        "/api/forecast?month=2026-11", "/api/staffing?calls_per_hour=10&aht_seconds=300",
        "/api/reports/monthly?month=2026-10&format=json", "/api/reports", "/api/me/desk",
    ] + ([f"/api/knowledge/{article}"] if article else [])
    checked = 0
    for url in read:
        answer = await client.get(url, headers=admin)
        if url == "/api/me/desk":  # an admin has no desk: the refusal is JSON too
            assert answer.status in (200, 403), url
        else:
            assert answer.status == 200, f"{url}: {answer.status} {await answer.text()}"
        body = await answer.json()
        assert _bad_times(body) == [], url
        checked += sum(1 for _, text in _strings(body) if LOOKS_LIKE_TIME.match(text))
    assert checked > 100, "too few timestamps seen to prove anything"

    for url in ("/api/records/export?format=csv&since=2026-10-01T00:00:00%2B09:00",
                "/api/reports/monthly?month=2026-10&format=csv"):
        answer = await client.get(url, headers=admin)
        assert answer.status == 200, url
        rows = list(csv.reader(io.StringIO((await answer.read()).decode("utf-8-sig"))))
        cells = [cell for row in rows for cell in row if LOOKS_LIKE_TIME.match(cell)]
        assert all(HELPDESK_TIME.fullmatch(cell) for cell in cells), (url, cells[:5])

    routes = {r.resource.canonical for r in app.router.routes()
              if r.method == "GET" and r.resource is not None}
    covered = {re.sub(r"\?.*", "", u) for u in [*read, "/api/records/export"]}
    covered = {re.sub(r"/\d+", "/{id}", u) for u in covered}
    missing = {r.replace(r"{id:\d+}", "{id}") for r in routes} - covered - NOT_READ_HERE
    assert not missing, f"GET routes this test does not read: {sorted(missing)}"
