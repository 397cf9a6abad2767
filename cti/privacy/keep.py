"""Words an operator keeps unmasked: the check before a keep is honoured, and what is audited.

The live preview shows what will be masked; where the redactor is wrong (a product or a
place that reads like a surname) the operator may keep that word. Keeping is refused for the
kinds that are never anything but personal data (phone, mail, My Number, card), and every kept
word is written to the audit log (action ``ticket.keep``) with the kinds it would have been
masked as; `cti privacy rescan` reads those entries back so that a rescan honours them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .redaction import NEVER_KEPT, Redactor, fold_width

MAX_WORDS: Final = 20
MAX_WORD_CHARS: Final = 64
AUDIT_ACTION: Final = "ticket.keep"


class KeepRefused(ValueError):
    """A word may not be kept: it is malformed, or it is (part of) a never-kept kind."""

    def __init__(self, message: str, kinds: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.kinds = tuple(kinds)


@dataclass(frozen=True, slots=True)
class KeptWord:
    word: str
    kinds: tuple[str, ...]  # what the redactor would have masked it as in the texts


def parse_keep(value: object) -> tuple[str, ...]:
    """The ``keep`` field of a request: a short list of short, non-empty strings."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_WORDS:
        raise KeepRefused(f"keep must be a list of at most {MAX_WORDS} words")
    words: list[str] = []
    for word in value:
        if not isinstance(word, str) or not word.strip() or len(word) > MAX_WORD_CHARS:
            raise KeepRefused(f"each kept word must be 1-{MAX_WORD_CHARS} characters of text")
        words.append(word.strip())
    return tuple(dict.fromkeys(words))


def check_keep(redactor: Redactor, words: Iterable[str], texts: Iterable[str]) -> tuple[KeptWord, ...]:
    """What each word would have been masked as in `texts`; refused for the never-kept kinds."""
    texts = list(texts)
    kept: list[KeptWord] = []
    for word in words:
        folded = fold_width(word)
        kinds = {f.kind for f in redactor.find(word)}
        for text in texts:
            found = redactor.find(text)
            kinds |= {f.kind for f in found if fold_width(text[f.start : f.end]).strip() == folded}
        refused = sorted(kinds & NEVER_KEPT)
        if refused:
            raise KeepRefused(f"{', '.join(refused)} may never be kept unmasked", refused)
        kept.append(KeptWord(word, tuple(sorted(kinds))))
    return tuple(kept)


def audit_detail(kept: Sequence[KeptWord], fields: Sequence[str]) -> dict[str, object]:
    return {"words": [k.word for k in kept], "kinds": {k.word: list(k.kinds) for k in kept},
            "fields": list(fields)}
