"""Findings, placeholders, width folding and the My Number check digit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

#: Stable kind ids and the placeholder each is replaced with.
PLACEHOLDERS: Final = MappingProxyType(
    {
        "email": "[メール]",
        "card": "[カード番号]",
        "my_number": "[個人番号]",
        "phone": "[電話番号]",
        "bank_account": "[口座番号]",
        "staff_number": "[職員番号]",
        "birth_date": "[生年月日]",
        "password": "[パスワード]",
        "postal_code": "[郵便番号]",
        "address": "[住所]",
        "person_name": "[氏名]",
    }
)
# When two findings overlap, the kind listed first wins.
_PRIORITY: Final = {kind: rank for rank, kind in enumerate(PLACEHOLDERS)}
#: Kinds an operator may never keep unmasked: no context makes them anything but personal data.
NEVER_KEPT: Final = frozenset({"email", "phone", "my_number", "card"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal information; offsets index the original text."""

    kind: str
    start: int
    end: int

    @property
    def keepable(self) -> bool:
        """Whether an operator may keep this finding unmasked (an audited choice)."""
        return self.kind not in NEVER_KEPT


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed from the original."""

    text: str
    found: tuple[Finding, ...]


# --- folding -----------------------------------------------------------------

_FOLD_TABLE: Final = {
    **{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},  # full-width ASCII
    "\u3000": " ",  # ideographic space
    **{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63"},
}
_FOLDABLE: Final = re.compile("[\uff01-\uff5e\u3000\u2010-\u2014\u2212\ufe63]")
# Long-vowel marks and box-drawing bars are hyphens only between two digits.
_DIGIT_DASH: Final = re.compile(r"[ーｰ―─](?<=[0-9][ーｰ―─])(?=[0-9])")


def fold_width(text: str) -> str:
    """Map full-width ASCII and hyphen look-alikes to ASCII, keeping every offset."""
    if text.isascii():
        return text
    # re.sub touches only the few foldable characters; str.translate would
    # look up every character of the text.
    folded = _FOLDABLE.sub(lambda m: _FOLD_TABLE[m.group()], text)
    return _DIGIT_DASH.sub("-", folded)


# Zero-width and other invisible characters people (or copy and paste) put between digits.
_INVISIBLE: Final = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")


def strip_invisible(text: str) -> tuple[str, list[int] | None]:
    """The text without invisible characters, and where each kept character stood (None: unchanged)."""
    if not _INVISIBLE.search(text):
        return text, None
    positions = [i for i, char in enumerate(text) if not _INVISIBLE.match(char)]
    return "".join(text[i] for i in positions), positions


# --- My Number ---------------------------------------------------------------


def my_number_check_digit(first_eleven: str) -> int:
    """Check digit of a My Number (個人番号) from its first 11 digits.

    The official rule (総務省令第85号 第5条): with P(n) the n-th digit counted
    from the right of the 11 digits and Q(n) = n + 1 for n <= 6 and n - 5 for
    n >= 7, the remainder r = sum(P(n) * Q(n)) mod 11 gives 0 when r <= 1,
    else 11 - r.
    """
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("a My Number check digit needs exactly 11 ASCII digits")
    total = 0
    for n, char in enumerate(reversed(first_eleven), start=1):
        total += int(char) * (n + 1 if n <= 6 else n - 5)
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_my_number(digits: str) -> bool:
    """Whether 12 ASCII digits carry a valid My Number check digit."""
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        return False
    return my_number_check_digit(digits[:11]) == int(digits[11])



_KANJI: Final = "\u3005\u3006\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134fヶケ"
