"""Bounds on what a call record may carry before it reaches the journal or the database.

Every value that came from the wire (Call-ID, numbers, display names, tags, URIs) is hostile and
unbounded until it passes through here. ``TicketWriter.record`` applies ``bounded()`` to every
record, so the journal can always encode it and the database can always store it:

- The Call-ID keeps its own spelling when it matches the RFC 3261 §25.1 grammar
  (``callid = word [ "@" word ]``, printable ASCII only) and is at most ``CALL_ID_MAX`` characters.
  RFC 3261 sets no length limit (only our 16 KiB datagram bound does), so the column is ``TEXT``;
  the bound is PostgreSQL's, not the protocol's: a B-tree entry holds at most ~2.7 kB, and the
  Call-ID is the primary key. Anything else (NUL, emoji, spaces, 16 KiB) is stored as
  ``x-sha256:<hex>`` of its UTF-8 bytes: stable (the same call always maps to the same key) and
  unique, so replays stay idempotent.
- Every other string has NUL and the other C0/C1 control characters (except tab and newline)
  dropped, lone UTF-16 surrogates (``\\udc80`` from a ``surrogateescape`` decode) replaced by
  U+FFFD and is cut to ``TEXT_MAX`` characters. Emoji and Japanese text are kept as they are.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

CALL_ID_MAX: Final = 1024
TEXT_MAX: Final = 1024
TRUNCATED: Final = "…"
_WORD: Final = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID: Final = re.compile(rf"{_WORD}(?:@{_WORD})?")
_KEPT_CONTROLS: Final = frozenset("\t\n")


def storage_call_id(call_id: str) -> str:
    """The key a call is stored under: its Call-ID when that is sane, else a digest of it."""
    if 0 < len(call_id) <= CALL_ID_MAX and _CALL_ID.fullmatch(call_id):
        return call_id
    raw = call_id.encode("utf-8", "surrogatepass")
    return "x-sha256:" + hashlib.sha256(raw).hexdigest()


def clean_text(value: str, limit: int = TEXT_MAX) -> str:
    """``value`` without control characters or lone surrogates, at most ``limit`` characters."""
    text = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if not text.isprintable():
        text = "".join(c for c in text
                       if c in _KEPT_CONTROLS or unicodedata.category(c) != "Cc")
    if len(text) > limit:
        text = text[: limit - 1] + TRUNCATED
    return text


def clean_value(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, bounded copy of ``value`` (strings cleaned, containers walked, depth ≤ 8)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if depth >= 8:
        return clean_text(repr(value))
    if isinstance(value, Mapping):
        return {clean_text(str(k), 128): clean_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v, depth + 1) for v in value]
    return clean_text(str(value))
