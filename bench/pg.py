"""The benchmarks' PostgreSQL administration: fresh databases on the server on 127.0.0.1:5432
(``CTI_BENCH_POSTGRES`` names another admin URL)."""

from __future__ import annotations

import os

import asyncpg

PG_ADMIN = os.environ.get("CTI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


async def pg_admin(sql: str, timeout_s: float = 5) -> None:
    """Run one statement (CREATE / DROP DATABASE) as the admin user."""
    conn = await asyncpg.connect(PG_ADMIN, timeout=timeout_s)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
