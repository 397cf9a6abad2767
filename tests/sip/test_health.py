"""/healthz and /metrics tell the truth about the SIP socket (bound, last datagram, errors)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from peers import wait_until
from test_socket import exchange, options, overflow

from cti.app import build_app
from cti.calls.wiring import sip_settings
from cti.config import Settings
from cti.sip.adapter import SipFrontDoor
from cti.sip.audio import PromptLibrary

Client = TestClient  # type: ignore[type-arg]


async def test_healthz_reports_the_sip_socket_and_its_reopening(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], prompt_dir: Any,
    database_url: str,
) -> None:
    settings = make_settings(database_url, CTI_SIP_MODE="direct", CTI_SIP_LISTEN="127.0.0.1:5060")
    door = SipFrontDoor(replace(sip_settings(settings), bind_port=0, prompt_dir=prompt_dir),
                        PromptLibrary(prompt_dir))
    client: Client = await aiohttp_client(build_app(settings, control=door))
    health = await client.get("/healthz")
    body = await health.json()
    assert health.status == 200, body
    assert body["sip"] == "direct" and body["sip_socket"]["bound"] is True
    assert body["sip_socket"]["last_datagram_at"] is None
    host, port = door.local
    via = f"SIP/2.0/UDP {host}:{{me}};branch=z9hG4bK{uuid.uuid4().hex};rport"
    assert await asyncio.to_thread(exchange, port, options(port, via)) is not None
    body = await (await client.get("/healthz")).json()
    assert body["sip_socket"]["last_datagram_at"].endswith("+09:00")

    # the socket dies and its port is taken for a moment: health says so, then recovers
    assert door.transport is not None and door.transport.transport is not None
    door.transport.transport.abort()
    await asyncio.sleep(0)  # one loop pass: the socket is closed, its reopening not yet run
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind((host, port))
    try:
        health = await client.get("/healthz")
        body = await health.json()
        assert health.status == 503 and "sip" in body["failing"], body
        assert body["sip_socket"]["bound"] is False
        metrics = await (await client.get("/metrics")).text()
        assert "cti_sip_socket_bound 0.0" in metrics
    finally:
        squatter.close()
    assert door.reopening is not None
    await asyncio.wait_for(door.reopening, 10)
    health = await client.get("/healthz")
    body = await health.json()
    assert health.status == 200 and body["sip_socket"]["reopened"] == 1, body
    metrics = await (await client.get("/metrics")).text()
    assert "cti_sip_socket_bound 1.0" in metrics and "cti_sip_socket_reopened_total 1.0" in metrics
    assert await asyncio.to_thread(exchange, port, options(port, via)) is not None


async def test_datagrams_the_kernel_dropped_show_in_healthz_and_metrics_across_a_reopen(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], prompt_dir: Any,
    sqlite_template: Path, tmp_path: Path,
) -> None:
    """The overload sign of a UDP service: the kernel dropped SIP datagrams because the receive
    queue was full. Counted on from the old socket's total when the socket is reopened."""
    shutil.copy(sqlite_template, tmp_path / "cti.db")  # the storage is not what is tested
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", CTI_SIP_MODE="direct",
                             CTI_SIP_LISTEN="127.0.0.1:5060")
    door = SipFrontDoor(replace(sip_settings(settings), bind_port=0, prompt_dir=prompt_dir),
                        PromptLibrary(prompt_dir))
    client: Client = await aiohttp_client(build_app(settings, control=door))
    body = await (await client.get("/healthz")).json()
    assert body["sip_socket"]["datagrams_dropped"] == 0
    overflow(door.local[1])  # on the loop's thread: the service cannot read meanwhile
    await wait_until(lambda: door.drops.total > 0)
    first = door.drops.total
    body = await (await client.get("/healthz")).json()
    assert body["sip_socket"]["datagrams_dropped"] == first
    metrics = await (await client.get("/metrics")).text()
    assert f"cti_sip_datagrams_dropped_total {float(first)}" in metrics

    assert door.transport is not None and door.transport.transport is not None
    door.transport.transport.abort()  # the socket dies and is reopened: a new kernel counter
    await wait_until(lambda: door.reopening is not None)
    assert door.reopening is not None
    await asyncio.wait_for(door.reopening, 10)
    overflow(door.local[1])
    await wait_until(lambda: door.drops.total > first)
    metrics = await (await client.get("/metrics")).text()
    assert f"cti_sip_datagrams_dropped_total {float(door.drops.total)}" in metrics
