"""`cti demo` against a started service: real SIP both ways, real HTTP, a real database.

The service runs as `cti serve` (a subprocess, as an admin starts it); the test listens on the
operators' websockets itself, independently of the demo's own consoles, then reads the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp
import pytest
from tests_support import free_port

from cti.config import default_config_path, load_settings
from cti.demo.plan import Behaviour, plan_calls

CTI = [sys.executable, "-m", "cti"]
CALLS = 10


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CTI, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


class Observer:
    """Operators' websockets opened by the test itself: every screen pop the service sends."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens
        self.pops: list[dict[str, object]] = []
        self.connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(f"{self.url}/api/events",
                                             headers={"Authorization": f"Bearer {t}"})
                       for t in self.tokens.values()]
            self.connected.set()
            readers = [asyncio.create_task(self._read(ws)) for ws in sockets]
            await self._stop.wait()
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers, return_exceptions=True)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            event = json.loads(message.data)
            if event.get("type") == "screen_pop":
                self.pops.append(event)

    def __enter__(self) -> Observer:
        self._thread.start()
        assert self.connected.wait(20), "the operators' websockets did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


@pytest.mark.peers
def test_demo_places_calls_that_become_tickets_with_masked_text(tmp_path: Path) -> None:
    phones = free_port(socket.SOCK_DGRAM)
    config = tmp_path / "helpdesk.toml"
    config.write_text(default_config_path().read_text().replace("127.0.0.1:5070", f"127.0.0.1:{phones}"))
    http = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "CTI_CONFIG": str(config), "CTI_HTTP": http,
           "CTI_SIP_LISTEN": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
           "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}",
           "CTI_DATABASE_JOURNAL": str(tmp_path / "journal.jsonl"),
           "CTI_PRIVACY_CALLER_HASH_SECRET": "demo-test-secret-0123456789abcdef0123",
           "CTI_LOG_FORMAT": "json"}
    assert _run(["db", "upgrade"], env).returncode == 0
    settings = load_settings(str(config), env)
    tokens = {}
    for operator in settings.operators:
        made = _run(["token", "create", operator.id, "--role", "operator", "--operator", operator.id],
                    env)
        assert made.returncode == 0, made.stderr
        tokens[operator.id] = made.stdout.strip().splitlines()[-1]

    service = subprocess.Popen([*CTI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert service.stdout is not None
        for line in service.stdout:  # bounded: the service prints service.started or exits
            if "service.started" in line:
                break
        else:
            pytest.fail(f"cti serve did not start: {service.stderr.read() if service.stderr else ''}")
        with Observer(f"http://{http}", tokens) as observer:
            demo = _run(["demo", "--calls", str(CALLS), "--rate", "4/s", "--talk", "2", "--ring", "0.2",
                         "--seed", "7", "--open"], env, timeout=150)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"{CALLS} placed, {CALLS} answered by the helpdesk" in demo.stdout
    finally:
        service.terminate()
        service.communicate(timeout=30)

    plan = plan_calls(CALLS, 4.0, settings.services, 7, 2.0)
    talkers = [p for p in plan if p.behaviour is not Behaviour.HANG_UP_IN_MENU]
    assert observer.pops, "no screen pop reached an operator's websocket"
    assert len(observer.pops) >= len([p for p in plan if p.behaviour is Behaviour.TALK]) // 2

    with sqlite3.connect(tmp_path / "cti.db") as db:
        tickets = db.execute("SELECT outcome, status, summary, answer FROM tickets").fetchall()
    assert len(tickets) == CALLS
    assert all(outcome for outcome, *_ in tickets), tickets
    completed = [t for t in tickets if t[1] == "resolved"]
    assert completed, "the demo's operators completed no ticket"
    assert len(completed) <= len(talkers)
    stored = "\n".join(f"{summary}\n{answer}" for _, _, summary, answer in completed)
    assert not re.search(r"0[0-9]{1,3}-[0-9]{3,4}-[0-9]{4}", stored), stored
    assert "@example.jp" not in stored
    assert "[電話番号]" in stored or "[メール]" in stored
