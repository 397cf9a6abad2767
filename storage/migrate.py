"""Alembic, driven from code: ``cti db upgrade`` and the start-up schema check."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


class SchemaOutdated(RuntimeError):
    """The database is not at the revision this code expects."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        super().__init__(
            f"database schema is at revision {current or 'none (empty database)'}, "
            f"this version of cti needs {head}: run `cti db upgrade` first"
        )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("cti.storage.migrations")))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def _upgrade(conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def require_current(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at the head revision."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutdated(current, head)
