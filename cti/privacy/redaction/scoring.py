"""The labelled corpus format and precision / recall per kind (used by the tests and the benchmark).

A corpus line is ``<tag>\\t<text>`` with each piece of personal data marked ``{kind:text}``
(short kinds below); ``<ZWSP>``, ``<ZWJ>`` and ``<WJ>`` stand for invisible characters.

Scoring: an expected piece is *caught* when findings of its kind cover every one of its
characters (overall: findings of any kind). A finding is *right* when it overlaps an expected
piece of its kind (overall: of any kind); precision is right findings over all findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .text import Finding

SHORT_KINDS: Final = {
    "name": "person_name", "addr": "address", "phone": "phone", "mail": "email",
    "mynum": "my_number", "card": "card", "bank": "bank_account", "dob": "birth_date",
    "staff": "staff_number", "pw": "password", "postal": "postal_code",
}
_MARK: Final = re.compile(r"\{(" + "|".join(SHORT_KINDS) + r"):([^{}]+)\}")
_INVISIBLE_TOKENS: Final = {"<ZWSP>": "\u200b", "<ZWJ>": "\u200d", "<WJ>": "\u2060"}


@dataclass(frozen=True, slots=True)
class LabelledText:
    tag: str
    text: str
    expected: tuple[Finding, ...]


def parse_corpus(source: str) -> list[LabelledText]:
    samples: list[LabelledText] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        tag, sep, marked = line.partition("\t")
        if not sep:
            raise ValueError(f"line {number}: expected <tag><TAB><text>")
        for token, char in _INVISIBLE_TOKENS.items():
            marked = marked.replace(token, char)
        parts: list[str] = []
        expected: list[Finding] = []
        cursor = length = 0
        for m in _MARK.finditer(marked):
            parts.append(marked[cursor : m.start()])
            length += m.start() - cursor
            expected.append(Finding(SHORT_KINDS[m.group(1)], length, length + len(m.group(2))))
            parts.append(m.group(2))
            length += len(m.group(2))
            cursor = m.end()
        parts.append(marked[cursor:])
        text = "".join(parts)
        if re.search(r"\{[a-z]+:[^{}]+\}", text):
            raise ValueError(f"line {number}: unknown kind in {marked!r}")
        samples.append(LabelledText(tag, text, tuple(expected)))
    return samples


@dataclass(slots=True)
class Tally:
    expected: int = 0
    caught: int = 0
    found: int = 0
    right: int = 0
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0


def _covered(piece: Finding, findings: Iterable[Finding]) -> bool:
    chars = set(range(piece.start, piece.end))
    for f in findings:
        chars -= set(range(f.start, f.end))
    return not chars


def _overlaps(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def score(samples: Sequence[LabelledText], find: Callable[[str], Sequence[Finding]]) -> dict[str, Tally]:
    """Tallies per kind and ``"all"``."""
    tallies: dict[str, Tally] = {"all": Tally()}
    for sample in samples:
        found = list(find(sample.text))
        for piece in sample.expected:
            for key, pool in ((piece.kind, [f for f in found if f.kind == piece.kind]), ("all", found)):
                tally = tallies.setdefault(key, Tally())
                tally.expected += 1
                if _covered(piece, pool):
                    tally.caught += 1
                else:
                    tally.missed.append(f"{sample.text[piece.start:piece.end]!r} in {sample.text!r}")
        for f in found:
            same_kind = [e for e in sample.expected if e.kind == f.kind]
            for key, pool in ((f.kind, same_kind), ("all", list(sample.expected))):
                tally = tallies.setdefault(key, Tally())
                tally.found += 1
                if any(_overlaps(f, e) for e in pool):
                    tally.right += 1
                else:
                    tally.wrong.append(f"{f.kind} {sample.text[f.start:f.end]!r} in {sample.text!r}")
    return tallies
