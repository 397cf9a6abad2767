"""The operators' side of the demo: each operator's console over the HTTP API.

An operator is made available, listens on ``/api/events`` like the browser does, and when a
ticket becomes theirs (``ticket_ready``) types the planned summary and answer (personal data
included: the service must mask it) and resolves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from cti.demo.plan import PlannedCall

log = structlog.get_logger()


@dataclass
class DeskCounts:
    screen_pops: int = 0
    tickets_completed: int = 0
    errors: list[str] = field(default_factory=list)


class OperatorDesk:
    """One operator's console: state, events, ticket completion."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, operator_id: str, token: str,
                 plan_for: Callable[[str], PlannedCall | None], counts: DeskCounts,
                 type_s: float) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self.operator_id = operator_id
        self._auth = {"Authorization": f"Bearer {token}"}
        self._plan_for = plan_for
        self._counts = counts
        self._type_s = type_s
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._work: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._ws = await self._http.ws_connect(f"{self._base}/api/events", headers=self._auth,
                                               heartbeat=20)
        await self.set_state("available")

    async def set_state(self, state: str) -> None:
        async with self._http.put(f"{self._base}/api/operators/{self.operator_id}/state",
                                  json={"state": state, "reason": "demo"}, headers=self._auth) as r:
            if r.status != 200:
                self._counts.errors.append(f"{self.operator_id} state {state}: HTTP {r.status}")

    async def listen(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            if event.get("type") == "screen_pop":
                self._counts.screen_pops += 1
            elif event.get("type") == "ticket_ready":
                task = asyncio.create_task(self._complete(str(event["call_id"]), int(event["ticket_id"])))
                self._work.add(task)
                task.add_done_callback(self._work.discard)

    async def _complete(self, call_id: str, ticket_id: int) -> None:
        plan = self._plan_for(call_id)
        if plan is None:
            return  # a call the demo did not place
        await asyncio.sleep(self._type_s)  # the operator types while talking
        url = f"{self._base}/api/tickets/{ticket_id}"
        async with self._http.get(url, headers=self._auth) as r:
            ticket: dict[str, Any] = await r.json()
        body = {"summary": plan.summary, "answer": plan.answer, "status": "resolved",
                "version": ticket.get("version")}
        if plan.category:
            body["category"] = plan.category
        async with self._http.patch(url, json=body, headers=self._auth) as r:
            if r.status == 200:
                self._counts.tickets_completed += 1
            else:
                self._counts.errors.append(f"ticket {ticket_id}: HTTP {r.status} {await r.text()}")

    async def close(self) -> None:
        if self._work:
            await asyncio.wait(self._work, timeout=10)
        with contextlib.suppress(aiohttp.ClientError, OSError):
            await self.set_state("offline")
        if self._ws is not None:
            await self._ws.close()
