"""Fixtures of the integrity tests."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from cti.logging import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Logging configured as the service configures it (JSON), into a buffer; reset after."""
    saved, out = sys.stdout, io.StringIO()
    sys.stdout = out
    try:
        configure_logging("json", logging.DEBUG)
    finally:
        sys.stdout = saved
    try:
        yield out
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
