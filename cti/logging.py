"""Logging is configured here, once. JSON when stdout is not a terminal.

Context (``call_id``, ``ticket_id``, ``operator_id``) is bound with ``structlog.contextvars`` and
appears on every line logged inside that context.

Every line, ours and the libraries' (stdlib logging goes through the same chain), passes
``mask_personal_data`` last before rendering: defence in depth under the redactor and the
caller-id policy, so a phone number or a mail address that slipped into an event value never
reaches the log in the clear. What it masks, and why it leaves the rest alone:

- **Phone numbers**: a run of digits (ASCII or full-width) with at most one separator between
  digits (``-``, ``.``, ``/``, parentheses, Japanese and Unicode dashes; a space only when the
  run starts with ``+``, ``0`` or ``(``), not glued to ASCII letters, digits or ``_`` (so
  ``電話09012345678`` and ``sip:09012345678@host`` are found), holding either
  10 or more digits (every Japanese number with its leading 0: 03-xxxx-xxxx, 090-xxxx-xxxx,
  0120-xxx-xxx; a US number without its +1), or a leading ``+`` and 8 or more digits (E.164).
  All digits but the last two become ``*``, separators stay: ``090-****-**78``.
  Left readable: ticket references (``HD-2026-000123``: digits glued to ``letter-``), 4-digit
  extensions (``1234``), ports (``5060``, ``99999``), byte counts,
  durations, IPv4 addresses, ISO timestamps (``2026-11-24T10:00:00``: glued to the ``T``),
  Call-IDs (hex and letters around digits), hashes. Integers are not touched: a phone number is
  never logged as an int by this code (it has a leading 0 or +).
- **Mail addresses**: ``local@domain.tld`` becomes ``***@domain.tld`` (the domain says which
  vendor, the local part says who). Values under keys that name a Call-ID (``call_id``,
  ``sip_call_id``) keep their ``@``, and so does a local part of 16+ hex digits and hyphens
  (``<uuid>@host``): a Call-ID is ``word@host``, not a person.
- Every string value is also cut to ``VALUE_MAX`` characters and stripped of control characters
  other than newline and tab (a Call-ID with ANSI escapes cannot repaint a terminal).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final, Literal

import structlog

VALUE_MAX: Final = 2000
_DIGIT: Final = "[0-9\uff10-\uff19]"
_SEPARATOR: Final = "[-./()\uff08\uff09\uff0d\u2010-\u2015\u2212\u30fc]"
_SPACE: Final = "[ \u3000]"
_BEFORE: Final = r"(?<![A-Za-z0-9_@.+\uff0b\uff10-\uff19])(?<![A-Za-z]-)"
_AFTER: Final = r"(?![A-Za-z0-9_\uff10-\uff19])"
# Written with spaces ("090 1234 5678", "+1 415 555 0123"): must start with +, 0 or "(".
_SPACED: Final = re.compile(
    rf"{_BEFORE}(?:[+\uff0b(\uff08]|[0\uff10])(?:(?:{_SEPARATOR}|{_SPACE}){{0,3}}{_DIGIT})+{_AFTER}")
_TIGHT: Final = re.compile(
    rf"{_BEFORE}[+\uff0b(\uff08]?{_DIGIT}(?:{_SEPARATOR}?{_DIGIT})*{_AFTER}")
_IPV4: Final = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_MAIL: Final = re.compile(r"(?<![\w.+-])[\w.+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})\b")
_TOKEN: Final = re.compile(r"(?=[^@]*[0-9])[0-9A-Fa-f-]{16,}@")  # uuid@host: a Call-ID
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CALL_ID_KEYS: Final = frozenset({"call_id", "sip_call_id"})
# Written by our own processors (TimeStamper, add_log_level), never from input: not scanned (the
# ISO timestamp of every line was the dearest value to mask, 9.5 us).
_OWN_KEYS: Final = frozenset({"timestamp", "level", "_record", "_from_structlog"})
# Fewer than 8 digits (any script: \d is wider than _DIGIT) cannot hold a number we mask.
_EIGHT_DIGITS: Final = re.compile(r"(?:\D*\d){8}")


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9" or "\uff10" <= char <= "\uff19"


def _mask_number(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(1 for c in text if _is_digit(c))
    international = text[:1] in ("+", "\uff0b")
    if digits < (8 if international else 10) or _IPV4.fullmatch(text):
        return text
    keep = 2
    out = []
    for char in reversed(text):
        if _is_digit(char):
            out.append(char if keep > 0 else "*")
            keep -= 1
        else:
            out.append(char)
    return "".join(reversed(out))


def _mask_mail(match: re.Match[str]) -> str:
    if _TOKEN.match(match.group(0)):
        return match.group(0)
    return f"***@{match.group(1)}"


def mask_text(text: str, *, call_id: bool = False) -> str:
    """``text`` with phone numbers and (unless it is a Call-ID) mail addresses masked."""
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if len(text) > VALUE_MAX:
        text = text[: VALUE_MAX - 1] + "…"
    if not call_id and "@" in text:
        text = _MAIL.sub(_mask_mail, text)
    if not _EIGHT_DIGITS.match(text):
        return text
    return _TIGHT.sub(_mask_number, _SPACED.sub(_mask_number, text))


def _masked(value: Any, key: str = "", depth: int = 0) -> Any:
    if isinstance(value, str):
        return mask_text(value, call_id=key in _CALL_ID_KEYS)
    if depth >= 6 or isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: _masked(v, str(k), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(v, key, depth + 1) for v in value]
    return mask_text(str(value), call_id=key in _CALL_ID_KEYS)


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: phone numbers and mail addresses masked in every value."""
    for key, value in list(event_dict.items()):
        if key in _OWN_KEYS:  # ours (and stdlib ProcessorFormatter's own entries)
            continue
        event_dict[key] = _masked(value, key)
    return event_dict


def configure_logging(fmt: Literal["auto", "json", "console"] = "auto", level: int = logging.INFO) -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json else structlog.dev.ConsoleRenderer()
    )
    # Tracebacks become text before masking, so a number in an exception message is masked too.
    final: list[structlog.typing.Processor] = [structlog.processors.format_exc_info,
                                               mask_personal_data, renderer]
    structlog.configure(
        processors=[*shared, *final],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries that use stdlib logging (aiohttp, alembic, sqlalchemy) go through the same output.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
