"""Small helpers shared by test modules (importable because tests/ is on sys.path via conftest)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FixedClock:
    """A clock tests move by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


DEADLINE_S = 25.0


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float = DEADLINE_S,
    detail: Callable[[], object] = lambda: "",
) -> None:
    """Poll ``check`` until it holds; fail with ``what`` (and ``detail()``) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}: {detail()}")
        # Polling interval for an external process, not synchronisation by sleeping.
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


@dataclass
class Prometheus:
    url: str

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except urllib.error.HTTPError as error:  # 400 for a parse error: return its body
            return dict(json.load(error))

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def series(self, expr: str) -> list[dict[str, Any]]:
        answer = self.query(expr)
        return list(answer["data"]["result"]) if answer.get("status") == "success" else []

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False


@contextlib.contextmanager
def running_prometheus(target: str, workdir: Path) -> Iterator[Prometheus]:
    """A real Prometheus (Debian `prometheus`) on a free loopback port scraping ``target``
    every second with our rules loaded; stopped on exit."""
    binary = shutil.which("prometheus")
    if binary is None:
        message = "prometheus not installed (Debian package `prometheus`)"
        if os.environ.get("CI") or os.environ.get("CTI_REQUIRE_PEERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from cti.metrics.rules import default_rules_path

    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {json.dumps(str(default_rules_path()))}\n"
        "scrape_configs:\n  - job_name: cti\n    static_configs:\n"
        f"      - targets: ['{target}']\n",
        encoding="utf-8",
    )
    port = free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        server = Prometheus(f"http://127.0.0.1:{port}")
        try:
            wait_for("Prometheus to be ready", lambda: process.poll() is None and server.ready())
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def bearer(app: Any, name: str, role: str) -> dict[str, str]:
    """Headers with a real bearer token made in the app's database; an operator's token acts as
    the configured operator of the same name."""
    from datetime import UTC

    from cti.auth import digest, new_secret
    from cti.keys import SESSIONS
    from cti.storage.users import add_token

    secret = new_secret()
    await add_token(app[SESSIONS], name, role, digest(secret), datetime.now(UTC),
                    operator_id=name if role == "operator" else None)
    return {"Authorization": f"Bearer {secret}"}


async def direct_service(aiohttp_client: Callable[..., Any], tmp_path: Path,
                         operators: dict[str, str], rtp_ports: str = "31000-31999"
                         ) -> tuple[Any, int]:
    """`cti` in direct SIP mode on a free loopback port with its default config (SQLite, hours
    forced open), `operators` (id -> phone URI) re-pointed at test phones and made available
    through the API. Returns the test client and the SIP port."""
    from cti.app import build_app
    from cti.config import default_config_path, load_settings
    from cti.storage import create_engine, upgrade

    text = default_config_path().read_text(encoding="utf-8")
    for operator_id, uri in operators.items():
        text = text.replace(f'uri = "sip:22{operator_id[-2:]}@127.0.0.1:5070"', f'uri = "{uri}"')
    config = tmp_path / "helpdesk.toml"
    config.write_text(text, encoding="utf-8")
    sip_port = free_port(socket.SOCK_DGRAM)
    settings = load_settings(config, {
        "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}",
        "CTI_DATABASE_JOURNAL": str(tmp_path / "journal.jsonl"),
        "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789",
        "CTI_SIP_MODE": "direct", "CTI_SIP_LISTEN": f"127.0.0.1:{sip_port}",
        "CTI_SIP_RTP_PORTS": rtp_ports, "CTI_HOURS_OVERRIDE": "open",
    })
    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    client = await aiohttp_client(build_app(settings))
    for operator_id in operators:
        headers = await bearer(client.app, operator_id, "operator")
        ready = await client.put(f"/api/operators/{operator_id}/state",
                                 json={"state": "available"}, headers=headers)
        assert ready.status == 200, await ready.text()
    return client, sip_port
