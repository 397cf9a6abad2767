"""``cti privacy rescan``: old records are cleaned, kept words stay, a second run changes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.privacy.redaction import Redactor
from cti.privacy.rescan import AUDIT_ACTION, Rescan, rescan
from cti.storage import audit, create_engine, session_factory
from cti.storage.tables import (
    CallEventRow,
    CallRow,
    EscalationRow,
    KnowledgeArticleRow,
    KnowledgeArticleVersionRow,
    TicketRow,
)

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
REDACTOR = Redactor()
OLD_SUMMARY = "職員の山田太郎から電話、北8条西5丁目の自宅からVPN不可。白石さん経由"
OLD_NOTE = "伊藤美咲がUSBメモリを紛失、平岸3条5丁目7-1付近"


async def _old_records(sessions: Sessions) -> None:
    """Records as the old redactor left them: phones masked, bare names and grid addresses not."""
    async with sessions() as session, session.begin():
        session.add(CallRow(id="call-1", received_at=T0))
        session.add(TicketRow(id=1, reference="HD-20260401-0001", call_id="call-1", status="resolved",
                              summary=OLD_SUMMARY, answer="[電話番号]へ折り返し済み", received_at=T0,
                              created_at=T0, updated_at=T0))
        session.add(TicketRow(id=2, reference="HD-20260501-0002", status="open", summary="小林課長から依頼",
                              answer="", received_at=T0 + timedelta(days=30),
                              created_at=T0 + timedelta(days=30), updated_at=T0 + timedelta(days=30)))
    async with sessions() as session, session.begin():
        session.add(CallEventRow(call_id="call-1", seq=1, at=T0, kind="note",
                                 data={"text": OLD_NOTE, "operator_id": "op01",
                                       "caller_hash": "0901234567ab"}))
        session.add(EscalationRow(reference="ESC-1", ticket_id=1, target="vendor", contact_name="保守窓口",
                                  contact_email="desk@example.invalid", token_hash="x" * 64,
                                  status="answered",
                                  message=f"概要: {OLD_SUMMARY}", created_at=T0, answer=OLD_NOTE,
                                  answered_by="佐々木 健一"))
        session.add(KnowledgeArticleRow(id=1, service="portal", title="VPN", question=OLD_SUMMARY,
                                        answer="再起動", created_by="op01", created_at=T0, updated_at=T0))
        session.add(KnowledgeArticleVersionRow(article_id=1, version=1, title="VPN", question=OLD_SUMMARY,
                                               answer="再起動", edited_by="op01", edited_at=T0))
    await audit.record(sessions, audit.AuditEntry(T0, "op01", "operator", "ticket.keep", "HD-20260401-0001",
                                                  {"words": ["白石"], "kinds": {"白石": ["person_name"]}}))


async def _texts(sessions: Sessions) -> dict[str, Any]:
    async with sessions() as session:
        ticket = await session.get(TicketRow, 1)
        event = (await session.scalars(select(CallEventRow))).one()
        escalation = (await session.scalars(select(EscalationRow))).one()
        article = await session.get(KnowledgeArticleRow, 1)
        version = (await session.scalars(select(KnowledgeArticleVersionRow))).one()
    assert ticket and article
    return {"summary": ticket.summary, "version": ticket.version, "event": dict(event.data),
            "message": escalation.message, "answer": escalation.answer, "by": escalation.answered_by,
            "question": article.question, "old_question": version.question}


async def test_rescan_cleans_old_records_once(sessions: Sessions) -> None:
    await _old_records(sessions)
    before = await _texts(sessions)

    dry = await rescan(sessions, Rescan(REDACTOR, dry_run=True), T0)
    assert await _texts(sessions) == before
    assert dry["tickets"].changed == 2 and dry["articles"].changed == 2
    assert dry["timelines"].changed == 1 and dry["escalations"].changed == 1
    assert await audit.entries(sessions, action=AUDIT_ACTION) == []

    done = await rescan(sessions, Rescan(REDACTOR), T0)
    assert {k: t.changed for k, t in done.items()} == {k: t.changed for k, t in dry.items()}
    after = await _texts(sessions)
    expected = "職員の[氏名]から電話、[住所]の自宅からVPN不可。白石さん経由"  # 白石 kept (audited)
    assert after["summary"] == expected and after["version"] == before["version"] + 1
    assert after["event"] == {"text": "[氏名]がUSBメモリを紛失、[住所]付近", "operator_id": "op01",
                              "caller_hash": "0901234567ab"}
    assert after["message"] == "概要: 職員の[氏名]から電話、[住所]の自宅からVPN不可。[氏名]さん経由"
    assert after["answer"] == "[氏名]がUSBメモリを紛失、[住所]付近" and after["by"] == "[氏名]"
    assert "山田" not in after["question"] and "山田" not in after["old_question"]
    entries = await audit.entries(sessions, action=AUDIT_ACTION)
    assert len(entries) == 6
    assert all("山田" not in str(e.detail) for e in entries)
    ticket_entry = next(e for e in entries if e.target == "tickets:HD-20260401-0001")
    assert ticket_entry.detail == {"fields": ["summary"], "kinds": {"address": 1, "person_name": 1}}

    again = await rescan(sessions, Rescan(REDACTOR), T0)
    assert all(t.changed == 0 for t in again.values())
    assert await _texts(sessions) == after


async def test_since_limits_the_rescan(sessions: Sessions) -> None:
    await _old_records(sessions)
    report = await rescan(sessions, Rescan(REDACTOR, since=T0 + timedelta(days=10), dry_run=True), T0)
    assert report["tickets"].scanned == 1 and report["tickets"].changed == 1
    assert report["articles"].scanned == 0 and report["timelines"].scanned == 0
    assert report["escalations"].scanned == 0


def test_cli_prints_per_kind(database_url: str) -> None:
    async def old_records() -> None:
        engine = create_engine(database_url)
        try:
            await _old_records(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(old_records())
    env = {**os.environ, "CTI_DATABASE_URL": database_url,
           "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789"}

    def cti(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cti", "privacy", "rescan", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    done = cti("--dry-run", "--since", "2026-04-15")
    assert done.returncode == 0, done.stderr
    assert "would change" in done.stdout and "person_name" in done.stdout
    assert "tickets      scanned 1, would change 1" in done.stdout
    assert "articles     scanned 0" in done.stdout
    assert cti("--since", "April").returncode == 2
