"""Fixtures for knowledge tests: repositories on both databases, resolved tickets, an app client.

``client`` is overridden here so that the app serves ``cti.web.knowledge.routes`` even before
``cti.app`` registers them (it adds them only when missing); ``as_role`` from the top-level
conftest then works on this client.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cti.config import Settings

DATA = Path(__file__).parent.parent / "data" / "knowledge_questions.json"
sys.path.insert(0, str(Path(__file__).parent))  # for `import knowledge_support`


@pytest.fixture(scope="session")
def labelled() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Any],
    database_url: str,
    make_settings: Callable[..., Settings],
    clock: Any,
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg,unused-ignore]
    from cti.app import build_app
    from cti.web import knowledge

    app = build_app(make_settings(database_url), clock=clock)
    if not any(getattr(r, "canonical", "") == "/api/knowledge" for r in app.router.resources()):
        app.add_routes(knowledge.routes)
    yield await aiohttp_client(app)
