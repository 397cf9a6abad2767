"""The effective settings as plain JSON-able data, secrets masked (for ``cti config check``)."""

from __future__ import annotations

import dataclasses
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from .settings import SECRET_KEYS, Settings

MASK = "********"


def describe(settings: Settings) -> dict[str, Any]:
    result = _plain(settings)
    assert isinstance(result, dict)
    return result


def _plain(value: Any, key: str = "") -> Any:
    if key in SECRET_KEYS:
        return MASK if value else ""
    if key == "url" and isinstance(value, str) and "@" in value and ":" in value.split("@")[0]:
        scheme, rest = value.split("://", 1)
        user = rest.split("@")[0].split(":")[0]
        return f"{scheme}://{user}:{MASK}@{rest.split('@', 1)[1]}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, range):
        return f"{value.start}-{value.stop - 1}"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, ZoneInfo):
        return str(value)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
