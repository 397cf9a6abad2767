"""Caller-id privacy: a keyed hash for "same caller" history and a masked display.

The caller's number itself is never stored.  `CallerIdPolicy.hash` gives the
same value for every spelling of one number (``sip:+81-90-5555-0123@pbx``,
``tel:090-5555-0123``, ``０９０５５５５０１２３``) and cannot be reversed
without the secret.  `CallerIdPolicy.display` shows the city's own
extensions as they are and masks everything else.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import ClassVar, Final

from cti.privacy.redaction import fold_width

__all__ = ["ANONYMOUS_DISPLAY", "CallerIdPolicy", "NotAPhoneNumber", "normalise_number"]

#: Shown when the caller withheld the number or sent no digits at all.
ANONYMOUS_DISPLAY: Final = "非通知"
_MIN_SECRET_BYTES: Final = 16
_SCHEME: Final = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)
_ANGLE_URI: Final = re.compile(r"<([^<>]*)>")
_TRUNK_ZERO: Final = re.compile(r"^\+81[ \-]?\(0\)")
_KEPT: Final = frozenset("0123456789*#")
# Leading group lengths of Japanese numbers, checked in order.
_GROUPING: Final = (
    (("0120", "0570", "0990", "0180"), 10, (4, 3, 3)),
    (("0800",), 11, (4, 3, 4)),
    (("020", "050", "060", "070", "080", "090"), 11, (3, 4, 4)),
    (("03", "06"), 10, (2, 4, 4)),
    (("0",), 10, (3, 3, 4)),
)


class NotAPhoneNumber(ValueError):
    """The caller id holds no digits (withheld, anonymous or a bare SIP name)."""

    error_id: ClassVar[str] = "not_a_phone_number"


def normalise_number(number: str) -> str:
    """One spelling per phone: digits (and * #), Japanese numbers with a leading 0.

    Accepts a bare number, a ``sip:``/``tel:`` URI or a whole From header
    value (``"Name" <sip:...>;tag=...``); strips the URI parts, folds
    full-width characters, drops punctuation and turns ``+81`` (or ``0081``)
    into the trunk prefix ``0``.  Other international numbers keep their
    leading ``+``.  Returns ``""`` when there are no digits at all.
    """
    text = fold_width(number).strip()
    if uri := _ANGLE_URI.search(text):  # a whole header value: "Name" <sip:...>;tag=...
        text = uri.group(1).strip()
    text = _SCHEME.sub("", text)
    text = text.split("@", 1)[0].split(";", 1)[0]
    text = _TRUNK_ZERO.sub("+81", text)
    kept = "".join(c for c in text if c in _KEPT)
    if text.startswith("+"):
        kept = "+" + kept
    if not any(c.isdigit() for c in kept):
        return ""
    for country in ("+81", "0081"):
        if kept.startswith(country):
            rest = kept[len(country) :]
            return rest if rest.startswith("0") else "0" + rest
    return kept


class CallerIdPolicy:
    """Hashes and masks caller numbers; built once from configuration."""

    __slots__ = ("_internal_extensions", "_secret")

    def __init__(self, secret: bytes, internal_extensions: tuple[range, ...]) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"the caller-id secret needs at least {_MIN_SECRET_BYTES} bytes")
        if not all(isinstance(r, range) for r in internal_extensions):
            raise TypeError("internal_extensions must be a tuple of range objects")
        self._secret = bytes(secret)
        self._internal_extensions = tuple(internal_extensions)

    def __repr__(self) -> str:  # never show the secret
        return f"CallerIdPolicy(internal_extensions={self._internal_extensions!r})"

    def hash(self, number: str) -> str:
        """HMAC-SHA256 (hex) of the normalised number.

        Raises `NotAPhoneNumber` for a caller id without digits, so that all
        anonymous callers are never grouped as one "same caller".
        """
        normalised = normalise_number(number)
        if not normalised:
            raise NotAPhoneNumber("the caller id holds no digits")
        return hmac.new(self._secret, normalised.encode("ascii"), hashlib.sha256).hexdigest()

    def hash_or_none(self, number: str) -> str | None:
        """`hash`, or None for a withheld number (nothing to link tickets by)."""
        try:
            return self.hash(number)
        except NotAPhoneNumber:
            return None

    def is_internal(self, number: str) -> bool:
        """Whether the number is one of the city's own extensions."""
        normalised = normalise_number(number)
        return (
            normalised.isdigit()
            and not normalised.startswith("0")
            and any(int(normalised) in r for r in self._internal_extensions)
        )

    def display(self, number: str) -> str:
        """Extension as is; anything else masked, e.g. ``090-****-**78``."""
        normalised = normalise_number(number)
        if not normalised:
            return ANONYMOUS_DISPLAY
        if self.is_internal(normalised):
            return normalised
        if normalised.startswith("+"):
            return "+" + _mask_tail(normalised[1:])
        for prefixes, length, groups in _GROUPING:
            if len(normalised) == length and normalised.startswith(prefixes):
                head = normalised[: groups[0]]
                tail = _mask_tail(normalised[groups[0] :])
                parts = [head]
                at = 0
                for size in groups[1:]:
                    parts.append(tail[at : at + size])
                    at += size
                return "-".join(parts)
        return _mask_tail(normalised)


def _mask_tail(digits: str) -> str:
    """Everything but the last two characters masked; short numbers fully masked."""
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]
