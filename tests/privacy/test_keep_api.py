"""The live preview and the stored text agree; an operator's kept word is honoured and audited,
never for a phone, a mail address, a My Number or a card; incident notices are redacted too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from cti.keys import SESSIONS, TICKET_WRITER
from cti.privacy.redaction.scoring import parse_corpus
from cti.storage import audit
from cti.tickets.rules import CallRecordEvent

Client = TestClient
T0 = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
CORPUS = parse_corpus((Path(__file__).parents[1] / "data" / "redaction_corpus.txt").read_text("utf-8"))


async def _my_ticket(client: Client) -> dict[str, Any]:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("offered", {"caller_hash": "h-aaa", "caller_display": "2345"}),
        ("service_selected", {"service": "skysea"}), ("queued", {"service": "skysea"}),
        ("connected", {"operator_id": "test-operator"}), ("ended", {"hung_up_by": "caller"}),
    ]
    writer = client.app[TICKET_WRITER]
    for seq, (kind, data) in enumerate(steps, start=1):
        await writer.record(CallRecordEvent("call-keep", seq, T0 + timedelta(seconds=seq), kind, data))
    async with asyncio.timeout(20):
        await writer.flush()
    return await _only_ticket(client)


async def _only_ticket(client: Client) -> dict[str, Any]:
    headers = await _operator(client)
    listed = await (await client.get("/api/tickets", headers=headers)).json()
    ticket: dict[str, Any] = listed["tickets"][0]
    return ticket


async def _operator(client: Client) -> dict[str, str]:
    from cti.auth import digest, new_secret
    from cti.storage.users import add_token

    token = new_secret()
    await add_token(client.app[SESSIONS], "test-operator", "operator", digest(token), datetime.now(UTC),
                    operator_id="test-operator")
    return {"Authorization": f"Bearer {token}"}


async def test_preview_and_stored_text_agree(client: Client) -> None:
    ticket = await _my_ticket(client)
    operator = await _operator(client)
    texts = [s.text for s in CORPUS if s.tag in ("sap", "ja")][::20]
    for text in texts:
        preview = await (await client.post("/api/redact", json={"text": text}, headers=operator)).json()
        response = await client.patch(f"/api/tickets/{ticket['id']}", json={"summary": text},
                                      headers=operator)
        assert response.status == 200
        assert (await response.json())["summary"] == preview["text"], text
        stored = await (await client.get(f"/api/tickets/{ticket['id']}", headers=operator)).json()
        assert stored["summary"] == preview["text"]


async def test_preview_marks_what_may_be_kept(client: Client, as_role: Callable[[str], Any]) -> None:
    operator = await as_role("operator")
    text = "白石さんの携帯090-5555-0123、メール s@example.invalid"
    body = await (await client.post("/api/redact", json={"text": text}, headers=operator)).json()
    assert [(f["kind"], f["keepable"]) for f in body["found"]] == [
        ("person_name", True), ("phone", False), ("email", False)]
    kept = await (await client.post("/api/redact", json={"text": text, "keep": ["白石"]},
                                    headers=operator)).json()
    assert kept["text"] == "白石さんの携帯[電話番号]、メール [メール]"
    for word in ("090-5555-0123", "s@example.invalid", "5260 1815 9084"):
        refused = await client.post("/api/redact", json={"text": text, "keep": [word]}, headers=operator)
        assert refused.status == 400, word
        assert (await refused.json())["error_id"] == "invalid_request"
    for bad in ("白石", [5], ["x" * 65], [""]):
        response = await client.post("/api/redact", json={"text": text, "keep": bad}, headers=operator)
        assert response.status == 400, bad


async def test_kept_word_is_stored_unmasked_and_audited(client: Client) -> None:
    ticket = await _my_ticket(client)
    operator = await _operator(client)
    text = "白石さんから、豊平区役所のプリンタ不調。折り返し090-5555-0123"
    response = await client.patch(f"/api/tickets/{ticket['id']}", json={"summary": text, "keep": ["白石"]},
                                  headers=operator)
    assert response.status == 200
    assert (await response.json())["summary"] == "白石さんから、豊平区役所のプリンタ不調。折り返し[電話番号]"
    [entry] = await audit.entries(client.app[SESSIONS], action="ticket.keep")
    assert entry.target == ticket["reference"] and entry.actor == "test-operator"
    assert entry.detail["words"] == ["白石"] and entry.detail["kinds"] == {"白石": ["person_name"]}

    refused = await client.patch(f"/api/tickets/{ticket['id']}",
                                 json={"summary": "携帯090-5555-0123", "keep": ["090-5555-0123"]},
                                 headers=operator)
    assert refused.status == 400
    assert (await refused.json())["details"]["kinds"] == ["phone"]
    stored = await (await client.get(f"/api/tickets/{ticket['id']}", headers=operator)).json()
    assert stored["summary"].endswith("[電話番号]") and "090" not in stored["summary"]
    assert len(await audit.entries(client.app[SESSIONS], action="ticket.keep")) == 1


async def test_incident_notice_is_redacted(client: Client, as_role: Callable[[str], Any]) -> None:
    supervisor = await as_role("supervisor")
    response = await client.put("/api/incident", headers=supervisor, json={
        "message_ja": "北8条西5丁目の山田太郎さん宅付近で停電",
        "message_en": "Call Taro Yamada at 090-5555-0123"})
    assert response.status == 200
    notice = (await response.json())["incident"]
    assert notice["message_ja"] == "[住所]の[氏名]さん宅付近で停電"
    assert notice["message_en"] == "Call [氏名] at [電話番号]"
