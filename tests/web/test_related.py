"""/api/tickets/{id}/related: an operator gets only the caller's tickets they may read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from tests_support import bearer

from cti.keys import TICKET_WRITER
from cti.tickets.rules import CallRecordEvent

Client = TestClient  # type: ignore[type-arg]
T0 = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)


async def answered_call(client: Client, n: int, operator: str, caller: str) -> None:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("offered", {"caller_hash": caller, "caller_display": "2345"}),
        ("service_selected", {"service": "skysea"}), ("queued", {"service": "skysea"}),
        ("connected", {"operator_id": operator}), ("ended", {"hung_up_by": "caller"}),
    ]
    writer = client.app[TICKET_WRITER]
    for seq, (kind, data) in enumerate(steps, start=1):
        await writer.record(CallRecordEvent(f"call-{n}", seq, T0 + timedelta(minutes=n, seconds=seq),
                                            kind, data))
    async with asyncio.timeout(20):
        await writer.flush()


async def token_for(client: Client, name: str, role: str) -> dict[str, str]:
    return await bearer(client.app, name, role)


async def test_operator_cannot_read_another_operators_tickets_through_related(
    client: Client, as_role: Callable[[str], Any]
) -> None:
    await answered_call(client, 1, "op02", caller="h-same")   # op02's ticket: private to op02
    await answered_call(client, 2, "op01", caller="h-same")   # op01's earlier ticket
    await answered_call(client, 3, "op01", caller="h-same")   # op01's ticket now
    await answered_call(client, 4, "op01", caller="h-other")
    supervisor = await as_role("supervisor")
    tickets = (await (await client.get("/api/tickets", headers=supervisor)).json())["tickets"]
    by_call = {t["call_id"]: t["id"] for t in tickets}

    op01 = await token_for(client, "op01", "operator")
    response = await client.get(f"/api/tickets/{by_call['call-3']}/related", headers=op01)
    assert response.status == 200
    related = (await response.json())["tickets"]
    assert [t["call_id"] for t in related] == ["call-2"]  # not op02's call-1
    assert all(t["operator"] == "op01" for t in related)

    # The attacker's request: another operator's ticket as the anchor.
    other = await client.get(f"/api/tickets/{by_call['call-1']}/related", headers=op01)
    assert other.status == 403

    everything = await client.get(f"/api/tickets/{by_call['call-3']}/related", headers=supervisor)
    assert {t["call_id"] for t in (await everything.json())["tickets"]} == {"call-1", "call-2"}


def test_an_operator_may_read_the_ticket_of_the_call_at_their_desk() -> None:
    from cti.auth import Principal, Role
    from cti.storage.tickets import TicketView
    from cti.web.tickets import _may_read

    fields = {f: None for f in TicketView.__slots__}
    ringing = TicketView(**{**fields, "call_id": "call-9", "operator_id": "op02"})  # type: ignore[arg-type]
    op01 = Principal("op01", Role.OPERATOR, "session")
    assert not _may_read(op01, ringing, current_call=None)
    assert not _may_read(op01, ringing, current_call="call-8")
    assert _may_read(op01, ringing, current_call="call-9")  # offered to op01 right now
    assert _may_read(Principal("sv01", Role.SUPERVISOR, "session"), ringing, current_call=None)
