"""No caller's number, in any spelling, leaves the service in the clear.

Calls from several number formats go through the whole service (in-memory phone network, real
database on both backends, real journal, real HTTP and websocket, real SMTP server); then every
output is searched: the log lines, the journal and its side files, a dump of every table, the
metrics text, the websocket messages, the escalation mail, the monthly report in every format and
the ticket API. A number counts as leaked when 8 of its digits (not the last two, which the
masked display keeps) appear in a row, full-width folded, separators ignored.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import text

from cti.app import build_app
from cti.auth import digest, new_secret
from cti.config import Settings
from cti.escalation.wiring import escalation_context
from cti.keys import CALL_CENTER, ENGINE, SESSIONS, TICKET_WRITER
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage.tables import Base
from cti.storage.users import add_token

sys.path.insert(0, str(Path(__file__).parents[1] / "escalation"))
from escalation_support import MailCatcher

Client = TestClient  # type: ignore[type-arg]
NUMBERS = {  # invented numbers, each spelled the way some network sends it
    "mobile": "09031415926",
    "e164_jp": "+81-90-2718-2818",
    "us": "+14157730161",
    "full_width": "０８０６６２６０７１７",
    "forty_digits": "1618033988749894848204586834365638117720",
    "sip_uri": "sip:+81-3-5772-1566@carrier.example.invalid",
}
_SEPARATORS = re.compile(r"(?<=\d)[-\s().ー]+(?=\d)")


def cores(number: str) -> set[str]:
    digits = "".join(c for c in unicodedata.normalize("NFKC", number) if c.isdigit())
    bodies = {digits[:-2]}
    if digits.startswith("81"):  # +81 90 ... is also written 090 ...
        bodies.add("0" + digits[2:-2])
    return {body[i:i + 8] for body in bodies for i in range(0, len(body) - 7)}


def leaks(output: str) -> set[str]:
    folded = _SEPARATORS.sub("", unicodedata.normalize("NFKC", output))
    return {name for name, number in NUMBERS.items()
            if any(core in folded for core in cores(number))}


def test_the_search_finds_every_spelling() -> None:
    """The check above could fail: each number, and its other spellings, is found."""
    assert leaks(" / ".join(NUMBERS.values())) == set(NUMBERS)
    assert leaks("tel:090-3141-5926") == leaks("０９０ ３１４１ ５９２６") == {"mobile"}
    assert leaks("+81 80 6626 0717") == {"full_width"}
    assert leaks("090-****-**26 1234 5060 HD-2026-000001") == set()


async def settle(client: Client, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        await client.app[CALL_CENTER].wait_for(predicate)


async def to_menu(client: Client, network: MemoryPhoneNetwork, caller: str) -> str:
    call_id = network.dial(caller=caller)
    await settle(client, lambda: network.call(call_id).playing == ("greeting",))
    network.finish_playback(call_id)
    await settle(client, lambda: (network.call(call_id).playing or ("",))[0].startswith("menu_"))
    return call_id


async def test_no_output_carries_a_callers_number(
    aiohttp_client: Callable[..., Any], database_url: str, make_settings: Callable[..., Settings],
    tmp_path: Path, json_logs: io.StringIO, mail: MailCatcher,
) -> None:
    network = MemoryPhoneNetwork()
    settings = make_settings(database_url, CTI_HOURS_OVERRIDE="open", CTI_SMTP_HOST="127.0.0.1",
                             CTI_SMTP_PORT=str(mail.port))
    client: Client = await aiohttp_client(build_app(settings, control=network, escalation=(
        escalation_context(reply_base_url="https://cti.example.invalid", overdue_check_s=3600.0))))
    secret = new_secret()
    await add_token(client.app[SESSIONS], "op01", "operator", digest(secret), datetime.now(UTC),
                    operator_id="op01")
    operator = {"Authorization": f"Bearer {secret}"}
    supervisor_secret = new_secret()
    await add_token(client.app[SESSIONS], "sv01", "supervisor", digest(supervisor_secret),
                    datetime.now(UTC))
    supervisor = {"Authorization": f"Bearer {supervisor_secret}"}
    op_ws = await client.ws_connect("/api/events", headers=operator)
    floor_ws = await client.ws_connect("/api/events", headers=supervisor)
    network.set_operator("sip:2201@127.0.0.1:5070", OperatorBehaviour.RING)
    assert (await client.put("/api/operators/op01/state", json={"state": "available"},
                             headers=operator)).status == 200

    answered = await to_menu(client, network, NUMBERS["mobile"])
    network.press(answered, "1")  # isolation: op01 rings, gets the screen pop, answers
    await settle(client, lambda: network.call(answered).operator_uri is not None)
    network.operator_answers(answered)
    await settle(client, lambda: network.call(answered).state.name == "BRIDGED")
    network.caller_hangs_up(answered)
    for name, number in NUMBERS.items():
        if name == "mobile":
            continue
        call_id = await to_menu(client, network, number)
        network.press(call_id, "3")  # nobody with the portal skill: callback offered, let go
        await settle(client, lambda c=call_id: network.call(c).playing is not None
                     and network.call(c).playing[0] in ("callback_registered",
                                                        "operator_unavailable"))
        network.finish_playback(call_id)
    await settle(client, lambda: not client.app[CALL_CENTER].active_calls)
    async with asyncio.timeout(10):
        await client.app[TICKET_WRITER].flush()

    tickets = (await (await client.get("/api/tickets", headers=supervisor)).json())["tickets"]
    assert len(tickets) == len(NUMBERS)
    first = next(t for t in tickets if t["call_id"] == answered)
    escalated = await client.post(f"/api/tickets/{first['id']}/escalations", headers=operator,
                                  json={"target": "vendor", "note": "折り返し連絡をお願いします"})
    assert escalated.status == 201, await escalated.text()
    [message] = await mail.wait_for(1)

    outputs: dict[str, str] = {"logs": json_logs.getvalue(), "mail": message.as_string()}
    messages: list[Any] = []
    for ws in (op_ws, floor_ws):
        while True:
            try:
                messages.append(await ws.receive_json(timeout=0.2))
            except TimeoutError:
                break
        await ws.close()
    assert any(m.get("type") == "screen_pop" for m in messages)
    outputs["websocket"] = json.dumps(messages, ensure_ascii=False)
    outputs["metrics"] = await (await client.get("/metrics")).text()
    for fmt in ("json", "csv", "text"):
        report = await client.get(f"/api/reports/monthly?month=2026-11&format={fmt}",
                                  headers=supervisor)
        assert report.status == 200
        outputs[f"report_{fmt}"] = await report.text()
    outputs["api"] = json.dumps([await (await client.get(f"/api/tickets/{t['id']}",
                                                          headers=supervisor)).json()
                                 for t in tickets], ensure_ascii=False)
    dump = []
    async with client.app[ENGINE].connect() as conn:
        for table in Base.metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in await conn.execute(text(f"SELECT * FROM {table}"))]
    outputs["database"] = "\n".join(dump)
    journal = Path(settings.database.journal)
    for path in journal.parent.glob(journal.name + "*"):
        outputs[path.name] = path.read_text(encoding="utf-8", errors="replace")

    assert {name: leaks(value) for name, value in outputs.items() if leaks(value)} == {}
    assert "090-****-**26" in outputs["database"]  # the masked display is what is kept
    assert len(outputs["logs"].splitlines()) > 20  # the calls were logged, masked
