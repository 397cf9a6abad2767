"""Reading JSON request bodies with precise 400 errors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from cti.errors import InvalidRequest

MAX_BODY_BYTES = 256 * 1024


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def reply(data: Any, status: int = 200) -> web.Response:
    """A JSON response with Japanese text as text, not as \\u escapes."""
    return web.json_response(data, status=status, dumps=_dumps)


async def json_object(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InvalidRequest(f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest(f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    return body


def string_field(body: dict[str, Any], name: str, *, max_length: int, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidRequest(f"field {name!r} must be a non-empty string", field=name)
    if len(value) > max_length:
        raise InvalidRequest(f"field {name!r} is longer than {max_length} characters", field=name)
    return value


def parse_instant(value: str, name: str) -> datetime:
    """An ISO 8601 instant with a UTC offset (naive times are ambiguous and refused)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time", field=name, got=value) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(
            f"{name} needs a UTC offset, e.g. 2026-04-01T09:00:00+09:00", field=name, got=value
        )
    return parsed
