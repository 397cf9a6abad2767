"""A Japanese address grammar for the forms Sapporo's callers give, anchored by Sudachi's words.

Core forms (on the folded text):

- the grid: 北8条西5丁目, 南22条西9丁目, 平岸3条5丁目 (town + n条 + n丁目), 4条通8丁目,
  西3条南9丁目 (帯広), and the spoken short form 北8西5;
- a town and a block: もみじ台北5丁目, 本通3丁目南2-15, 大通西15丁目, 幸町2丁目14;
- a town and a hyphenated house number: 西新宿2-8-1;
- each followed by an optional house number: 7-1, 12番地, 2番3号, 1-23;
- romaji: Kita 8-jo Nishi 5-chome (12).

A core is widened to the left over the words that name where it is (北海道, 札幌市, 北区,
清田区真栄, 宮の沢): nouns, place names and the prefixes and suffixes of place names, never a
particle, a person's name or a label such as 住所 or 自宅. A town-and-block core without a grid
is only an address when a place name or a municipality (市区町村, 通) stands before it, so
"4丁目の交差点" stays.
"""

from __future__ import annotations

import bisect
import re
from typing import Final

from .morphology import Word
from .text import Finding

_NUM: Final = r"(?:[0-9]{1,3}|[一二三四五六七八九十]{1,3})"
_DIR: Final = "[北南東西]"
_HOUSE: Final = (
    r"(?:[ ]?[0-9]{1,4}(?:(?:番地の?|番の?|-|の)[0-9]{1,4}){0,3}(?:番地|番|号)?(?![0-9]))?"
)
_GRID: Final = re.compile(
    rf"(?:{_DIR}?{_NUM}条(?:通)?{_DIR}?{_NUM}丁目|[北南]{_NUM}[東西]{_NUM}(?![0-9条丁番]))"
    rf"(?:{_DIR}(?=[0-9]))?{_HOUSE}"
)
_BLOCK: Final = re.compile(rf"{_DIR}?{_NUM}丁目(?:{_DIR}(?=[0-9]))?{_HOUSE}")
# A town and a hyphenated house number: 西新宿2-8-1, 野幌町10-3 (only after a place word).
_HYPHENATED: Final = re.compile(r"(?<![0-9\-])[0-9]{1,4}-[0-9]{1,4}(?:-[0-9]{1,4})?(?![0-9]|-[0-9])")
_ROMAJI_GRID: Final = re.compile(
    r"(?<![A-Za-z])(?:Kita|Minami|Higashi|Nishi)[ \-]?[0-9]{1,2}[ \-]?[Jj][oō](?![A-Za-z]),?[ \-]?"
    r"(?:(?:Kita|Minami|Higashi|Nishi)[ \-]?)?[0-9]{1,2}[ \-]?[Cc]h[oō]me"
    r"(?:,?[ ][0-9]{1,4}(?:-[0-9]{1,4}){0,2}(?![0-9]))?"
)
# Words that end the widening to the left: labels and what people write before an address.
_LABELS: Final = frozenset(
    "住所 自宅 実家 配送先 送付先 送り先 届け先 宛先 連絡先 現住所 新住所 旧住所 所在地 住まい "
    "在住 居所 出先 帰省先 転居先 職員 電話 携帯 自宅住所 場所".split()
)
# The address of a public building is no one's personal data: 北1条西2丁目の本庁舎.
_PUBLIC_BUILDING: Final = re.compile(
    r"[ ]?の?[ ]?(?:本庁舎|庁舎|市役所|区役所|役所|出張所|支所|まちづくりセンター|区民センター|地区センター)"
)
_MUNICIPAL_END: Final = ("市", "区", "町", "村", "郡", "通", "道", "都", "府", "県")
_MAX_WIDEN: Final = 24


def _joins(words: list[Word], i: int) -> bool:
    """Whether the word at `i` (before the part already taken) belongs to the address."""
    word = words[i]
    if word.surface in _LABELS or word.pos[1] == "数詞" or not word.surface.strip():
        return False
    if word.pos[0] in ("名詞", "接尾辞", "接頭辞"):
        return True  # towns that are also surnames too: 手稲前田, 月寒東, 美園
    # の inside a town name: 宮の沢, 中の島, あいの里 (between two short words).
    return (word.surface == "の" and 0 < i < len(words) - 1 and len(words[i - 1].surface) <= 2
            and len(words[i + 1].surface) <= 3 and words[i - 1].end == word.start
            and words[i - 1].pos[0] in ("名詞", "接尾辞") and not words[i - 1].is_person)


def _widen(words: list[Word], starts: list[int], start: int) -> tuple[int, bool]:
    """Start of the place words just before `start`, and whether a place name is among them."""
    at = bisect.bisect_right(starts, start) - 1
    if 0 <= at < len(words) and words[at].start < start < words[at].end and words[at].pos[0] == "名詞":
        start = words[at].start  # the core starts inside a word: もみじ台北|5丁目
        placed = words[at].is_place
    else:
        placed = False
    i = bisect.bisect_left(starts, start) - 1
    while i >= 0:
        word = words[i]
        if word.end != start or start - word.start > _MAX_WIDEN:
            break
        if not _joins(words, i):
            break
        placed = placed or word.is_place or word.surface.endswith(_MUNICIPAL_END)
        start = word.start
        i -= 1
    return start, placed


def addresses(folded: str, words: list[Word]) -> list[Finding]:
    found: list[Finding] = []
    starts = [w.start for w in words]
    grid_ends: list[int] = []  # grid matches are disjoint and in order
    grid_starts: list[int] = []
    for m in _GRID.finditer(folded):
        start, _placed = _widen(words, starts, m.start())
        found.append(Finding("address", start, _trim(folded, start, m.end())))
        grid_starts.append(m.start())
        grid_ends.append(m.end())
    for pattern in (_BLOCK, _HYPHENATED):
        for m in pattern.finditer(folded):
            at = bisect.bisect_right(grid_starts, m.start()) - 1
            if at >= 0 and m.start() < grid_ends[at]:
                continue  # part of a grid address
            start, placed = _widen(words, starts, m.start())
            # A town word and a block with its house number (美園10丁目16番6号) is an address
            # whatever the dictionary thinks the town word is.
            housed = pattern is _BLOCK and m.group().endswith(tuple("0123456789号番地"))
            if (placed or housed) and start < m.start():
                found.append(Finding("address", start, _trim(folded, start, m.end())))
    if "ho" in folded or "hō" in folded:
        found.extend(Finding("address", m.start(), m.end()) for m in _ROMAJI_GRID.finditer(folded))
    return _public(folded, found)


def _public(folded: str, found: list[Finding]) -> list[Finding]:
    return [f for f in found if not _PUBLIC_BUILDING.match(folded, f.end)]


def _trim(folded: str, start: int, end: int) -> int:
    while end > start and folded[end - 1] in " -の":
        end -= 1
    return end
