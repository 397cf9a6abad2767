"""Shared helpers for the console tests: drive a call through the in-memory phone network, and
make tickets (23 answered calls a minute apart; one VPN summary, one vendor escalation)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cti.keys import CALL_CENTER, SESSIONS, TICKET_WRITER
from cti.sip.memory import MemoryPhoneNetwork
from cti.storage import tickets as ticket_store
from cti.storage.tables import EscalationRow
from cti.tickets.rules import CallRecordEvent
from cti.tickets.status import check_transition

T0 = datetime(2027, 4, 5, 0, 30, tzinfo=UTC)  # 09:30 in Sapporo
PASSWORDS = {"alice": "pw-alice-console", "sv01": "pw-sv01-console", "mgr01": "pw-mgr01-console",
             "admin": "pw-admin-console"}  # the console fixture's users (invented)


async def settle(app: Any, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        await app[CALL_CENTER].wait_for(predicate)


async def call_to_menu(app: Any, network: MemoryPhoneNetwork, caller: str = "2345") -> str:
    """Dial, hear the greeting to its end, and wait for the menu; returns the call id."""
    call_id = network.dial(caller=caller)
    await settle(app, lambda: network.call(call_id).playing == ("greeting",))
    network.finish_playback(call_id)
    await settle(app, lambda: (network.call(call_id).playing or ("",))[0].startswith("menu_"))
    return call_id


async def make_tickets(client: Any, count: int) -> list[int]:
    writer = client.app[TICKET_WRITER]
    services = ("isolation", "skysea", "portal")
    for n in range(count):
        service = services[n % 3]
        at = T0 + timedelta(minutes=n)
        steps = [("offered", {"caller_display": "2345"}), ("service_selected", {"service": service}),
                 ("queued", {"service": service}),
                 ("connected", {"operator_id": "op01" if n % 2 else "op02"}),
                 ("ended", {"hung_up_by": "caller"})]
        for seq, (kind, data) in enumerate(steps, start=1):
            await writer.record(CallRecordEvent(f"rec-{n}", seq, at + timedelta(seconds=seq), kind,
                                                data))
    async with asyncio.timeout(30):
        await writer.flush()
    found = await ticket_store.list_tickets(client.app[SESSIONS],
                                            ticket_store.TicketFilter(limit=1000))
    by_call = {t.call_id: t.id for t in found}
    ids = [by_call[f"rec-{n}"] for n in range(count)]
    await ticket_store.update_ticket(client.app[SESSIONS], ids[4], {
        "summary": "=SUM(A1) VPNにつながらない", "category": "ネットワーク・接続"}, T0,
        check_status=check_transition)
    async with client.app[SESSIONS]() as session:
        session.add(EscalationRow(reference="ESC-T-1", ticket_id=ids[7], target="vendor",
                                  contact_name="保守窓口", contact_email="desk@vendor.invalid",
                                  token_hash="0" * 64, status="sent", message="m", created_at=T0))
        await session.commit()
    return ids
