"""Knowledge over HTTP: roles, promotion, versions, redaction, audit, search, suspected incidents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from knowledge_support import T0, make_ticket

from cti.keys import SESSIONS
from cti.storage import audit

Client = TestClient  # type: ignore[type-arg,unused-ignore]
Headers = Callable[[str], Any]
ARTICLE = {"service": "skysea", "title": "USBメモリが使えない",
           "question": "USBメモリを挿しても使えません。",
           "answer": "外部記憶媒体使用申請を提出してください。"}


async def test_supervisor_writes_versions_everyone_reads(client: Client, as_role: Headers) -> None:
    supervisor, operator = await as_role("supervisor"), await as_role("operator")
    assert (await client.post("/api/knowledge", json=ARTICLE, headers=operator)).status == 403
    created = await client.post("/api/knowledge", json=ARTICLE, headers=supervisor)
    assert created.status == 201
    article = await created.json()
    assert article["version"] == 1 and article["created_by"] == "test-supervisor"

    path = f"/api/knowledge/{article['id']}"
    stale = await client.put(path, json={"answer": "x", "version": 7}, headers=supervisor)
    assert stale.status == 409 and (await stale.json())["error_id"] == "stale_write"
    edited = await client.put(path, json={"answer": "暗号化USBメモリを使ってください。", "version": 1},
                              headers=supervisor)
    assert edited.status == 200
    assert (await edited.json())["version"] == 2
    assert (await client.put(path, json={"answer": "x"}, headers=operator)).status == 403

    detail = await (await client.get(path, headers=operator)).json()
    assert detail["title"] == ARTICLE["title"]  # fields left out keep their text
    assert [(v["version"], v["answer"]) for v in detail["versions"]] == [
        (2, "暗号化USBメモリを使ってください。"), (1, ARTICLE["answer"])]
    listed = await (await client.get("/api/knowledge", params={"service": "skysea"},
                                     headers=operator)).json()
    assert [a["id"] for a in listed["articles"]] == [article["id"]]
    assert (await (await client.get("/api/knowledge", params={"service": "portal"},
                                    headers=operator)).json())["articles"] == []
    assert (await client.get("/api/knowledge/999999", headers=operator)).status == 404

    writes = await audit.entries(client.app[SESSIONS], action="knowledge.edit")
    assert [(e.actor, e.target, e.detail) for e in writes] == [
        ("test-supervisor", f"article:{article['id']}", {"version": 2, "fields": ["answer"]})]
    assert await audit.entries(client.app[SESSIONS], action="knowledge.create")


async def test_free_text_is_redacted_before_it_is_stored(client: Client, as_role: Headers) -> None:
    admin = await as_role("admin")
    body = {**ARTICLE, "question": "山田太郎様（taro@example.invalid、090-5550-1234）から USB の件"}
    article = await (await client.post("/api/knowledge", json=body, headers=admin)).json()
    stored = await (await client.get(f"/api/knowledge/{article['id']}", headers=admin)).json()
    for text in (stored["question"], stored["versions"][0]["question"]):
        assert "taro@example.invalid" not in text and "090-5550-1234" not in text
        assert "山田太郎" not in text and "USB の件" in text


async def test_promotion_takes_resolved_tickets_only(client: Client, as_role: Headers) -> None:
    sessions = client.app[SESSIONS]
    supervisor = await as_role("supervisor")
    resolved = await make_ticket(sessions, 1, service="portal", summary="施設予約で会議室が取れない",
                                 answer="2か月前から予約できます")
    working = await make_ticket(sessions, 2, summary="分離環境が起動しない", answer="再起動",
                                status="in_progress")
    refused = await client.post("/api/knowledge", json={"ticket_id": working}, headers=supervisor)
    assert refused.status == 400 and "resolved" in (await refused.json())["message"]
    promoted = await client.post("/api/knowledge", headers=supervisor, json={
        "ticket_id": resolved, "answer": "利用日の2か月前から予約できます。連絡先 taro@example.invalid"})
    assert promoted.status == 201
    article = await promoted.json()
    assert (article["service"], article["source_ticket_id"]) == ("portal", resolved)
    assert article["question"] == "施設予約で会議室が取れない"
    assert article["answer"].startswith("利用日の2か月前から") and "example.invalid" not in article["answer"]
    for bad in ({"ticket_id": "1"}, {"service": "fax", **{k: v for k, v in ARTICLE.items()
                                                          if k != "service"}},
                {**ARTICLE, "title": ""}, {**ARTICLE, "colour": "red"}):
        response = await client.post("/api/knowledge", json=bad, headers=supervisor)
        assert response.status == 400, bad


async def test_similar_returns_articles_and_resolved_tickets(client: Client, as_role: Headers) -> None:
    sessions = client.app[SESSIONS]
    supervisor, operator = await as_role("supervisor"), await as_role("operator")
    await client.post("/api/knowledge", json=ARTICLE, headers=supervisor)
    await client.post("/api/knowledge", headers=supervisor, json={
        "service": "portal", "title": "ポータルにログインできない", "question": "パスワードが通らない",
        "answer": "再設定してください"})
    ticket = await make_ticket(sessions, 1, service="skysea", summary="USBメモリーが認識されない",
                               answer="申請を案内", at=T0 - timedelta(days=3))
    found = await client.get("/api/knowledge/similar", headers=operator,
                             params={"text": "ユーエスビーメモリを差しても使えない"})
    assert found.status == 200
    body = await found.json()
    assert body["articles"][0]["title"] == "USBメモリが使えない"
    assert body["articles"][0]["kind"] == "article" and body["articles"][0]["score"] > 0
    assert [(t["id"], t["kind"]) for t in body["tickets"]] == [(ticket, "ticket")]
    only_portal = await (await client.get("/api/knowledge/similar", headers=operator, params={
        "text": "USBメモリを差しても使えない", "service": "portal"})).json()
    assert only_portal == {"articles": [], "tickets": []}
    short = await (await client.get("/api/knowledge/similar", headers=operator,
                                    params={"text": "ポ"})).json()
    assert [a["title"] for a in short["articles"]] == ["ポータルにログインできない"]
    for params in ({}, {"text": " "}, {"text": "あ" * 501}, {"text": "USB", "limit": "0"},
                   {"text": "USB", "service": "fax"}):
        response = await client.get("/api/knowledge/similar", params=params, headers=operator)
        assert response.status == 400, params


async def test_suspected_incidents_for_supervisors(client: Client, as_role: Headers,
                                                   clock: Any) -> None:
    sessions = client.app[SESSIONS]
    now = clock.now
    for n, (minutes, summary) in enumerate([(50, "分離環境が起動しない"), (40, "分離環境が起動しません"),
                                            (35, "インターネット分離環境が起動しない"),
                                            (30, "パスワードを忘れた")], start=1):
        await make_ticket(sessions, n, summary=summary, status="in_progress",
                          at=now - timedelta(minutes=minutes))
    await make_ticket(sessions, 9, summary="分離環境が起動しない", at=now - timedelta(hours=30))
    operator = await as_role("operator")
    assert (await client.get("/api/incidents/suspected", headers=operator)).status == 403
    for role in ("supervisor", "manager", "admin"):
        response = await client.get("/api/incidents/suspected", headers=await as_role(role))
        assert response.status == 200, role
    body = await response.json()
    assert body["window_minutes"] == 30 and body["min_calls"] == 3
    [group] = body["suspected"]
    assert group["service"] == "isolation" and group["count"] == 3
    assert [t["summary"] for t in group["tickets"]] == [
        "分離環境が起動しない", "分離環境が起動しません", "インターネット分離環境が起動しない"]
    narrow = await (await client.get("/api/incidents/suspected", headers=await as_role("admin"),
                                     params={"window_minutes": "5"})).json()
    assert narrow["suspected"] == []
    bad = await client.get("/api/incidents/suspected", headers=await as_role("admin"),
                           params={"window_minutes": "1"})
    assert bad.status == 400
