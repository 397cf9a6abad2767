"""Console tests: a running service with the in-memory phone network, users, and Chromium.
Helpers live in console_support.py and browser_support.py (importable by their names)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `import console_support`

from browser_support import launch
from console_support import PASSWORDS

from cti.app import build_app
from cti.auth import hash_password
from cti.config import Settings
from cti.keys import SESSIONS
from cti.sip.memory import MemoryPhoneNetwork
from cti.storage import knowledge
from cti.storage.users import add_user


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async for found in launch():
        yield found


@pytest.fixture
async def console(aiohttp_server: Callable[..., Any], make_settings: Callable[..., Settings],
                  tmp_path: Path) -> AsyncIterator[tuple[Any, MemoryPhoneNetwork]]:
    """The service on a real port (SQLite), alice bound to op02, a supervisor, a manager."""
    from cti.storage import create_engine, upgrade

    network = MemoryPhoneNetwork()
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
                             CTI_HOURS_OVERRIDE="open")
    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    server = await aiohttp_server(build_app(settings, control=network), host="127.0.0.1")
    now = datetime.now(UTC)
    sessions = server.app[SESSIONS]
    await add_user(sessions, "alice", "operator", hash_password(PASSWORDS["alice"]), now,
                   operator_id="op02")
    await add_user(sessions, "sv01", "supervisor", hash_password(PASSWORDS["sv01"]), now)
    await add_user(sessions, "mgr01", "manager", hash_password(PASSWORDS["mgr01"]), now)
    await add_user(sessions, "admin", "admin", hash_password(PASSWORDS["admin"]), now)
    await knowledge.create_article(sessions, "skysea", knowledge.ArticleText(
        title="USBメモリが使えない", question="USBメモリを挿しても使えない",
        answer="SKYSEAでUSB一時利用申請を出してもらう"), "sv01", now)
    yield server, network
