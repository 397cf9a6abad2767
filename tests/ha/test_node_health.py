"""``/healthz`` and ``cti_node_active`` say this node's role. Without a node id (and on SQLite)
the node is alone and always active, as before HA; with one on PostgreSQL it takes the free lease
before it says it started."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cti.app import build_app


@pytest.mark.parametrize("node_id", ["", "n1"])
async def test_healthz_and_the_gauge_say_the_role(
        aiohttp_client: Callable[..., Any], database_url: str,
        make_settings: Callable[..., Any], node_id: str) -> None:
    client = await aiohttp_client(build_app(make_settings(database_url, CTI_HA_NODE_ID=node_id)))
    response = await client.get("/healthz")
    node = (await response.json())["node"]
    paired = bool(node_id) and database_url.startswith("postgresql")
    assert (node["role"], node["paired"], node["epoch"]) == ("active", paired, int(paired))
    assert response.headers["X-CTI-Node"] == node["id"]
    metrics = await (await client.get("/metrics")).text()
    assert f'cti_node_active{{node="{node["id"]}"}} 1.0' in metrics
