"""Call-IDs and numbers as real phones send them, over real SIP, into both databases.

An Asterisk/PJSIP-style ``<uuid>@host`` Call-ID (longer than the 36 characters the old column
held), a 255-character Call-ID and a 40-digit From number: every call gets its ticket, nothing is
set aside, and the ticket writer stays healthy (before migration 0003, PostgreSQL refused the
first of these and the writer retried it forever).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cti.app import build_app
from cti.config import Settings
from cti.keys import CALL_CENTER, SESSIONS, TICKET_WRITER
from cti.storage import tickets as store

sys.path.insert(0, str(Path(__file__).parents[1] / "sip"))
from peers import HOST, free_udp_port, render, run_sipp

pytestmark = pytest.mark.peers
FORTY_DIGITS = "1618033988749894848204586834365638117720"
CALL_ID_FORMATS = (  # SIPp -cid_str: %u call number, %p process id
    "5b7f6a1e-2c4d-4e8f-9a0b-%u%p@pbx.example.invalid",
    "%u-%p-" + "k" * 200 + "@" + "h" * 40 + ".example.invalid",
)


async def test_real_call_ids_and_a_forty_digit_number_get_tickets(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    sip_port = free_udp_port()
    settings = make_settings(database_url, CTI_SIP_MODE="direct",
                             CTI_SIP_LISTEN=f"{HOST}:{sip_port}", CTI_SIP_RTP_PORTS="33000-33999",
                             CTI_HOURS_OVERRIDE="open")
    client = await aiohttp_client(build_app(settings))
    scenario = render("uac_basic.xml", tmp_path, codecs="0", pause_ms=600)
    scenario.write_text(scenario.read_text().replace("0355501234", FORTY_DIGITS))
    for n, fmt in enumerate(CALL_ID_FORMATS):
        result = await run_sipp(scenario, sip_port, tmp_path, timeout_s=20,
                                extra=("-cid_str", fmt))
        assert result.returncode == 0, (n, result.errors or result.stdout)
    center, writer = client.app[CALL_CENTER], client.app[TICKET_WRITER]
    async with asyncio.timeout(15):
        await center.wait_for(lambda: not center.active_calls)
        await writer.flush()
    tickets = await store.list_tickets(client.app[SESSIONS], store.TicketFilter())
    call_ids = sorted((t.call_id or "" for t in tickets), key=len)
    assert len(call_ids) == 2 and writer.healthy and writer.rejected_count == 0
    assert call_ids[0].startswith("5b7f6a1e-2c4d-4e8f-9a0b-") and len(call_ids[0]) > 36
    assert call_ids[1].endswith(".example.invalid") and len(call_ids[1]) > 255
    assert all(t.outcome == "abandoned_ivr" for t in tickets)
    _, timeline = await store.get_ticket(client.app[SESSIONS], tickets[0].id)
    assert timeline[0].data["caller_display"] == "*" * 38 + "20"
