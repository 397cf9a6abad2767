"""Alembic environment: always run with a connection handed in by ``cti.storage.migrate``."""

from __future__ import annotations

from alembic import context

from cti.storage.knowledge import include_object
from cti.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `cti db upgrade`, which passes the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,  # the search objects of migration 0002
)
with context.begin_transaction():
    context.run_migrations()
