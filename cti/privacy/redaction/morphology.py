"""Japanese morphology from SudachiPy and its core dictionary: words with their proper-noun tags.

The dictionary ships inside the ``sudachidict_core`` wheel (nothing is fetched at run time). It
is opened once, when a `Morphology` is built (about 0.1 s, ~90 MB resident, memory-mapped), and
tokenising 500 characters takes about half a millisecond, so it runs on every keystroke of the
live preview.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from sudachipy import Dictionary, SplitMode

# Sudachi refuses inputs beyond about 49 kB of UTF-8; text is cut into pieces well below that,
# at a line end or a full stop where there is one.
_PIECE: Final = 4000
_CUTS: Final = "\n。．！？!?"


@dataclass(frozen=True, slots=True)
class Word:
    """One word of the text; offsets index the text that was tokenised."""

    surface: str
    start: int
    end: int
    pos: tuple[str, ...]  # e.g. ("名詞", "固有名詞", "人名", "姓", "*", "*")

    @property
    def is_person(self) -> bool:
        return self.pos[1] == "固有名詞" and self.pos[2] == "人名"

    @property
    def is_surname(self) -> bool:
        return self.is_person and self.pos[3] == "姓"

    @property
    def is_given_name(self) -> bool:
        return self.is_person and self.pos[3] == "名"

    @property
    def is_place(self) -> bool:
        return self.pos[1] == "固有名詞" and self.pos[2] == "地名"


class Morphology:
    """Splits Japanese text into words with SudachiPy (mode C: the longest units, e.g. 清田区真栄)."""

    __slots__ = ("_dictionary", "_pos", "_tokenizer")

    def __init__(self) -> None:
        self._dictionary = Dictionary(dict="core")
        self._tokenizer = self._dictionary.tokenizer(mode=SplitMode.C)
        self._pos: dict[int, tuple[str, ...]] = {}  # part-of-speech id -> its tags

    def words(self, text: str) -> list[Word]:
        words: list[Word] = []
        start = 0
        while start < len(text):
            end = _piece_end(text, start)
            for m in self._tokenizer.tokenize(text[start:end]):
                pos_id = m.part_of_speech_id()
                pos = self._pos.get(pos_id)
                if pos is None:
                    pos = self._pos[pos_id] = tuple(m.part_of_speech())
                words.append(Word(m.surface(), start + m.begin(), start + m.end(), pos))
            start = end
        return words


@functools.cache
def shared_morphology() -> Morphology:
    """The process's one `Morphology`: the dictionary is opened once (~90 MB), however many
    apps a process builds (tests build hundreds; each used to keep its own copy)."""
    return Morphology()


def _piece_end(text: str, start: int) -> int:
    end = start + _PIECE
    if end >= len(text):
        return len(text)
    cut = max(text.rfind(c, start + _PIECE // 2, end) for c in _CUTS)
    return cut + 1 if cut > start else end
