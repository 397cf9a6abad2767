"""Reading request input with precise 4xx errors: the one place every route's body passes through.

``json_object`` refuses, before anything reaches the database or a log line: a body that is not
``application/json`` (415), larger than ``MAX_BODY_BYTES``, nested deeper than ``MAX_DEPTH``,
integers outside PostgreSQL's BIGINT, non-finite numbers, and strings (values or keys) holding a NUL
byte or a lone UTF-16 surrogate (neither can be stored as UTF-8 text). Every refusal names the field.
``check_url`` applies the same string rules to path parameters and the query string, and keeps
whole numbers there within 32 bits (our id columns).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, tzinfo
from itertools import accumulate
from typing import Any

from aiohttp import web

from cti.errors import CtiError, InvalidRequest
from cti.keys import SETTINGS

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32  # objects and arrays inside each other; our bodies need 3
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Whole numbers in a path or query string are ids, limits and counts: the database keeps ids as
# 32-bit INTEGER, so a larger one can only be a probe (PostgreSQL would refuse it mid-query).
URL_INT_MAX = 2**31 - 1
_DECIMAL = re.compile(r"[+-]?\d+")
# Query keys that carry ids or counts (free-text keys such as ``q`` or ``text`` may hold digits).
NUMERIC_QUERY_KEYS = frozenset({"id", "limit", "offset", "page", "ticket"})
MAX_NUMBER_CHARS = 40  # a JSON number literal longer than this is refused before int()/float()
# Instants we accept: wide enough for any record, narrow enough that moving between UTC and the
# helpdesk's offset never leaves datetime's year 1..9999.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_JSON_TYPES = ("application/json",)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_OPENING = frozenset(b"[{")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class UnsupportedMediaType(CtiError):
    error_id = "unsupported_media_type"
    status = 415
    fault = "client"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def helpdesk_zone(request: web.Request) -> tzinfo:
    """The zone every timestamp of a response is written in (``cti.clock.wire_time``)."""
    return request.app[SETTINGS].hours.timezone


def reply(data: Any, status: int = 200) -> web.Response:
    """A JSON response with Japanese text as text, not as \\u escapes."""
    return web.json_response(data, status=status, dumps=_dumps)


def _is_json(content_type: str) -> bool:
    return content_type in _JSON_TYPES or (
        content_type.startswith("application/") and content_type.endswith("+json"))


async def json_object(request: web.Request) -> dict[str, Any]:
    if not _is_json(request.content_type):
        raise UnsupportedMediaType(
            "send the body as JSON with Content-Type: application/json",
            got=request.headers.get("Content-Type", "")[:100])
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InvalidRequest(f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest(f"request body larger than {MAX_BODY_BYTES} bytes")
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    return body


def parse_json(raw: bytes) -> Any:
    """JSON text → value, with every bound of this module checked; InvalidRequest otherwise."""
    _check_depth(raw)
    try:
        value = json.loads(raw or b"null", parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from None
    except _IntegerOutOfRange:
        check_value(json.loads(raw), "")  # find the field to name (the number parses as int)
        raise InvalidRequest("a number in the body is outside the 64-bit integer range") from None
    # A NUL or a lone surrogate can only arrive as a \u escape (raw ones are not valid JSON
    # text or UTF-8), so without one there is nothing to look for.
    if b"\\u" in raw:
        check_value(value, "")
    return value


def _check_depth(raw: bytes) -> None:
    """Nesting depth counted on the raw text (strings skipped), so the parser never recurses deep."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = max(accumulate(1 if c in _OPENING else -1 for c in brackets), default=0)
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"body is nested deeper than {MAX_DEPTH} levels", max_depth=MAX_DEPTH)


class _IntegerOutOfRange(Exception):
    pass


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidRequest("a number in the body is too long", max_chars=MAX_NUMBER_CHARS)
    value = int(text)
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        raise _IntegerOutOfRange
    return value


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidRequest("a number in the body is too long", max_chars=MAX_NUMBER_CHARS)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InvalidRequest("a number in the body is out of range")
    return value


def _refuse_constant(text: str) -> Any:
    raise InvalidRequest(f"{text} is not a JSON number")


def check_value(value: Any, path: str) -> None:
    """Integers within BIGINT, text without NUL or lone surrogates, at every depth; names the field."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return
    if isinstance(value, int):
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            raise InvalidRequest(f"field {path or 'body'!r} is outside the 64-bit integer range",
                                 field=path)
    elif isinstance(value, str):
        check_text(value, path or "body")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_value(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{path}.<key>" if path else "<key>")
            check_value(item, f"{path}.{key}" if path else key)


def check_text(text: str, field: str) -> None:
    found = _BAD_CHARACTER.search(text)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "an unpaired surrogate"
        raise InvalidRequest(f"field {field!r} contains {what}", field=field[:100],
                             position=found.start())


def check_url(request: web.Request) -> None:
    """Path parameters and query values obey the same text rules as body strings, and whole
    numbers among them fit the database's INTEGER."""
    for name, value in [*request.match_info.items(), *request.query.items()]:
        check_text(name, "<query key>")
        check_text(value, name)
        numeric = name in request.match_info or name in NUMERIC_QUERY_KEYS
        if numeric and _DECIMAL.fullmatch(value) and (
                len(value) > 12 or abs(int(value)) > URL_INT_MAX):
            raise InvalidRequest(f"{name} is out of range (at most {URL_INT_MAX})", field=name)


def string_field(body: dict[str, Any], name: str, *, max_length: int, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidRequest(f"field {name!r} must be a non-empty string", field=name)
    if len(value) > max_length:
        raise InvalidRequest(f"field {name!r} is longer than {max_length} characters", field=name)
    return value


def parse_instant(value: object, name: str) -> datetime:
    """An ISO 8601 instant with a UTC offset (naive times are ambiguous and refused), 1900..2200."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time", field=name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time", field=name, got=value) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(
            f"{name} needs a UTC offset, e.g. 2026-04-01T09:00:00+09:00", field=name, got=value
        )
    try:
        in_range = EARLIEST <= parsed <= LATEST
    except OverflowError:  # an offset that moves year 1 or 9999 out of datetime's range
        in_range = False
    if not in_range:
        raise InvalidRequest(f"{name} must lie between {EARLIEST.year} and {LATEST.year}",
                             field=name, got=value)
    return parsed
