"""Call-IDs and caller ids as real phones send them reach the database on both backends.

Before 0003 a ``<uuid>@host`` Call-ID (47 characters) made PostgreSQL refuse the INSERT with
``value too long for type character varying(36)``, and the writer retried that one record
forever: no later call got a ticket. Now wire values are bounded before the journal, the columns
are TEXT, and a record the database still refuses is set aside while the queue moves on.
"""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from cti.metrics import DEFAULT_BASELINE, CtiMetrics
from cti.storage import create_engine, session_factory
from cti.storage.tables import CallRow, TicketRow
from cti.tickets.bounds import CALL_ID_MAX, storage_call_id
from cti.tickets.journal import Journal
from cti.tickets.rules import CallRecordEvent
from cti.tickets.writer import TicketWriter

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
HOST = "pbx.example.invalid"
CALL_IDS = {
    "pjsip": f"{uuid.uuid4()}@{HOST}",  # 57 characters: Asterisk/PJSIP style
    "linphone": "Zl2nC~yKqB",  # short and odd characters
    "long": "a" * 200 + "@" + "b" * 54,  # 255 characters
    "limit": "c" * CALL_ID_MAX,
    "huge": "d" * 16_000,  # fits a datagram, not a B-tree entry
    "nul": "abc\x00def@host",
    "emoji": "call-☎️-📞@host",
    "surrogate": "bad-\udc80\udcff@host",
}
DISPLAYS = {
    "forty_digits": "*" * 38 + "90",
    "nul": "09\x0012",
    "emoji": "📞 窓口",
    "surrogate": "x\udcffy",
    "long_name": "名" * 5000,
}


def events_for(call_id: str, display: str, minute: int) -> list[CallRecordEvent]:
    at = T0 + timedelta(minutes=minute)
    return [
        CallRecordEvent(call_id, 1, at, "offered",
                        {"caller_hash": "f" * 64, "caller_display": display,
                         "sip_call_id": call_id, "from_tag": "t\x00" + "g" * 3000}),
        CallRecordEvent(call_id, 2, at + timedelta(seconds=5), "service_selected",
                        {"service": "isolation", "digit": "1"}),
        CallRecordEvent(call_id, 3, at + timedelta(seconds=9), "ended",
                        {"reason": "caller_hung_up", "hung_up_by": "caller"}),
    ]


async def drain(writer: TicketWriter) -> None:
    async with asyncio.timeout(30):
        await writer.flush()


async def test_real_call_ids_and_numbers_are_stored_on_both_backends(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    journal = Journal(tmp_path / "journal" / "j.jsonl")
    writer = TicketWriter(journal, sessions, lambda: T0)
    task = asyncio.create_task(writer.run())
    try:
        calls = [(name, call_id, display)
                 for name, call_id in CALL_IDS.items() for display in DISPLAYS.values()]
        for minute, (name, call_id, display) in enumerate(calls):
            for event in events_for(f"{call_id}-{minute}" if name != "limit" else call_id[:-4]
                                    + f"{minute:04d}", display, minute):
                await writer.record(event)
        await drain(writer)
        assert writer.healthy and journal.rejected_count == 0
        async with sessions() as session:
            stored = {row.id: row for row in (await session.scalars(select(CallRow))).all()}
            tickets = (await session.scalars(select(TicketRow))).all()
        assert len(stored) == len(calls) == len(tickets)
        assert all(t.outcome == "abandoned_ivr" for t in tickets)
        pjsip = next(k for k in stored if k.startswith(CALL_IDS["pjsip"]))
        assert pjsip == f"{CALL_IDS['pjsip']}-0"  # kept as the phone spelled it
        assert any(k.startswith("a" * 200 + "@") for k in stored)
        assert sum(k.startswith("x-sha256:") for k in stored) == 4 * len(DISPLAYS)
        displays = {row.caller_display for row in stored.values()}
        assert {"*" * 38 + "90", "0912", "📞 窓口", "x\ufffdy"} <= displays
        assert max(len(d or "") for d in displays) <= 1024
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        journal.close()
        await engine.dispose()


def test_a_call_id_maps_to_one_stable_key() -> None:
    assert storage_call_id(CALL_IDS["pjsip"]) == CALL_IDS["pjsip"]
    assert storage_call_id(CALL_IDS["huge"]) == storage_call_id("d" * 16_000)
    assert storage_call_id(CALL_IDS["nul"]) != storage_call_id(CALL_IDS["emoji"])
    assert len(storage_call_id(CALL_IDS["surrogate"])) == len("x-sha256:") + 64


async def test_a_refused_record_is_set_aside_counted_and_named_while_later_calls_get_tickets(
    database_url: str, tmp_path: Path
) -> None:
    """Records written to the journal without the bounds (an older version's journal, a bug)."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    registry = CollectorRegistry()
    metrics = CtiMetrics(registry, baseline=DEFAULT_BASELINE, services=["isolation"],
                         service_level_threshold_s=20, is_business_day=lambda day: True)
    journal = Journal(tmp_path / "j.jsonl")
    writer = TicketWriter(journal, sessions, lambda: T0, on_write_error=metrics.ticket_write_failed,
                          on_rejected=metrics.ticket_rejected)
    unparsable = {"call_id": "x@h", "seq": "one", "at": T0.isoformat(), "kind": "offered"}
    journal.append(unparsable)
    if engine.dialect.name == "postgresql":  # NUL in a TEXT column: SQLSTATE 22021
        nul = events_for("nul-display@host", "09\x0012", 0)[0].to_json()
        nul["data"] = {"caller_display": "09\x0012"}
        journal.append(nul)
    task = asyncio.create_task(writer.run())
    try:
        for n in range(3):
            for event in events_for(f"{uuid.uuid4()}@{HOST}", "2345", n):
                await writer.record(event)
        await drain(writer)
        async with sessions() as session:
            tickets = (await session.scalars(select(TicketRow))).all()
        assert len(tickets) == 3 and writer.healthy
        refused = [json.loads(line) for line in journal.rejected_path.read_text().splitlines()]
        expected = 2 if engine.dialect.name == "postgresql" else 1
        assert len(refused) == journal.rejected_count == writer.rejected_count == expected
        assert refused[0]["error"].startswith("ValueError") and refused[0]["record"] == unparsable
        if expected == 2:
            assert "22021" in refused[1]["error"]
        assert registry.get_sample_value("cti_tickets_rejected_total") == expected
        assert stat.S_IMODE(journal.rejected_path.stat().st_mode) == 0o600
        reopened = Journal(tmp_path / "j.jsonl")
        assert reopened.rejected_count == expected  # health still names them after a restart
        reopened.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        journal.close()
        await engine.dispose()


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_journal_and_sqlite_files_are_private(tmp_path: Path, umask: int) -> None:
    import os

    previous = os.umask(umask)
    try:
        journal = Journal(tmp_path / "var" / "journal.jsonl")
        journal.append({"call_id": "c", "seq": 1})
        journal.mark_applied(journal.size)
        journal.close()
        create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'cti.db'}")
    finally:
        os.umask(previous)
    for path in (tmp_path / "var" / "journal.jsonl", tmp_path / "var" / "journal.jsonl.applied",
                 tmp_path / "db" / "cti.db"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (tmp_path / "var", tmp_path / "db"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


async def test_healthz_names_records_set_aside(
    aiohttp_client: Any, tmp_path: Path, make_settings: Any, database_url: str
) -> None:
    from cti.app import build_app
    from cti.keys import TICKET_WRITER

    journal = Journal(tmp_path / "journal.jsonl")  # the path make_settings gives the service
    journal.append({"call_id": "x@h", "seq": "one", "at": T0.isoformat(), "kind": "offered"})
    journal.close()
    client = await aiohttp_client(build_app(make_settings(database_url)))
    await drain(client.app[TICKET_WRITER])
    health = await client.get("/healthz")
    body = await health.json()
    assert health.status == 200 and body["tickets"] == "ok"
    assert body["warnings"]["tickets_rejected"].startswith(
        f"1 call records set aside in {tmp_path / 'journal.jsonl.rejected'}")
    assert "ValueError" in body["warnings"]["tickets_rejected"]
    metrics = await (await client.get("/metrics")).text()
    assert "cti_tickets_rejected_total 1.0" in metrics


async def test_a_record_refused_for_an_unknown_reason_is_set_aside_once_the_database_answers(
    postgres_server: Any, tmp_path: Path
) -> None:
    """A trigger refuses one call with SQLSTATE P0001 (neither a data error nor a connection
    error): the writer retries it, sees the database answer, sets it aside, and goes on."""
    from sqlalchemy import text as sql

    url = await postgres_server.create_database()
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sql(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.call_id = 'poison@h' THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'P0001';"
            " END IF; RETURN NEW; END $$"))
        await conn.execute(sql("CREATE TRIGGER refuse_poison BEFORE INSERT ON call_events "
                               "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"))
    sessions = session_factory(engine)
    journal = Journal(tmp_path / "j.jsonl")
    writer = TicketWriter(journal, sessions, lambda: T0)
    task = asyncio.create_task(writer.run())
    try:
        for event in events_for("poison@h", "2345", 0)[:1] + events_for("fine@h", "2345", 1):
            await writer.record(event)
        await drain(writer)
        async with sessions() as session:
            tickets = (await session.scalars(select(TicketRow))).all()
        assert [t.call_id for t in tickets] == ["fine@h"] and writer.healthy
        [refused] = [json.loads(line) for line in journal.rejected_path.read_text().splitlines()]
        assert refused["record"]["call_id"] == "poison@h"
        assert "refused 3 times while the database answers" in refused["error"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        journal.close()
        await engine.dispose()
