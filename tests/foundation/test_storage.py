"""Migrations and repository code, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect

from cti.storage import (
    SchemaOutdated,
    audit,
    create_engine,
    current_revision,
    head_revision,
    hours,
    operators,
    require_current,
    upgrade,
    users,
)
from cti.storage.users import Sessions

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
EXPECTED_TABLES = {
    "users", "api_tokens", "web_sessions", "operators", "operator_skills", "calls", "call_events",
    "tickets", "escalations", "knowledge_articles", "knowledge_article_versions", "audit_log",
    "hours_overrides",
}


async def test_upgrade_from_empty_creates_every_table(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(SchemaOutdated, match="cti db upgrade"):
            await require_current(engine)
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        await require_current(engine)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert EXPECTED_TABLES <= names
        await upgrade(engine)  # idempotent
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_users_tokens_and_sessions(sessions: Sessions) -> None:
    user = await users.add_user(sessions, "sv01", "supervisor", "hash-1", NOW)
    assert user.role == "supervisor" and not user.disabled
    with pytest.raises(users.DuplicateUser):
        await users.add_user(sessions, "sv01", "operator", "hash-2", NOW)
    found = await users.find_credentials(sessions, "sv01")
    assert found is not None and found.password_hash == "hash-1"
    assert await users.find_credentials(sessions, "nobody") is None

    await users.add_web_session(sessions, "s" * 64, user.id, NOW, NOW + timedelta(hours=1))
    assert await users.find_web_session(sessions, "s" * 64, NOW) == user
    assert await users.find_web_session(sessions, "s" * 64, NOW + timedelta(hours=2)) is None
    await users.delete_web_session(sessions, "s" * 64)
    assert await users.find_web_session(sessions, "s" * 64, NOW) is None

    token = await users.add_token(sessions, "grafana", "manager", "t" * 64, NOW)
    assert await users.find_token(sessions, "t" * 64) == token
    assert await users.find_token(sessions, "u" * 64) is None


async def test_times_come_back_aware_and_in_utc(sessions: Sessions) -> None:
    jst = timezone(timedelta(hours=9))
    until = datetime(2026, 11, 24, 18, 30, tzinfo=jst)
    await hours.save_override(sessions, hours.StoredOverride("open", until, "sv01", NOW))
    stored = await hours.latest_override(sessions)
    assert stored is not None
    assert stored.until == until and stored.until.tzinfo is not None
    assert stored.until.utcoffset() == timedelta(0)


async def test_audit_log_keeps_order_and_detail(sessions: Sessions) -> None:
    for n in range(3):
        await audit.record(sessions, audit.AuditEntry(
            NOW + timedelta(seconds=n), "mg01", "manager", "ticket.read", f"ticket:{n}",
            {"fields": ["summary"], "n": n}))
    latest = await audit.entries(sessions, action="ticket.read", limit=2)
    assert [e.target for e in latest] == ["ticket:2", "ticket:1"]
    assert latest[0].detail == {"fields": ["summary"], "n": 2}


async def test_operator_sync_follows_the_config(sessions: Sessions) -> None:
    first = [operators.OperatorRecord("op01", "A", "sip:2201@127.0.0.1", {"isolation": 5}),
             operators.OperatorRecord("op02", "B", "sip:2202@127.0.0.1", {"skysea": 4})]
    assert await operators.sync_operators(sessions, first, NOW) == first
    assert await operators.read_operators(sessions, first) == first
    second = [operators.OperatorRecord("op02", "B2", "sip:2212@127.0.0.1",
                                       {"skysea": 3, "other": 2})]
    await operators.sync_operators(sessions, second, NOW)
    found = await operators.read_operators(sessions, second)
    assert [o for o in found if o.active] == second
    assert [(o.id, o.active) for o in found] == [("op01", False), ("op02", True)]


async def test_the_admins_operators_survive_a_restart_with_the_config(sessions: Sessions) -> None:
    config = [operators.OperatorRecord("op01", "A", "sip:2201@127.0.0.1", {"isolation": 5}),
              operators.OperatorRecord("op02", "B", "sip:2202@127.0.0.1", {"skysea": 4})]
    await operators.sync_operators(sessions, config, NOW)
    await operators.add_operator(sessions, operators.OperatorRecord(
        "op06", "F", "sip:2206@127.0.0.1", {"portal": 4}), NOW)
    before, after = await operators.change_operator(sessions, "op01", NOW, skills={"other": 2})
    assert before.skills == {"isolation": 5} and after.skills == {"other": 2}
    await operators.change_operator(sessions, "op02", NOW, active=False)
    with pytest.raises(operators.DuplicateOperator):
        await operators.add_operator(sessions, operators.OperatorRecord(
            "op01", "X", "sip:2299@127.0.0.1", {}), NOW)
    with pytest.raises(operators.UriTaken):
        await operators.add_operator(sessions, operators.OperatorRecord(
            "op07", "G", "sip:2206@127.0.0.1", {}), NOW)
    with pytest.raises(LookupError):
        await operators.change_operator(sessions, "op99", NOW, name="Z")
    found = await operators.sync_operators(sessions, config, NOW)  # the next start
    assert [(o.id, dict(o.skills), o.active, o.source) for o in found] == [
        ("op01", {"other": 2}, True, "admin"), ("op02", {"skysea": 4}, False, "admin"),
        ("op06", {"portal": 4}, True, "admin")]
    assert await operators.read_operators(sessions, config) == found


async def test_migrations_match_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cti.storage.knowledge import include_object
    from cti.storage.tables import Base

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True,
                                                  "include_object": include_object}),
                Base.metadata))
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        await engine.dispose()


async def test_every_migration_keeps_the_sqlite_search_triggers(tmp_path: Path) -> None:
    """A migration that rebuilds a table on SQLite (batch mode) drops its triggers with it."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            triggers = set((await conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    finally:
        await engine.dispose()
    assert {"ticket_fts_ai", "ticket_fts_ad", "ticket_fts_au", "knowledge_fts_ai", "knowledge_fts_ad",
            "knowledge_fts_au"} <= triggers
