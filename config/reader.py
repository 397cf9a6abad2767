"""Typed, path-aware reading of a parsed TOML document.

Every accessor knows the dotted key it reads, so every failure is a :class:`ConfigError` that names
the key and what was expected. Keys nobody asked for are reported by :meth:`Table.finish`, which is
how a misspelt key fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any, Final

from .errors import ConfigError


class FromEnv(str):
    """A value that came from a ``CTI_*`` environment variable (always text, converted on read)."""

    __slots__ = ()


_MISSING: Final = object()
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>\d{1,5})$")


class Table:
    """One TOML table with the dotted path that leads to it."""

    def __init__(self, data: Mapping[str, Any], path: str, source: str) -> None:
        self._data = data
        self._path = path
        self._source = source
        self._seen: set[str] = set()

    @property
    def source(self) -> str:
        return self._source

    def mapping_keys(self) -> list[str]:
        """The keys of this table, for tables whose keys are data (operator skills)."""
        return list(self._data)

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def error(self, name: str, expected: str, got: object = None) -> ConfigError:
        return ConfigError(self.key(name), expected, got, source=self._source)

    def has(self, name: str) -> bool:
        return name in self._data

    def _get(self, name: str, default: object) -> object:
        self._seen.add(name)
        if name in self._data:
            return self._data[name]
        if default is _MISSING:
            raise self.error(name, "a value (the key is required)")
        return default

    def text(self, name: str, default: object = _MISSING, *, allow_empty: bool = True) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise self.error(name, "a string", value)
        if not allow_empty and not value.strip():
            raise self.error(name, "a non-empty string", value)
        return value

    def integer(
        self, name: str, default: object = _MISSING, *, min: int | None = None, max: int | None = None
    ) -> int:
        value = self._get(name, default)
        if isinstance(value, FromEnv):
            try:
                value = int(value)
            except ValueError:
                raise self.error(name, "an integer", str(value)) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, "an integer", value)
        _check_range(self, name, value, min, max)
        return value

    def number(
        self,
        name: str,
        default: object = _MISSING,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float:
        value = self._get(name, default)
        if isinstance(value, FromEnv):
            try:
                value = float(value)
            except ValueError:
                raise self.error(name, "a number", str(value)) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, "a number", value)
        _check_range(self, name, value, min, max)
        return float(value)

    def flag(self, name: str, default: object = _MISSING) -> bool:
        value = self._get(name, default)
        if isinstance(value, FromEnv):
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise self.error(name, "true or false", str(value))
        if not isinstance(value, bool):
            raise self.error(name, "true or false", value)
        return value

    def choice(self, name: str, choices: Iterable[str], default: object = _MISSING) -> str:
        options = tuple(choices)
        value = self.text(name, default)
        if value not in options:
            raise self.error(name, "one of " + ", ".join(repr(c) for c in options), value)
        return value

    def str_list(self, name: str, default: object = _MISSING) -> tuple[str, ...]:
        value = self._get(name, default)
        if isinstance(value, FromEnv):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "a list of strings", value)
        return tuple(value)

    def int_list(self, name: str, default: object = _MISSING) -> tuple[int, ...]:
        value = self._get(name, default)
        if isinstance(value, FromEnv):
            try:
                return tuple(int(part) for part in value.split(","))
            except ValueError:
                raise self.error(name, "a comma-separated list of integers", str(value)) from None
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self.error(name, "a list of integers", value)
        return tuple(value)

    def clock(self, name: str, default: object = _MISSING) -> time:
        value = self.text(name, default)
        match = _HHMM.match(value)
        if not match:
            raise self.error(name, 'a time of day as "HH:MM"', value)
        return time(int(match.group(1)), int(match.group(2)))

    def host_port(self, name: str, default: object = _MISSING) -> tuple[str, int]:
        value = self.text(name, default)
        return parse_host_port(value, lambda: self.error(name, '"HOST:PORT" with a port 1-65535', value))

    def table(self, name: str, *, required: bool = False) -> Table:
        value = self._get(name, _MISSING if required else {})
        if not isinstance(value, Mapping):
            raise self.error(name, "a table", value)
        return Table(value, self.key(name), self._source)

    def tables(self, name: str) -> list[Table]:
        value = self._get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.error(name, f"an array of tables ([[{self.key(name)}]])", value)
        return [Table(v, f"{self.key(name)}[{i}]", self._source) for i, v in enumerate(value)]

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._get(name, {})
        if not isinstance(value, Mapping):
            raise self.error(name, "a table", value)
        return dict(value)

    def finish(self) -> None:
        """Fail on keys that nothing read: a misspelt key must not pass unnoticed."""
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise ConfigError(
                self.key(unknown[0]), f"a known key (this table takes: {known})", source=self._source
            )


def _check_range(
    table: Table, name: str, value: float, low: float | None, high: float | None
) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f">= {low}" if low is not None else f"<= {high}"
        )
        raise table.error(name, f"a number {bounds}", value)


def parse_host_port(value: str, error: Any) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` -> ``("127.0.0.1", 8080)``; calls ``error()`` for the exception to raise."""
    match = _HOST_PORT.match(value.strip())
    if not match or not 0 < int(match.group("port")) < 65536:
        raise error()
    return match.group("host").strip("[]"), int(match.group("port"))
