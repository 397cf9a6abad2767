"""Redaction of personal information in free text before it is stored.

Pure code: no I/O, no clock, no global state beyond compiled constants.

What is found (kind → placeholder):

- ``email`` [メール]: ASCII or full-width addresses, also glued to Japanese text.
- ``my_number`` [個人番号]: 12 digits (4-4-4 with one kind of separator or
  none) whose check digit is valid; with a wrong check digit they are not.
- ``phone`` [電話番号]: Japanese 10-digit (landline, 0120/0570) and 11-digit
  (070/080/090/050/020, 0800) numbers with hyphens of any width, spaces,
  dots or brackets, or +81 / +81 (0); other countries' numbers written with
  + and 10-15 digits; and a labelled extension (内線, ext.) outside the
  city's own ranges.
- ``postal_code`` [郵便番号]: after 〒 or a label, or ddd-dddd before an address.
- ``address`` [住所]: prefecture and/or municipality (市区町村郡) followed by a
  town and block numbers (1-2-3, 二丁目3番4号, 999番地の9), optional room;
  also "1-2-3 Kasumigaseki, Chiyoda-ku, Tokyo".
- ``person_name`` [氏名]: the name before 様/さま/さん/氏/くん/殿 (kanji, with
  department, title and time words cut off; katakana; hiragana; Latin),
  with a bracketed reading; after a label and colon (氏名：, お名前:, Name:);
  after Mr/Ms/Mrs/Dr; before -san/-sama; and with no honorific at all from
  SudachiPy's proper-noun tags (山田太郎から, 佐々木 健一, 小林課長, ヤマダ タロウ),
  romaji and English pairs (Yamada Taro, Emily Carter) (`persons`).
- ``card`` [カード番号]: 13-19 digits in card groupings with a valid Luhn digit.
- ``bank_account`` [口座番号], ``staff_number`` [職員番号], ``birth_date``
  [生年月日] (western dates, Japanese eras, English months), ``password``
  [パスワード]: only after (or, for dates of birth, before) their label words
  (`labelled`).  Mail written as name(at)example.com is ``email``.
- Sapporo's addresses (北8条西5丁目, 平岸3条5丁目7-1, 4条通8丁目, 北8西5,
  もみじ台北5丁目12-3, Kita 8-jo Nishi 5-chome) come from `addresses`, which
  widens a grid or block to the place words before it using the dictionary.

Deliberately kept: ticket and asset numbers, versions, dates, times, IP
addresses, error codes, KB numbers, amounts, ports, in-range extensions,
words that take an honorific without being names (お客様, 皆さん, 担当者様,
業者さん, 仕様), ward offices, city hall, departments, stations and parks,
event dates, a password *word* with no secret after it.

Invisible characters (zero-width spaces) are taken out before detection and
the findings mapped back onto the original text.  `Redactor(legacy=True)` is
the pattern-only redactor as it was before the dictionary, for comparison.

All detectors run on a *folded* copy of the text in which full-width ASCII,
the ideographic space and the many Japanese hyphen look-alikes are mapped to
their ASCII forms one character for one character.  Offsets found in the
folded copy are therefore offsets into the original text, and the original
characters around a finding are kept as they were typed.

Every pattern is linear: character classes that repeat are disjoint from the
separators that follow them, repetitions are bounded, and each pattern checks
the character before its first one, so that a run of digits or letters is
only tried from its start.  `bench/bench_redaction.py` measures the speed.
"""

from .morphology import Morphology, shared_morphology
from .redactor import Redactor
from .text import (
    NEVER_KEPT,
    PLACEHOLDERS,
    Finding,
    Redaction,
    fold_width,
    is_my_number,
    my_number_check_digit,
)

__all__ = [
    "NEVER_KEPT",
    "PLACEHOLDERS",
    "Finding",
    "Morphology",
    "Redaction",
    "Redactor",
    "fold_width",
    "is_my_number",
    "my_number_check_digit",
    "shared_morphology",
]
