"""schemathesis against /api/openapi.json with an admin token: no 500 anywhere, and every
response matches the schema and content type the document promises. A bounded run (examples per
operation) on a live service with the in-memory phone network."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cti.app import build_app
from cti.auth import digest, new_secret
from cti.config import Settings
from cti.keys import SESSIONS
from cti.sip.memory import MemoryPhoneNetwork
from cti.storage.users import add_token

EXAMPLES = "12"  # per operation; keeps the run to well under a minute on the CI box


async def test_schemathesis_finds_no_server_error_and_no_schema_break(
        aiohttp_server: Callable[..., Any], make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    if st is None:
        if os.environ.get("CTI_REQUIRE_PEERS") == "1":
            pytest.fail("schemathesis is not installed (test extra)")
        pytest.skip("schemathesis is not installed")
    from cti.storage import create_engine, upgrade

    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'st.db'}",
                             CTI_HOURS_OVERRIDE="open")
    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    server = await aiohttp_server(build_app(settings, control=MemoryPhoneNetwork()),
                                  host="127.0.0.1")
    token = new_secret()
    await add_token(server.app[SESSIONS], "schemathesis", "admin", digest(token), datetime.now(UTC))
    process = await asyncio.create_subprocess_exec(
        st, "run", str(server.make_url("/api/openapi.json")), "-H", f"Authorization: Bearer {token}",
        "-c", "not_a_server_error,response_schema_conformance,content_type_conformance",
        "-n", EXAMPLES, "--generation-deterministic", "--exclude-path", "/api/events",
        "--request-timeout", "10", "--suppress-health-check", "all", "--no-color",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""}, cwd=tmp_path)
    async with asyncio.timeout(240):
        output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
