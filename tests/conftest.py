"""Shared fixtures: real databases (SQLite and PostgreSQL), settings, an app client, a fixed clock.

PostgreSQL tests use the server on 127.0.0.1:5432 (trust auth; override with
CTI_TEST_POSTGRES_URL). Each test gets a fresh database cloned from a template migrated once per
run. Without a reachable server they skip, unless CTI_REQUIRE_POSTGRES=1 (set by .ci/run), which
turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from escalation_support import MailCatcher
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests_support import FixedClock, free_port

from cti.config import Settings, load_settings
from cti.storage import create_engine, session_factory, upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "CTI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CTI_REQUIRE_POSTGRES") == "1"
RUN_ID = uuid.uuid4().hex[:8]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@dataclass
class PostgresServer:
    """Creates throw-away databases on the real server, cloned from one migrated template."""

    template: str
    created: list[str]

    def new_database(self, *, migrated: bool = True) -> str:
        """For synchronous fixtures; async tests use :meth:`create_database`."""
        return asyncio.run(self.create_database(migrated=migrated))

    async def create_database(self, *, migrated: bool = True) -> str:
        name = f"cti_t_{RUN_ID}_{len(self.created)}"
        self.created.append(name)
        source = f" TEMPLATE {self.template}" if migrated else ""
        await _admin(f"CREATE DATABASE {name}{source}")
        return _with_database(POSTGRES_ADMIN_URL, name)

    async def drop_database(self, url: str) -> None:
        """Drop it under the feet of whoever is connected (a database that vanished)."""
        name = make_url(url).database
        await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = (f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}; run `make db` "
                   "(or set CTI_TEST_POSTGRES_URL)")
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (CTI_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    template = f"cti_tmpl_{RUN_ID}"
    asyncio.run(_admin(f"CREATE DATABASE {template}"))
    server = PostgresServer(template, [])
    try:
        asyncio.run(_migrate(_with_database(POSTGRES_ADMIN_URL, template)))
        yield server
    finally:
        asyncio.run(_drop_all([*server.created, template]))


async def _drop_all(names: list[str]) -> None:
    """Drop the run's databases side by side: one after another, each DROP waits for the
    server's own flush (0.26 s each here: 23 s at the end of the suite; 30 at once: 0.6 s)."""
    limit = asyncio.Semaphore(16)  # well under the server's max_connections

    async def drop(name: str) -> None:
        async with limit:
            await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    await asyncio.gather(*(drop(name) for name in names[:-1]))
    await drop(names[-1])  # the template last: the others were cloned from it


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "cti.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a fresh, migrated database (each backend)."""
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database with no schema, on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database(migrated=False)


@pytest.fixture
def clock() -> FixedClock:
    # A Tuesday, 10:00 in Tokyo: the helpdesk is open.
    return FixedClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(database_url: str | None = None, **env: str) -> Settings:
        environ = {"CTI_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                   "CTI_SIP_MODE": "off",
                   "CTI_DATABASE_JOURNAL": str(tmp_path / "journal.jsonl"),
                   "CTI_PRIVACY_CALLER_HASH_SECRET": "test-secret-0123456789abcdef0123456789",
                   **env}
        return load_settings(None, environ)
    return make


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., object],
    database_url: str,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    from cti.app import build_app

    app = build_app(make_settings(database_url), clock=clock)
    yield await aiohttp_client(app)  # type: ignore[operator]


@pytest.fixture
def as_role(client: TestClient) -> Callable[[str], object]:  # type: ignore[type-arg]
    """``headers = await as_role("supervisor")``: a bearer token of that role, made in the real DB."""
    from cti.auth import digest, new_secret
    from cti.keys import SESSIONS
    from cti.storage.users import add_token

    async def make(role: str) -> dict[str, str]:
        token = new_secret()
        await add_token(client.app[SESSIONS], f"test-{role}", role, digest(token),
                        datetime.now(UTC), operator_id="test-operator" if role == "operator" else None)
        return {"Authorization": f"Bearer {token}"}
    return make


@pytest.fixture
async def mail() -> AsyncIterator[MailCatcher]:
    """A real SMTP server (aiosmtpd) on a free loopback port, for escalations and report mail."""
    catcher = MailCatcher(free_port())
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()
