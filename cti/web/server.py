"""How the HTTP server runs: the bounds a connection lives within.

aiohttp arms its keep-alive timer when a connection opens and closes a connection that has no
complete request head when the timer fires; the same timer closes an idle keep-alive connection.
``keepalive_timeout = http.header_timeout_seconds`` therefore bounds a slow-header (slow-loris)
connection to that many seconds, and an idle one too. A request in progress (a long websocket,
a slow handler) is not cut: the timer only closes a connection that is waiting for a request.
"""

from __future__ import annotations

from typing import Any

from cti.config import Settings


def runner_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner`` (and so for each connection's request handler)."""
    return {
        "keepalive_timeout": settings.http.header_timeout_seconds,
        "max_line_size": 8190,
        "max_field_size": 8190,
        "max_headers": 64,
    }
