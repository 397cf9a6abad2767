"""Tables, engine, migrations and the repository functions. Views out, never ORM rows."""

from .engine import create_engine, session_factory
from .migrate import SchemaOutdated, current_revision, head_revision, require_current, upgrade

__all__ = [
    "SchemaOutdated",
    "create_engine",
    "current_revision",
    "head_revision",
    "require_current",
    "session_factory",
    "upgrade",
]
