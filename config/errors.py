"""The one error a configuration problem raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """A missing or wrong configuration value.

    ``key`` is the dotted path of the offending key (``services[2].digit``), ``expected`` says what
    would have been accepted; the message names both so an admin can fix the file without reading code.
    """

    def __init__(self, key: str, expected: str, got: object = None, *, source: str = "") -> None:
        self.key = key
        self.expected = expected
        self.got = got
        self.source = source
        where = f" ({source})" if source else ""
        shown = "" if got is None else f", got {got!r}"
        super().__init__(f"config key {key}{where}: expected {expected}{shown}")
