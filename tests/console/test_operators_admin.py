"""Operators added, re-skilled and deactivated by an admin while the service runs: persisted
(both backends), audited, validated, and routing follows at once. Real HTTP, real database, the
in-memory phone network carrying real calls through the whole service."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from console_support import call_to_menu, settle

from cti.app import build_app
from cti.config import Settings
from cti.keys import CALL_CENTER, SESSIONS
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import audit
from cti.storage.operators import OperatorRecord, add_operator, change_operator, read_operators
from tests.tests_support import bearer

Client = TestClient  # type: ignore[type-arg]
OP06_URI = "sip:2206@127.0.0.1:5070"


@pytest.fixture
async def admin(aiohttp_client: Callable[..., Any], database_url: str,
                make_settings: Callable[..., Settings]
                ) -> AsyncIterator[tuple[Client, MemoryPhoneNetwork, dict[str, str]]]:
    network = MemoryPhoneNetwork()
    settings = make_settings(database_url, CTI_HOURS_OVERRIDE="open")
    client: Client = await aiohttp_client(build_app(settings, control=network))
    yield client, network, await bearer(client.app, "root", "admin")


def routed_to(network: MemoryPhoneNetwork, call_id: str) -> str | None:
    return network.call(call_id).operator_uri


async def test_an_added_operator_takes_calls_by_skill_without_a_restart(
        admin: tuple[Client, MemoryPhoneNetwork, dict[str, str]],
        aiohttp_client: Callable[..., Any], database_url: str,
        make_settings: Callable[..., Settings]) -> None:
    client, network, root = admin
    app = client.app
    added = await client.post("/api/operators", headers=root, json={
        "id": "op06", "name": "オペレーター06", "uri": OP06_URI, "skills": {"licenses": 4}})
    assert added.status == 200, await added.text()
    assert await added.json() == {"id": "op06", "name": "オペレーター06", "uri": OP06_URI,
                                  "skills": {"licenses": 4}, "active": True, "source": "admin"}
    op06 = await bearer(app, "op06", "operator")
    network.set_operator(OP06_URI, OperatorBehaviour.RING)
    state = await client.put("/api/operators/op06/state", headers=op06,
                             json={"state": "available"})
    assert state.status == 200, await state.text()

    first = await call_to_menu(app, network)
    network.press(first, "4")  # ライセンス: only op06 is logged in, by the skill just given
    await settle(app, lambda: routed_to(network, first) == OP06_URI)
    network.operator_answers(first)
    busy = await client.patch("/api/operators/op06", headers=root, json={"active": False})
    assert busy.status == 409 and (await busy.json())["message"].startswith("op06 は呼出中・通話中")
    network.caller_hangs_up(first)
    await settle(app, lambda: first not in app[CALL_CENTER].active_calls)

    changed = await client.patch("/api/operators/op06", headers=root,
                                 json={"skills": {"portal": 3}, "name": "  新人06 "})
    assert (await changed.json())["skills"] == {"portal": 3}
    assert (await changed.json())["name"] == "新人06"
    floor = await (await client.get("/api/operators", headers=root)).json()
    assert {"id": "op06", "name": "新人06"}.items() <= next(
        o for o in floor["operators"] if o["id"] == "op06").items()

    wrap_up = await client.patch("/api/operators/op06", headers=root, json={"active": False})
    assert wrap_up.status == 409  # still in wrap-up after the call
    assert (await client.put("/api/operators/op06/state", headers=root,
                             json={"state": "offline"})).status == 200
    leaving = await client.patch("/api/operators/op06", headers=root, json={"active": False})
    assert leaving.status == 200 and (await leaving.json())["active"] is False
    floor = await (await client.get("/api/operators", headers=root)).json()
    assert "op06" not in {o["id"] for o in floor["operators"]}
    refused = await client.put("/api/operators/op06/state", headers=op06,
                               json={"state": "available"})
    assert refused.status == 404
    actions = [(e.action, e.target) for e in await audit.entries(app[SESSIONS], limit=10)
               if e.action.startswith("operator.")]
    assert actions == [("operator.deactivate", "op06"), ("operator.change", "op06"),
                       ("operator.add", "op06")]
    [change] = [e for e in await audit.entries(app[SESSIONS], action="operator.change")]
    assert change.detail == {"before": {"name": "オペレーター06", "skills": {"licenses": 4}},
                             "after": {"name": "新人06", "skills": {"portal": 3}}}

    # The next start, with the same config: the admin's operators are as the admin left them.
    again = await aiohttp_client(build_app(make_settings(database_url, CTI_HOURS_OVERRIDE="open"),
                                           control=MemoryPhoneNetwork()))
    users = await (await again.get("/api/users", headers=root)).json()
    op06_row = next(o for o in users["operators"] if o["id"] == "op06")
    assert op06_row["active"] is False and op06_row["source"] == "admin"
    back = await again.patch("/api/operators/op06", headers=root, json={"active": True})
    assert back.status == 200
    floor = await (await again.get("/api/operators", headers=root)).json()
    assert next(o for o in floor["operators"] if o["id"] == "op06")["skills"] == {"portal": 3}


async def test_a_lost_skill_reaches_the_router_at_once(
        admin: tuple[Client, MemoryPhoneNetwork, dict[str, str]]) -> None:
    client, network, root = admin
    app = client.app
    op04 = await bearer(app, "op04", "operator")  # licenses 5, isolation 2, other 2
    assert (await client.put("/api/operators/op04/state", headers=op04,
                             json={"state": "available"})).status == 200
    changed = await client.patch("/api/operators/op04", headers=root,
                                 json={"skills": {"isolation": 2}})
    assert changed.status == 200
    call_id = await call_to_menu(app, network)
    network.press(call_id, "4")  # ライセンス: nobody logged in has the skill any more
    await settle(app, lambda: network.call(call_id).playing in (
        ("callback_registered",), ("operator_unavailable",)))
    assert routed_to(network, call_id) is None
    stored = {o.id: o for o in await read_operators(app[SESSIONS])}
    assert dict(stored["op04"].skills) == {"isolation": 2} and stored["op04"].source == "admin"


BAD = [
    ({"id": "Op 6", "name": "x", "uri": OP06_URI, "skills": {"portal": 3}}, "id", "オペレーターID"),
    ({"id": "op06", "name": "", "uri": OP06_URI, "skills": {"portal": 3}}, "name", "表示名"),
    ({"id": "op06", "name": "a\u0007b", "uri": OP06_URI, "skills": {"portal": 3}}, "name", "表示名"),
    ({"id": "op06", "name": "x" * 65, "uri": OP06_URI, "skills": {"portal": 3}}, "name", "表示名"),
    ({"id": "op06", "name": "x", "uri": "http://evil", "skills": {"portal": 3}}, "uri", "電話"),
    ({"id": "op06", "name": "x", "uri": OP06_URI, "skills": {}}, "skills", "スキル"),
    ({"id": "op06", "name": "x", "uri": OP06_URI, "skills": {"nowhere": 3}}, "skills", "不明"),
    ({"id": "op06", "name": "x", "uri": OP06_URI, "skills": {"portal": 6}}, "skills", "portal"),
    ({"id": "op06", "name": "x", "uri": OP06_URI, "skills": {"portal": True}}, "skills", "portal"),
    ({"id": "op06", "name": "x", "uri": OP06_URI, "skills": {"portal": 3}, "x": 1}, "x", "不明"),
    ({"id": "op06", "name": "x", "uri": OP06_URI}, "skills", "skills が必要"),
]


async def test_bad_operators_are_refused_in_japanese_first(
        admin: tuple[Client, MemoryPhoneNetwork, dict[str, str]]) -> None:
    client, _, root = admin
    for body, field, starts in BAD:
        response = await client.post("/api/operators", headers=root, json=body)
        error = await response.json()
        assert response.status == 400 and error["details"]["field"] == field, (body, error)
        assert error["message"].startswith(starts), error["message"]
    assert (await client.patch("/api/operators/op01", headers=root,
                               json={"active": "no"})).status == 400
    users = await (await client.get("/api/users", headers=root)).json()
    assert [o["id"] for o in users["operators"]] == ["op01", "op02", "op03", "op04", "op05"]


async def test_taken_ids_and_phones_conflict_and_only_admins_may(
        admin: tuple[Client, MemoryPhoneNetwork, dict[str, str]]) -> None:
    client, _, root = admin
    base = {"name": "x", "skills": {"portal": 3}}
    taken = await client.post("/api/operators", headers=root,
                              json={**base, "id": "op01", "uri": OP06_URI})
    assert taken.status == 409 and (await taken.json())["message"].startswith("オペレーターID op01")
    phone = await client.post("/api/operators", headers=root,
                              json={**base, "id": "op06", "uri": "sip:2201@127.0.0.1:5070"})
    assert phone.status == 409 and "op01" in (await phone.json())["message"]
    assert (await client.patch("/api/operators/op99", headers=root,
                               json={"name": "x"})).status == 404
    assert (await client.patch("/api/operators/op01", headers=root, json={})).status == 400
    supervisor = await bearer(client.app, "sv01", "supervisor")
    assert (await client.post("/api/operators", headers=supervisor,
                              json={**base, "id": "op06", "uri": OP06_URI})).status == 403
    assert (await client.patch("/api/operators/op01", headers=supervisor,
                               json={"name": "x"})).status == 403


def test_cli_binds_and_checks_against_the_merged_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cti.cli import main
    from cti.config import load_settings
    from cti.floor.roster import load_roster
    from cti.storage import create_engine, session_factory, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    for key, value in {"CTI_DATABASE_URL": url, "CTI_SIP_MODE": "off",
                       "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789",
                       "CTI_PASSWORD": "kumo-ringo-hashi-27-cli"}.items():
        monkeypatch.setenv(key, value)
    # main() configures logging for a process; here it would bind every later test's logs
    # to this test's captured (then closed) stdout
    monkeypatch.setattr("cti.cli.configure_logging", lambda *args, **kwargs: None)

    async def prepare() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = session_factory(engine)
        await load_roster(sessions, load_settings(None, dict(os.environ)), datetime.now(UTC))
        await add_operator(sessions, OperatorRecord("op06", "F", OP06_URI, {"portal": 4}),
                           datetime.now(UTC))
        await change_operator(sessions, "op05", datetime.now(UTC), active=False)
        await engine.dispose()

    asyncio.run(prepare())
    assert main(["user", "add", "dave", "--role", "operator", "--operator", "op06"]) == 0
    assert main(["user", "add", "erin", "--role", "operator", "--operator", "op05"]) == 2
    assert "'op05' is not an active operator" in capsys.readouterr().err
    assert main(["config", "check"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warn")]
    assert warnings == [f"warning: operator {o!r} has no console user: cti user add NAME --role "
                        f"operator --operator {o}" for o in ("op01", "op02", "op03", "op04")]
