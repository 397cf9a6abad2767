"""The Redactor: runs every detector, resolves overlaps, maps offsets back."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Final

from .addresses import addresses
from .formats import (
    _ADDRESS,
    _ADDRESS_EN,
    _ADDRESS_EN_HINT,
    _ADDRESS_HINT,
    _ADDRESS_REACH,
    _ADDRESS_UNIT,
    _DIGITS,
    _EMAIL,
    _EXTENSION,
    _MY_NUMBER,
    _NOT_AN_END,
    _PHONE,
    _POSTAL_BARE,
    _POSTAL_LABELLED_EN,
    _POSTAL_MARKED,
    _is_phone_digits,
)
from .labelled import (
    bank_accounts,
    birth_dates,
    cards,
    obfuscated_mail,
    obfuscated_phones,
    passwords,
    staff_numbers,
)
from .morphology import Morphology, shared_morphology
from .names import _person_names
from .persons import japanese_names, latin_names, titled_names
from .text import _PRIORITY, PLACEHOLDERS, Finding, Redaction, fold_width, is_my_number, strip_invisible

_MAX_PASSES: Final = 4


def _unite(candidates: list[Finding]) -> list[Finding]:
    """Overlapping candidates of one kind become one finding spanning them all."""
    united: list[Finding] = []
    for f in sorted(candidates, key=lambda f: (f.kind, f.start, -f.end)):
        last = united[-1] if united else None
        if last is not None and last.kind == f.kind and f.start < last.end:
            united[-1] = Finding(f.kind, last.start, max(last.end, f.end))
        else:
            united.append(f)
    return united


def _resolve(candidates: list[Finding]) -> tuple[Finding, ...]:
    """Non-overlapping findings; where candidates overlap the stronger kind wins."""
    candidates = _unite(candidates)
    candidates.sort(key=lambda f: (_PRIORITY[f.kind], f.start, f.start - f.end))
    starts: list[int] = []  # chosen findings, disjoint and ordered by start
    chosen: list[Finding] = []
    for candidate in candidates:
        at = bisect.bisect_left(starts, candidate.end)
        first = at
        while first > 0 and chosen[first - 1].end > candidate.start:
            first -= 1
        if first < at and candidate.kind == "person_name":
            # A name glued to the end of an address (...9番9号田中さん) keeps its tail.
            cut = chosen[at - 1].end
            if chosen[first].start > candidate.start or cut >= candidate.end:
                continue
            candidate = Finding(candidate.kind, cut, candidate.end)
        elif first < at:
            continue
        starts.insert(at, candidate.start)
        chosen.insert(at, candidate)
    return tuple(chosen)


def _apply(text: str, found: tuple[Finding, ...]) -> tuple[str, list[tuple[int, int, int]]]:
    """Redacted text and its kept stretches as (redacted start, original start, length)."""
    parts: list[str] = []
    kept: list[tuple[int, int, int]] = []
    cursor = length = 0
    for finding in (*found, Finding("", len(text), len(text))):
        kept.append((length, cursor, finding.start - cursor))
        parts.append(text[cursor : finding.start])
        length += finding.start - cursor
        if finding.kind:
            parts.append(PLACEHOLDERS[finding.kind])
            length += len(PLACEHOLDERS[finding.kind])
        cursor = finding.end
    return "".join(parts), kept


def _to_original(found: tuple[Finding, ...], kept: list[tuple[int, int, int]]) -> tuple[Finding, ...]:
    """Offsets in the redacted text back to the original (findings never touch placeholders)."""
    starts = [red_start for red_start, _, _ in kept]

    def position(at: int, is_end: bool) -> int:
        red_start, orig_start, _length = kept[bisect.bisect_right(starts, at - is_end) - 1]
        return orig_start + at - red_start

    return tuple(Finding(f.kind, position(f.start, False), position(f.end, True)) for f in found)


def _merge(old: tuple[Finding, ...], new: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Add later findings; one that spans earlier ones (around a placeholder) absorbs them."""
    kept = [f for f in old if not any(n.start <= f.start and f.end <= n.end for n in new)]
    return tuple(sorted((*kept, *new), key=lambda f: f.start))


def _words_kept(keep: Iterable[str]) -> frozenset[str]:
    return frozenset(fold_width(strip_invisible(w)[0]).strip() for w in keep if w.strip())


class Redactor:
    """Finds and replaces personal information; build once from configuration.

    `internal_extensions` are the city's own extension numbers: a number
    labelled as an extension (内線 1234, ext. 1234) inside one of these ranges
    is kept, a labelled extension outside them is treated as a phone number.

    `morphology` is the Japanese dictionary (SudachiPy) that finds bare names
    and the place words of an address; it is opened once and may be shared.
    `legacy=True` gives the redactor as it was before it had a dictionary
    (patterns only: no bare names, no Sapporo grid, no cards, accounts, dates
    of birth, staff numbers or passwords); the benchmark compares the two.
    """

    __slots__ = ("_internal_extensions", "_legacy", "_morphology")

    def __init__(
        self,
        internal_extensions: tuple[range, ...] = (range(2000, 5000),),
        *,
        morphology: Morphology | None = None,
        legacy: bool = False,
    ) -> None:
        if not all(isinstance(r, range) for r in internal_extensions):
            raise TypeError("internal_extensions must be a tuple of range objects")
        self._internal_extensions = tuple(internal_extensions)
        self._legacy = legacy
        self._morphology = None if legacy else (morphology or shared_morphology())

    def redact(self, text: str, keep: Iterable[str] = ()) -> Redaction:
        """Replace every finding by its kind's placeholder.

        A replacement changes the context its neighbours were judged in (a
        number glued to an address is only a phone once the address is gone),
        so detection is repeated on the redacted text until nothing new turns
        up; this is what makes redaction idempotent.

        `keep` holds words an operator chose to leave unmasked: a finding whose
        text is one of them stays, unless its kind is never kept (phone, mail,
        My Number, card).  Invisible characters (zero-width spaces) are
        ignored while detecting and removed with the finding they sit in.
        """
        kept_words = _words_kept(keep)
        clean, positions = (text, None) if self._legacy else strip_invisible(text)
        found: tuple[Finding, ...] = ()
        redacted, stretches = clean, [(0, 0, len(clean))]
        for _ in range(_MAX_PASSES):
            more = self._find_once(redacted)
            if kept_words:
                more = tuple(
                    f for f in more
                    if not (f.keepable and fold_width(redacted[f.start : f.end]).strip() in kept_words)
                )
            if not more:
                break
            found = _merge(found, _to_original(more, stretches))
            redacted, stretches = _apply(clean, found)
        if positions is not None and found:
            found = tuple(Finding(f.kind, positions[f.start], positions[f.end - 1] + 1) for f in found)
            redacted = _apply(text, found)[0]
        elif positions is not None:
            redacted = text
        return Redaction(text=redacted, found=found)

    def redact_name_field(self, value: str) -> str:
        """A field known to hold a person's name is replaced as a whole."""
        return PLACEHOLDERS["person_name"] if value.strip() else value

    def is_internal_extension(self, number: int) -> bool:
        return any(number in r for r in self._internal_extensions)

    def find(self, text: str, keep: Iterable[str] = ()) -> tuple[Finding, ...]:
        """Non-overlapping findings in order of position (what `redact` replaces)."""
        return self.redact(text, keep).found

    def _find_once(self, text: str) -> tuple[Finding, ...]:
        folded = fold_width(text)
        lowered = folded.lower()  # only to test for Latin keywords
        candidates = [
            *self._emails(folded),
            *self._my_numbers(folded),
            *self._phones(folded),
            *self._extensions(folded, lowered),
            *self._postal_codes(folded, lowered),
            *self._addresses(folded),
            *_person_names(folded, lowered),
        ]
        if self._morphology is not None:
            words = self._morphology.words(folded)
            candidates += [
                *cards(folded),
                *obfuscated_phones(folded, _is_phone_digits),
                *obfuscated_mail(folded),
                *bank_accounts(folded),
                *staff_numbers(folded),
                *passwords(folded),
                *birth_dates(folded),
                *addresses(folded, words),
                *japanese_names(folded, words),
                *latin_names(folded, words),
                *titled_names(folded, words),
            ]
        return _resolve(candidates)

    # --- detectors ---------------------------------------------------------

    @staticmethod
    def _emails(folded: str) -> list[Finding]:
        if "@" not in folded:
            return []
        return [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(folded)]

    @staticmethod
    def _my_numbers(folded: str) -> list[Finding]:
        return [
            Finding("my_number", m.start(), m.end())
            for m in _MY_NUMBER.finditer(folded)
            if is_my_number(m.group("a") + m.group("b") + m.group("c"))
        ]

    @staticmethod
    def _phones(folded: str) -> list[Finding]:
        found: list[Finding] = []
        for m in _PHONE.finditer(folded):
            intl = m.group("intl") is not None
            foreign = m.group("foreign") is not None
            groups = list(_DIGITS.finditer(folded, m.end("intl") if intl else m.start(), m.end()))
            # Longest leading run of digit groups that is a valid number and is
            # not glued to a longer identifier (03-1234-5678-9 is not a phone).
            for count in range(len(groups), 0, -1):
                digits = "".join(g.group() for g in groups[:count])
                if intl and not digits.startswith("0"):
                    digits = "0" + digits
                end = groups[count - 1].end()
                valid = 10 <= len(digits) <= 15 if foreign else _is_phone_digits(digits)
                if "." in folded[m.start() : end]:  # 090.5555.0123, but not versions
                    valid = valid and count == 3 and 2 <= len(groups[0].group()) <= 5
                if valid and not _NOT_AN_END.match(folded, end):
                    # An opening bracket belongs to the number only if it closes inside it:
                    # (045)555-0130 but not the （ of 連絡先（090-5555-0123）.
                    start = m.start() + (folded[m.start()] == "(" and ")" not in folded[m.start() : end])
                    found.append(Finding("phone", start, end))
                    break
        return found

    def _extensions(self, folded: str, lowered: str) -> list[Finding]:
        if "内線" not in folded and "ext" not in lowered:
            return []
        return [
            Finding("phone", m.start(1), m.end(1))
            for m in _EXTENSION.finditer(folded)
            if not self.is_internal_extension(int(m.group(1)))
        ]

    @staticmethod
    def _postal_codes(folded: str, lowered: str) -> list[Finding]:
        patterns = [_POSTAL_BARE]
        if "〒" in folded or "郵便番号" in folded:
            patterns.append(_POSTAL_MARKED)
        if "zip" in lowered or "postal" in lowered:
            patterns.append(_POSTAL_LABELLED_EN)
        return [
            Finding("postal_code", m.start(1), m.end(1))
            for pattern in patterns
            for m in pattern.finditer(folded)
        ]

    @staticmethod
    def _addresses(folded: str) -> list[Finding]:
        before, after = _ADDRESS_REACH
        windows: list[list[int]] = []
        for hint in _ADDRESS_HINT.finditer(folded):
            start, end = max(0, hint.start() - before), min(len(folded), hint.end() + after)
            if not _ADDRESS_UNIT.search(folded, start, hint.start()):
                continue  # no prefecture or municipality in reach
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        matches: dict[int, re.Match[str]] = {}
        for start, end in windows:
            for m in _ADDRESS.finditer(folded, start, end):
                matches.setdefault(m.start(), m)
        if _ADDRESS_EN_HINT.search(folded):
            for m in _ADDRESS_EN.finditer(folded):
                matches.setdefault(m.start(), m)
        found: list[Finding] = []
        for m in matches.values():
            end = m.end()
            while end > m.start() and folded[end - 1] in "-の":
                end -= 1
            found.append(Finding("address", m.start(), end))
        return found
