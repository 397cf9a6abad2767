"""The one error planning code raises for inputs that cannot make sense (the caller's fault)."""

from __future__ import annotations


class PlanningInputError(ValueError):
    """``field`` names the offending input so a web handler or the CLI can report it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
