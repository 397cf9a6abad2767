"""Escalations over HTTP, with a real SMTP server receiving the mails, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from escalation_support import MailCatcher, ticket_for, until
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from cti.auth import Principal, Role
from cti.keys import ESCALATION_OVERDUE, FEED, REGISTRY, SESSIONS
from cti.storage import audit
from cti.storage import escalations as store
from cti.storage import tickets as ticket_store

Client = TestClient
NOTE = "折り返しは佐藤花子様 03-5555-0199 まで。エラーコード E1234 が出ています。"
PERSONAL = ("山田", "太郎", "090-5555-0123", "taro.yamada@example.invalid", "佐藤", "花子",
            "03-5555-0199", "h-caller-secret", "2345", "test-operator")


def open_gauge(registry: CollectorRegistry, target: str) -> float | None:
    return registry.get_sample_value("cti_escalations_open", {"target": target})


def token_in(body: str) -> str:
    found = re.search(r'"token": "([A-Za-z0-9_\-]+)"', body)
    assert found, body
    return found.group(1)


async def test_escalate_mail_arrives_redacted_and_vendor_answers_by_reply_url(
    client: Client, as_role: Callable[[str], Any], mail: MailCatcher
) -> None:
    ticket_id = await ticket_for(client, 1)
    operator = await as_role("operator")
    console = client.app[FEED].subscribe(Principal(
        "test-operator", Role.OPERATOR, "session", "test-operator"))
    floor = client.app[FEED].subscribe(Principal("sv01", Role.SUPERVISOR, "session"))

    response = await client.post(f"/api/tickets/{ticket_id}/escalations", headers=operator,
                                 json={"target": "vendor", "note": NOTE})
    assert response.status == 201, await response.text()
    opened = await response.json()
    reference = opened["reference"]
    assert re.fullmatch(r"ESC-2026-\d{6}", reference)
    assert opened["target"] == "vendor" and opened["status"] == "pending"
    # Tuesday 10:00 JST + 16 business hours: 7h15 on Tuesday, 8h30 on Wednesday, then
    # 15 minutes from Thursday's 08:45 opening: Thursday 09:00 JST.
    assert opened["due_at"] == "2026-11-26T09:00:00+09:00" and opened["overdue"] is False
    assert open_gauge(client.app[REGISTRY], "vendor") == 1.0
    ticket, _ = await ticket_store.get_ticket(client.app[SESSIONS], ticket_id)
    assert ticket.status == "escalated"

    [message] = await mail.wait_for(1)
    assert reference in message["Subject"] and message["To"] == "isolation.vendor@example.invalid"
    assert mail.envelopes[0] == ("helpdesk@example.invalid", ["isolation.vendor@example.invalid"])
    body = message.get_content()
    assert body.index("御中") < body.index("Dear") and body.index("回答方法") < body.index("How to")
    assert "分離環境" in body and "E1234" in body and "無害化" in body
    assert "[電話番号]" in body and "[氏名]" in body and "[メール]" in body
    for secret in PERSONAL:
        assert secret not in body, secret
    assert ticket.reference not in body  # the vendor only gets the escalation reference
    assert f"https://cti.example.invalid/api/escalations/{reference}/reply" in body
    token = token_in(body)

    async def is_sent() -> bool:
        return (await store.get_escalation(client.app[SESSIONS], reference)).status == "sent"
    await until(client, is_sent)
    stored = await store.get_escalation(client.app[SESSIONS], reference)
    assert stored.attempts == 1 and stored.sent_at is not None
    assert token not in stored.token_hash and token not in stored.message  # only the hash is kept

    answer = "パッチ 2.3.1 を適用しました。担当 鈴木一郎さん 080-5555-0142 まで。"
    replied = await client.post(f"/api/escalations/{reference}/reply",
                                json={"token": token, "answer": answer, "from": "保守窓口"})
    assert replied.status == 200, await replied.text()
    result = await replied.json()
    assert result["status"] == "answered" and result["ticket_status"] == "in_progress"
    assert "2.3.1" in result["answer"] and "080-5555-0142" not in result["answer"]
    assert "鈴木" not in result["answer"] and result["answered_by"] == "保守窓口"

    ticket, _ = await ticket_store.get_ticket(client.app[SESSIONS], ticket_id)
    assert ticket.status == "in_progress"
    assert reference in ticket.answer and "2.3.1" in ticket.answer
    assert "080-5555-0142" not in ticket.answer
    assert open_gauge(client.app[REGISTRY], "vendor") == 0.0
    pushed = console.queue.get_nowait()
    assert pushed["type"] == "escalation_answered" and pushed["reference"] == reference
    assert pushed["ticket_id"] == ticket_id and pushed["ticket_status"] == "in_progress"
    floor_events = [floor.queue.get_nowait() for _ in range(floor.queue.qsize())]
    assert [e["type"] for e in floor_events] == ["escalation_opened", "escalation_answered"]

    again = await client.post(f"/api/escalations/{reference}/reply",
                              json={"token": token, "answer": "もう一度"})
    assert again.status == 409
    assert (await again.json())["error_id"] == "escalation_already_answered"
    assert [e.target for e in await audit.entries(client.app[SESSIONS], action="escalation.reply")] \
        == [reference]


async def test_answer_is_appended_to_the_operators_text(
    client: Client, as_role: Callable[[str], Any]
) -> None:
    ticket_id = await ticket_for(client, 1)
    operator = await as_role("operator")
    written = await client.patch(f"/api/tickets/{ticket_id}", headers=operator,
                                 json={"answer": "再起動で改善せず。ベンダーに確認。"})
    assert written.status == 200
    opened = await (await client.post(f"/api/tickets/{ticket_id}/escalations", headers=operator,
                                      json={"target": "city"})).json()
    typed = await client.post(f"/api/escalations/{opened['reference']}/answer", headers=operator,
                              json={"answer": "ポリシーを変更済み。再試行を依頼してください。"})
    assert typed.status == 200, await typed.text()
    assert (await typed.json())["answered_by"] == "test-operator"
    ticket, _ = await ticket_store.get_ticket(client.app[SESSIONS], ticket_id)
    assert ticket.answer.startswith("再起動で改善せず。ベンダーに確認。")
    assert ticket.answer.endswith("ポリシーを変更済み。再試行を依頼してください。")
    assert opened["reference"] in ticket.answer and ticket.status == "in_progress"
    twice = await client.post(f"/api/escalations/{opened['reference']}/answer", headers=operator,
                              json={"answer": "x"})
    assert twice.status == 409


async def test_wrong_token_unknown_reference_and_bad_replies(
    client: Client, as_role: Callable[[str], Any], mail: MailCatcher
) -> None:
    ticket_id = await ticket_for(client, 1)
    operator = await as_role("operator")
    opened = await (await client.post(f"/api/tickets/{ticket_id}/escalations", headers=operator,
                                      json={"target": "vendor"})).json()
    reference = opened["reference"]
    token = token_in((await mail.wait_for(1))[0].get_content())
    with capture_logs() as logs:
        wrong = await client.post(f"/api/escalations/{reference}/reply",
                                  json={"token": token[:-2] + "xx", "answer": "偽の回答"})
    assert wrong.status == 403 and (await wrong.json())["error_id"] == "wrong_reply_token"
    assert any(e["event"] == "escalation.reply_wrong_token" and e["reference"] == reference
               for e in logs)
    missing = await client.post(f"/api/escalations/{reference}/reply", json={"answer": "x"})
    assert missing.status == 403
    # Another escalation's token does not open this one.
    other_ticket = await ticket_for(client, 2)
    await client.post(f"/api/tickets/{other_ticket}/escalations", headers=operator,
                      json={"target": "city"})
    other_token = token_in((await mail.wait_for(2))[1].get_content())
    crossed = await client.post(f"/api/escalations/{reference}/reply",
                                json={"token": other_token, "answer": "x"})
    assert crossed.status == 403
    unknown = await client.post("/api/escalations/ESC-2026-999999/reply",
                                json={"token": token, "answer": "x"})
    assert unknown.status == 404 and (await unknown.json())["error_id"] == "not_found"
    for bad in ({"token": token, "answer": ""}, {"token": token, "answer": "あ" * 8001},
                {"token": token, "answer": 42}, {"token": token, "answer": "x", "from": "x" * 201}):
        response = await client.post(f"/api/escalations/{reference}/reply", json=bad)
        assert response.status == 400, bad
    still = await store.get_escalation(client.app[SESSIONS], reference)
    assert still.status in ("pending", "sent") and still.answer is None


async def test_refused_escalations(client: Client, as_role: Callable[[str], Any]) -> None:
    operator = await as_role("operator")
    # The service "other" has a city contact but no vendor in the default configuration.
    other = await ticket_for(client, 1, service="other")
    no_contact = await client.post(f"/api/tickets/{other}/escalations", headers=operator,
                                   json={"target": "vendor"})
    assert no_contact.status == 409
    assert (await no_contact.json())["error_id"] == "no_escalation_contact"

    ticket_id = await ticket_for(client, 2)
    for bad in ({"target": "mayor"}, {"target": "vendor", "note": "x" * 4001},
                {"target": "vendor", "note": 7}, {"target": "vendor", "cc": "all"}):
        response = await client.post(f"/api/tickets/{ticket_id}/escalations", headers=operator,
                                     json=bad)
        assert response.status == 400, bad
        assert (await response.json())["error_id"] == "invalid_request"

    closed = await client.patch(f"/api/tickets/{ticket_id}", headers=operator,
                                json={"status": "closed"})
    assert closed.status == 200
    illegal = await client.post(f"/api/tickets/{ticket_id}/escalations", headers=operator,
                                json={"target": "vendor"})
    assert illegal.status == 409 and (await illegal.json())["error_id"] == "illegal_transition"

    someone_elses = await ticket_for(client, 3, operator="op02")
    denied = await client.post(f"/api/tickets/{someone_elses}/escalations", headers=operator,
                               json={"target": "vendor"})
    assert denied.status == 403
    manager = await as_role("manager")
    assert (await client.post(f"/api/tickets/{someone_elses}/escalations", headers=manager,
                              json={"target": "vendor"})).status == 403
    assert (await client.post("/api/tickets/999999/escalations", headers=operator,
                              json={"target": "vendor"})).status == 404
    assert await store.list_escalations(client.app[SESSIONS], store.EscalationFilter()) == []
    assert open_gauge(client.app[REGISTRY], "vendor") == 0.0


async def test_list_with_overdue_flag_in_business_hours(
    client: Client, as_role: Callable[[str], Any], clock: Any
) -> None:
    operator = await as_role("operator")
    supervisor = await as_role("supervisor")
    mine = await ticket_for(client, 1)
    theirs = await ticket_for(client, 2, operator="op02")
    first = await (await client.post(f"/api/tickets/{mine}/escalations", headers=operator,
                                     json={"target": "vendor"})).json()
    second = await (await client.post(f"/api/tickets/{theirs}/escalations", headers=supervisor,
                                      json={"target": "city"})).json()
    # Tuesday 10:00 JST + 16 business hours = Thursday 09:00 JST; Wednesday evening is not late.
    clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wed 18:00 JST
    listed = await (await client.get("/api/escalations", headers=supervisor)).json()
    assert {e["reference"]: e["overdue"] for e in listed["escalations"]} == {
        first["reference"]: False, second["reference"]: False}
    clock.now = datetime(2026, 11, 26, 0, 45, tzinfo=UTC)  # Thu 09:45 JST
    await client.post(f"/api/escalations/{second['reference']}/answer", headers=supervisor,
                      json={"answer": "対応済み"})
    overdue = await (await client.get("/api/escalations", params={"overdue": "true"},
                                      headers=supervisor)).json()
    assert [e["reference"] for e in overdue["escalations"]] == [first["reference"]]
    assert overdue["escalations"][0]["overdue"] is True
    answered = await (await client.get("/api/escalations", params={"status": "answered"},
                                       headers=supervisor)).json()
    assert [(e["reference"], e["overdue"]) for e in answered["escalations"]] == [
        (second["reference"], False)]
    own = await (await client.get("/api/escalations", headers=operator)).json()
    assert [e["reference"] for e in own["escalations"]] == [first["reference"]]
    by_ticket = await (await client.get("/api/escalations", params={"ticket": str(theirs)},
                                        headers=supervisor)).json()
    assert [e["reference"] for e in by_ticket["escalations"]] == [second["reference"]]
    assert [e.target for e in await audit.entries(client.app[SESSIONS], action="escalations.list")]
    for params in ({"status": "lost"}, {"overdue": "yes"}, {"limit": "0"}, {"ticket": "x"}):
        response = await client.get("/api/escalations", params=params, headers=supervisor)
        assert response.status == 400, params
    assert (await client.get("/api/escalations")).status == 401
    foreign = await client.post(f"/api/escalations/{first['reference']}/answer",
                                headers=await as_role("manager"), json={"answer": "x"})
    assert foreign.status == 403


async def test_two_answers_at_once_one_wins(
    client: Client, as_role: Callable[[str], Any], mail: MailCatcher
) -> None:
    operator = await as_role("operator")
    ticket_id = await ticket_for(client, 1)
    opened = await (await client.post(f"/api/tickets/{ticket_id}/escalations", headers=operator,
                                      json={"target": "vendor"})).json()
    reference = opened["reference"]
    token = token_in((await mail.wait_for(1))[0].get_content())
    responses = await asyncio.gather(
        client.post(f"/api/escalations/{reference}/reply",
                    json={"token": token, "answer": "ベンダーからの回答"}),
        client.post(f"/api/escalations/{reference}/answer", headers=operator,
                    json={"answer": "オペレーターが入力した回答"}),
    )
    assert sorted(r.status for r in responses) == [200, 409]
    ticket, _ = await ticket_store.get_ticket(client.app[SESSIONS], ticket_id)
    # Exactly one answer was appended to the ticket.
    assert ticket.answer.count(reference) == 1 and ticket.status == "in_progress"
    assert open_gauge(client.app[REGISTRY], "vendor") == 0.0


async def test_overdue_escalations_are_pushed_once(
    client: Client, as_role: Callable[[str], Any], clock: Any
) -> None:
    operator = await as_role("operator")
    console = client.app[FEED].subscribe(Principal(
        "test-operator", Role.OPERATOR, "session", "test-operator"))
    watch = client.app[ESCALATION_OVERDUE]
    opened = await (await client.post(f"/api/tickets/{await ticket_for(client, 1)}/escalations",
                                      headers=operator, json={"target": "city"})).json()
    assert await watch.check() == []
    # 16 wall-clock hours later (Wednesday 02:00 JST) is not late: the hours are business hours.
    clock.now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert await watch.check() == []
    # Due Thursday 09:00 JST.
    clock.now = datetime(2026, 11, 26, 0, 0, tzinfo=UTC) - timedelta(seconds=1)
    assert await watch.check() == []
    clock.now = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert [v.reference for v in await watch.check()] == [opened["reference"]]
    assert await watch.check() == []  # once only
    pushed = console.queue.get_nowait()
    assert pushed["type"] == "escalation_overdue" and pushed["reference"] == opened["reference"]
    assert console.queue.empty()
