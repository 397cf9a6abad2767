"""Tickets over HTTP: who sees what, completing a ticket, redaction, audit of reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from cti.keys import SESSIONS, TICKET_WRITER
from cti.storage import audit
from cti.tickets.rules import CallRecordEvent

Client = TestClient  # type: ignore[type-arg]
T0 = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)


async def answered_call(client: Client, n: int, operator: str, caller: str = "h-aaa",
                        service: str = "skysea") -> None:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("offered", {"caller_hash": caller, "caller_display": "2345"}),
        ("service_selected", {"service": service}), ("queued", {"service": service}),
        ("connected", {"operator_id": operator}), ("ended", {"hung_up_by": "caller"}),
    ]
    writer = client.app[TICKET_WRITER]
    for seq, (kind, data) in enumerate(steps, start=1):
        at = T0 + timedelta(minutes=n, seconds=seq * 15)
        await writer.record(CallRecordEvent(f"call-{n}", seq, at, kind, data))
    async with asyncio.timeout(20):
        await writer.flush()


async def test_operator_sees_own_supervisor_sees_all_and_reads_are_audited(
    client: Client, as_role: Callable[[str], Any]
) -> None:
    await answered_call(client, 1, "op01")
    await answered_call(client, 2, "op02")
    supervisor = await as_role("supervisor")
    listed = await (await client.get("/api/tickets", headers=supervisor)).json()
    assert {t["operator"] for t in listed["tickets"]} == {"op01", "op02"}
    first = listed["tickets"][-1]
    assert set(first) >= {"id", "reference", "service", "status", "outcome", "received_at",
                          "wait_seconds", "talk_seconds", "operator"}
    assert first["outcome"] == "answered" and first["status"] == "in_progress"
    assert first["wait_seconds"] == 15.0 and first["talk_seconds"] == 15.0

    detail = await (await client.get(f"/api/tickets/{first['id']}", headers=supervisor)).json()
    assert [e["kind"] for e in detail["timeline"]] == [
        "offered", "service_selected", "queued", "connected", "ended"]
    reads = await audit.entries(client.app[SESSIONS], action="ticket.read")
    assert reads[0].target == first["reference"] and reads[0].role == "supervisor"
    assert (await audit.entries(client.app[SESSIONS], action="tickets.list"))

    # The operator token is named test-operator; tickets of op01/op02 are not theirs.
    operator = await as_role("operator")
    mine = await (await client.get("/api/tickets", headers=operator)).json()
    assert mine["tickets"] == []
    other = await client.get(f"/api/tickets/{first['id']}", headers=operator)
    assert other.status == 403


async def test_filters_and_bad_queries(client: Client, as_role: Callable[[str], Any]) -> None:
    await answered_call(client, 1, "op01", service="skysea")
    await answered_call(client, 2, "op01", service="portal")
    manager = await as_role("manager")
    portal = await (await client.get("/api/tickets", params={"service": "portal"},
                                     headers=manager)).json()
    assert [t["service"] for t in portal["tickets"]] == ["portal"]
    window = await (await client.get("/api/tickets", headers=manager, params={
        "since": (T0 + timedelta(minutes=2)).isoformat(),
        "until": (T0 + timedelta(minutes=3)).isoformat()})).json()
    assert [t["service"] for t in window["tickets"]] == ["portal"]
    for params in ({"service": "fax"}, {"status": "done"}, {"since": "last week"},
                   {"limit": "0"}, {"outcome": "won"}):
        response = await client.get("/api/tickets", params=params, headers=manager)
        assert response.status == 400, params
        assert (await response.json())["error_id"] == "invalid_request"
    assert (await client.get("/api/tickets/999999", headers=manager)).status == 404
    assert (await client.get("/api/tickets/abc", headers=manager)).status == 404


async def test_operator_completes_a_ticket_and_free_text_is_redacted(
    client: Client, as_role: Callable[[str], Any]
) -> None:
    await answered_call(client, 1, "test-operator")
    operator = await as_role("operator")
    ticket = (await (await client.get("/api/tickets", headers=operator)).json())["tickets"][0]
    response = await client.patch(f"/api/tickets/{ticket['id']}", headers=operator, json={
        "category": "USB・デバイス利用申請",
        "summary": "総務課の山田さん（090-1234-5678）からUSBメモリが使えないとの問い合わせ",
        "answer": "SKYSEAで一時許可を申請するよう案内。yamada@example.invalid へ手順を送付。",
        "status": "resolved",
    })
    assert response.status == 200, await response.text()
    body = await response.json()
    assert "090-1234-5678" not in body["summary"] and "[電話番号]" in body["summary"]
    assert "山田" not in body["summary"] and "[氏名]" in body["summary"]
    assert "yamada@example.invalid" not in body["answer"] and "[メール]" in body["answer"]
    assert body["status"] == "resolved" and body["category"] == "USB・デバイス利用申請"

    illegal = await client.patch(f"/api/tickets/{ticket['id']}", headers=operator,
                                 json={"status": "in_progress"})
    assert illegal.status == 409
    assert (await illegal.json())["error_id"] == "illegal_transition"
    stale = await client.patch(f"/api/tickets/{ticket['id']}", headers=operator,
                               json={"summary": "x", "version": ticket["version"]})
    assert stale.status == 409 and (await stale.json())["error_id"] == "stale_write"
    for bad in ({"summary": "x" * 4001}, {"category": "何か"}, {"status": "done"},
                {"owner": "me"}, {"linked_ticket_id": ticket["id"]}):
        response = await client.patch(f"/api/tickets/{ticket['id']}", headers=operator, json=bad)
        assert response.status == 400, bad
    manager = await as_role("manager")
    denied = await client.patch(f"/api/tickets/{ticket['id']}", headers=manager,
                                json={"summary": "x"})
    assert denied.status == 403


async def test_link_to_an_earlier_ticket_of_the_same_caller_only(
    client: Client, as_role: Callable[[str], Any]
) -> None:
    await answered_call(client, 1, "op01", caller="h-same")
    await answered_call(client, 2, "op01", caller="h-same")
    await answered_call(client, 3, "op01", caller="h-other")
    supervisor = await as_role("supervisor")
    tickets = (await (await client.get("/api/tickets", headers=supervisor)).json())["tickets"]
    by_call = {t["call_id"]: t["id"] for t in tickets}
    ok = await client.patch(f"/api/tickets/{by_call['call-2']}", headers=supervisor,
                            json={"linked_ticket_id": by_call["call-1"]})
    assert ok.status == 200 and (await ok.json())["linked_ticket_id"] == by_call["call-1"]
    other = await client.patch(f"/api/tickets/{by_call['call-3']}", headers=supervisor,
                               json={"linked_ticket_id": by_call["call-1"]})
    assert other.status == 400


async def test_redact_preview(client: Client, as_role: Callable[[str], Any]) -> None:
    operator = await as_role("operator")
    text = "佐藤様の内線は2345、携帯は０９０－１１１１－２２２２です"
    response = await client.post("/api/redact", json={"text": text}, headers=operator)
    body = await response.json()
    assert "０９０" not in body["text"] and "2345" in body["text"]
    kinds = {f["kind"] for f in body["found"]}
    assert {"phone", "person_name"} <= kinds
    for finding in body["found"]:
        assert 0 <= finding["start"] < finding["end"] <= len(text)
    assert (await client.post("/api/redact", json={"text": 5}, headers=operator)).status == 400
    assert (await client.post("/api/redact", json={"text": "x"})).status == 401
