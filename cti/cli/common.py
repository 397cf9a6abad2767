"""What every command shares: refusals with an exit code, a current database, argument helpers."""

from __future__ import annotations

import argparse
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cti.config import Settings
from cti.storage import SchemaOutdated, create_engine, require_current, session_factory
from cti.storage.users import Sessions

EXIT_CONFIG = 2
EXIT_FAILED = 1

# ``parser.add_subparsers()`` result; argparse does not export its type.
SubParsers = Any

T = TypeVar("T")


class Refused(Exception):
    """A command could not do its work; the message is for the admin, the code for the shell."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", help="TOML file (default: $CTI_CONFIG or the shipped helpdesk.toml)")
    return parser


async def with_sessions(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run ``work`` against a current database, turning the usual failures into ``Refused``."""
    engine = create_engine(settings.database.url)
    try:
        await require_current(engine)
        return await work(session_factory(engine))
    except SchemaOutdated as exc:
        raise Refused(str(exc)) from None
    except OSError as exc:
        raise Refused(f"cannot reach the database: {exc}") from None
    finally:
        await engine.dispose()


def month(text: str) -> tuple[int, int]:
    match = re.match(r"^(\d{4})-(0[1-9]|1[0-2])$", text)
    if not match:
        raise Refused(f"--month must be YYYY-MM, got {text!r}", EXIT_CONFIG)
    return int(match.group(1)), int(match.group(2))
