"""Knowledge reuse without a morphological analyser: text normalisation, n-gram similarity, repeats.

Pure functions only (no I/O, no clock). ``storage.knowledge`` lets the database find candidates
with its own trigram index (SQLite FTS5 ``trigram``, PostgreSQL ``pg_trgm``) and re-ranks them
here, so both backends rank the same way. Measured on tests/data/knowledge_questions.json (78
paraphrased questions, 19 articles): top-3 hit rate 0.974, top-1 0.885, on both backends.

Normalisation (:func:`normalize`): NFKC (full-width letters and digits, half-width kana), lower
case, katakana folded to hiragana, the long vowel mark dropped (サーバー = サーバ = さば), and every
run of punctuation or spaces turned into one separator.

Similarity (:func:`similarity`): the share of the query's character bigrams and trigrams that the
document also has, each n-gram weighted by how informative it is: n-grams that are pure hiragana
before folding (particles, verb endings: "ません", "して") count little, kanji, katakana and Latin
count fully. Matching on what the *query* contains suits short operator notes against long
articles; a small term for how much of the heading the query covers favours focused articles.

Repeat detection (:func:`group_repeats`): tickets of one service whose summaries are alike and
whose calls came within a window of each other are joined (single linkage); groups of at least
``min_calls`` are suspected incidents.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

KATAKANA_FIRST, KATAKANA_LAST = 0x30A1, 0x30F6  # ァ .. ヶ
KANA_SHIFT = 0x60  # ア (U+30A2) - あ (U+3042)
LONG_VOWEL = "ー"
_SEPARATORS = re.compile(r"[^\w]+|_+")
PARTICLE_WEIGHT = 0.25  # weight of an n-gram written only in hiragana


_TO_HIRAGANA = {c: c - KANA_SHIFT for c in range(KATAKANA_FIRST, KATAKANA_LAST + 1)}
_TO_KATAKANA = {c - KANA_SHIFT: c for c in range(KATAKANA_FIRST, KATAKANA_LAST + 1)}


def fold_kana(text: str) -> str:
    """Katakana to hiragana; everything else unchanged."""
    return text.translate(_TO_HIRAGANA)


def to_katakana(text: str) -> str:
    """Hiragana to katakana (the inverse of :func:`fold_kana` for ぁ .. ゖ)."""
    return text.translate(_TO_KATAKANA)


def _nfkc_lower(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def search_form(text: str) -> str:
    """NFKC, lower case, hiragana, no ー; punctuation kept (an n-gram never contains it)."""
    return fold_kana(_nfkc_lower(text)).replace(LONG_VOWEL, "")


def normalize(text: str) -> str:
    """Text as the search compares it: :func:`search_form` with single spaces between words."""
    return _SEPARATORS.sub(" ", search_form(text)).strip()


def _is_hiragana(c: str) -> bool:
    return "\u3041" <= c <= "\u309f"


def _segments(text: str) -> list[tuple[str, str]]:
    """Runs of word characters as (normalised, script mask) pairs.

    The mask has "h" where the original character was hiragana, "x" elsewhere, so that weights
    can tell a particle from a katakana word after both have been folded to hiragana.
    """
    base = _nfkc_lower(text)
    chars: list[tuple[str, str]] = []
    for c in base:
        if c == LONG_VOWEL:
            continue
        folded = fold_kana(c)
        chars.append((folded, "h" if _is_hiragana(c) else "x"))
    out: list[tuple[str, str]] = []
    word: list[tuple[str, str]] = []
    for folded, mask in [*chars, (" ", "x")]:
        if _SEPARATORS.fullmatch(folded):
            if word:
                out.append(("".join(f for f, _ in word), "".join(m for _, m in word)))
                word = []
        else:
            word.append((folded, mask))
    return out


def ngram_weights(text: str) -> dict[str, float]:
    """Character bigrams and trigrams of ``text`` (within words) with their weights.

    A segment of one character contributes itself, so "印" still matches something.
    """
    weights: dict[str, float] = {}
    for word, mask in _segments(text):
        if len(word) == 1:
            weights[word] = max(weights.get(word, 0.0), PARTICLE_WEIGHT if mask == "h" else 1.0)
            continue
        for n in (2, 3):
            for i in range(len(word) - n + 1):
                gram = word[i:i + n]
                weight = PARTICLE_WEIGHT if "x" not in mask[i:i + n] else 1.0
                weights[gram] = max(weights.get(gram, 0.0), weight)
    return weights


@dataclass(frozen=True, slots=True)
class Document:
    """What one searchable item offers: its heading text (weighted fully) and its body."""

    key: str
    heading: str
    body: str


def _gram_count(text: str) -> int:
    return max(1, 2 * len(text) - 3)  # bigrams and trigrams of a text of that many characters


def similarity(query: Mapping[str, float], heading: str, body: str = "") -> float:
    """How much of the query a document covers, 0..1.

    ``query`` is :func:`ngram_weights` of the query; ``heading`` and ``body`` are the document's
    parts in :func:`search_form`. An n-gram never contains a space or punctuation, so "the text
    contains it" is "the document has it". A query n-gram found in the heading counts fully, in
    the body half (answers are long and mention many things); a small share of the score goes to
    how focused the heading is on the query.
    """
    total = sum(query.values())
    if total == 0:
        return 0.0
    covered = 0.0
    heading_hits = 0
    for gram, weight in query.items():
        if gram in heading:
            covered += weight
            heading_hits += 1
        elif gram in body:
            covered += 0.5 * weight
    focus = heading_hits / math.sqrt(_gram_count(heading) * len(query))
    return round(min(1.0, 0.9 * covered / total + 0.1 * focus), 4)


def rank(query_text: str, documents: Sequence[Document]) -> list[tuple[Document, float]]:
    """Documents ordered by :func:`similarity` to ``query_text``, best first (ties by key)."""
    query = ngram_weights(query_text)
    scored = [(doc, similarity(query, search_form(doc.heading), search_form(doc.body)))
              for doc in documents]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0].key))


def query_trigrams(text: str, limit: int = 64) -> list[str]:
    """Distinct trigrams of the query's spellings, for an FTS5 ``OR`` query.

    The FTS table holds the text as written, so the query goes in as written, NFKC-folded, in
    hiragana and in katakana. Trigrams all in hiragana come last and are the first to go when
    there are more than ``limit``. Empty when no word has three characters (use ``LIKE``).
    """
    spellings = {text, _nfkc_lower(text), fold_kana(_nfkc_lower(text)),
                 to_katakana(_nfkc_lower(text))}
    strong: list[str] = []
    weak: list[str] = []
    for spelling in sorted(spellings):
        for word in _SEPARATORS.sub(" ", spelling).split():
            for i in range(len(word) - 2):
                gram = word[i:i + 3]
                target = weak if all(_is_hiragana(c) for c in gram) else strong
                if gram not in strong and gram not in weak:
                    target.append(gram)
    return (strong + weak)[:limit]


def folded_trigrams(text: str, limit: int = 24) -> tuple[list[str], list[str]]:
    """Distinct trigrams of the :func:`normalize`-d query for a ``LIKE`` over folded text.

    Two lists: the informative ones and those that were all hiragana before folding.
    """
    strong: list[str] = []
    weak: list[str] = []
    for word, mask in _segments(text):
        for i in range(len(word) - 2):
            gram = word[i:i + 3]
            target = strong if "x" in mask[i:i + 3] else weak
            if gram not in strong and gram not in weak:
                target.append(gram)
    return strong[:limit], weak[:limit]


# --- repeat detection -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecentCall:
    """A ticket as repeat detection sees it."""

    ticket_id: int
    reference: str
    service: str
    received_at: datetime
    summary: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class SuspectedIncident:
    service: str
    calls: tuple[RecentCall, ...]

    @property
    def first_at(self) -> datetime:
        return self.calls[0].received_at

    @property
    def last_at(self) -> datetime:
        return self.calls[-1].received_at


def summary_similarity(a: str, b: str) -> float:
    """Symmetric weighted Dice of two summaries' n-grams, 0..1."""
    wa, wb = ngram_weights(a), ngram_weights(b)
    total = sum(wa.values()) + sum(wb.values())
    if total == 0:
        return 0.0
    shared = sum(min(wa[g], wb[g]) for g in wa.keys() & wb.keys())
    return 2 * shared / total


def _alike(a: RecentCall, b: RecentCall, threshold: float) -> bool:
    if a.summary.strip() and b.summary.strip():
        return summary_similarity(a.summary, b.summary) >= threshold
    return a.category is not None and a.category == b.category


def group_repeats(
    calls: Iterable[RecentCall],
    *,
    window: timedelta = timedelta(minutes=30),
    min_calls: int = 3,
    threshold: float = 0.3,
) -> list[SuspectedIncident]:
    """Groups of at least ``min_calls`` calls of one service about the same symptom.

    Two calls are joined when they are of the same service, at most ``window`` apart and their
    summaries are alike (:func:`summary_similarity` >= ``threshold``; when a summary is still
    empty, the same category counts as alike). Groups are the connected parts (single linkage),
    so an incident that keeps generating calls stays one group. Newest group first.
    """
    if min_calls < 2:
        raise ValueError("a repeat needs at least two calls")
    by_service: dict[str, list[RecentCall]] = {}
    for call in calls:
        by_service.setdefault(call.service, []).append(call)
    groups: list[SuspectedIncident] = []
    for service, items in by_service.items():
        items.sort(key=lambda c: (c.received_at, c.ticket_id))
        groups.extend(SuspectedIncident(service, part)
                      for part in _linked_parts(items, window, threshold) if len(part) >= min_calls)
    return sorted(groups, key=lambda g: (g.last_at, g.service), reverse=True)


def _linked_parts(items: Sequence[RecentCall], window: timedelta,
                  threshold: float) -> list[tuple[RecentCall, ...]]:
    """Connected parts (union-find) of time-ordered calls joined by :func:`_alike` in ``window``."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            b = items[j]
            if b.received_at - a.received_at > window:
                break
            if _alike(a, b, threshold):
                parent[find(j)] = find(i)
    parts: dict[int, list[RecentCall]] = {}
    for i, call in enumerate(items):
        parts.setdefault(find(i), []).append(call)
    return [tuple(p) for p in parts.values()]
