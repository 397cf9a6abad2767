"""Slow-loris: 300 connections that never finish their request head are closed after
``http.header_timeout_seconds``, and the service answers a normal request meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from tests_support import free_port

from cti.app import build_app
from cti.web.server import runner_options

SOCKETS = 300
HEADER_TIMEOUT_S = 1.0
BOUND_S = 10.0  # every slow socket must be gone by then


async def slow_header_client(port: int, deadline: float) -> float | None:
    """Send a request head one byte at a time; return when the server closed us (None: never)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while time.monotonic() < deadline:
            try:
                writer.write(b"a")
                await writer.drain()
                data = await asyncio.wait_for(reader.read(1024), 0.25)
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                return time.monotonic() - started
            if not data:  # EOF: the server closed the connection
                return time.monotonic() - started
        return None
    finally:
        writer.close()


async def test_slow_header_sockets_are_freed_and_service_still_answers(
    database_url: str, make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(database_url, CTI_HTTP_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT_S))
    runner = web.AppRunner(build_app(settings), access_log=None, **runner_options(settings))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        deadline = time.monotonic() + BOUND_S
        slow = [asyncio.create_task(slow_header_client(port, deadline)) for _ in range(SOCKETS)]
        await asyncio.sleep(0)  # let them connect before the normal request
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz",
                                timeout=aiohttp.ClientTimeout(total=5)) as response:
                assert response.status == 200
        closed_after = await asyncio.gather(*slow)
    finally:
        await runner.cleanup()
    held = [t for t in closed_after if t is None]
    assert not held, f"{len(held)} of {SOCKETS} slow sockets still open after {BOUND_S} s"
    slowest = max(t for t in closed_after if t is not None)
    print(f"{SOCKETS} slow-header sockets closed by the server after at most {slowest:.2f} s "
          f"(header_timeout_seconds={HEADER_TIMEOUT_S})")
    assert HEADER_TIMEOUT_S * 0.9 <= slowest <= HEADER_TIMEOUT_S + 3.0
