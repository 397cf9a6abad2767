"""``/healthz`` and ``cti_node_active`` say this node's role, on both backends: SQLite is one node,
always active; on PostgreSQL the first node takes the free lease before it says it started."""

from __future__ import annotations

from typing import Any


async def test_healthz_and_the_gauge_say_the_role(client: Any, database_url: str) -> None:
    health = await (await client.get("/healthz")).json()
    node = health["node"]
    assert node["role"] == "active"
    assert node["paired"] is database_url.startswith("postgresql")
    assert node["epoch"] == (1 if node["paired"] else 0)
    metrics = await (await client.get("/metrics")).text()
    assert f'cti_node_active{{node="{node["id"]}"}} 1.0' in metrics
