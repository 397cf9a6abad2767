"""Patterns for phone numbers, e-mail, My Number, postal codes and addresses."""

from __future__ import annotations

import re
from typing import Final

from .text import _KANJI

# --- patterns ----------------------------------------------------------------

# CJK ideographs incl. extension A, compatibility forms and the supplementary
# planes (𠮷田 is a family name), iteration marks, and ヶ/ケ as in 霞ヶ関.
_PREFECTURES: Final = (
    "北海道|東京都|大阪府|京都府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|"
    "神奈川|新潟|富山|石川|福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|"
    "島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡|佐賀|長崎|熊本|大分|宮崎|鹿児島|沖縄)県"
)
_HIRAGANA_CITIES: Final = "さいたま|つくば|いわき|ひたちなか|みどり|かすみがうら|つくばみらい|あきる野"
_HIRAGANA_CITY_INITIALS: Final = "さついひみかあ"
_MUNICIPALITY: Final = rf"(?:(?:{_HIRAGANA_CITIES})市|[{_KANJI}ァ-ヺー]{{1,8}}?(?:市|区|町|村|郡))"
_NUM: Final = r"(?:[0-9]{1,5}|[〇一二三四五六七八九十百千]{1,4})"
_BLOCK_SEP: Final = r"(?:丁目|番地の?|番の?|号|-)"
_ROOM: Final = rf"(?:[ ]?[{_KANJI}ァ-ヺーA-Za-z]{{1,20}}[ ]?[0-9]{{1,4}}(?:号室|階|F))"
_ADDRESS_LABELS: Final = "(?<=住所)|(?<=所在地)|(?<=自宅)|(?<=住所は)"

# Patterns open with a character class and check what precedes it with a
# look-behind over two characters: a leading look-behind would be tried at
# every position of the text and costs three times as much.
_ADDRESS: Final = re.compile(
    # The cheap look-ahead spares the 47 prefectures at most positions.
    rf"(?=[{_KANJI}ァ-ヺ{_HIRAGANA_CITY_INITIALS}])"
    rf"(?:(?:{_PREFECTURES})|(?:(?<![{_KANJI}])|{_ADDRESS_LABELS})(?={_MUNICIPALITY}))"
    rf"{_MUNICIPALITY}{{0,3}}"
    rf"[{_KANJI}ァ-ヺーがの]{{0,10}}?"
    rf"{_NUM}{_BLOCK_SEP}(?:{_NUM}{_BLOCK_SEP}?){{0,3}}"
    rf"(?![0-9]){_ROOM}?"
)
# Every Japanese address match holds one of these; the address pattern only
# runs on a window around each (reach before: prefecture + 3 municipalities +
# town + number = 47 characters at most, after: 3 blocks + room < 60).
_ADDRESS_HINT: Final = re.compile(r"[0-9〇一二三四五六七八九十](?:丁目|番|号|-[0-9])")
_ADDRESS_REACH: Final = (50, 64)
_ADDRESS_UNIT: Final = re.compile("[市区町村郡都道府県]")
_ADDRESS_EN: Final = re.compile(
    r"[0-9](?<![0-9A-Za-z\-][0-9])[0-9]{0,3}-[0-9]{1,4}(?:-[0-9]{1,4})?,? [A-Z][a-z]+(?:-[a-z]+)?,? "
    r"[A-Z][a-z]+-(?:ku|shi|cho|machi|mura|gun)(?![A-Za-z])"
    r"(?:,? [A-Z][a-z]+(?:-(?:to|fu|ken))?(?![A-Za-z]))?"
)
_ADDRESS_EN_HINT: Final = re.compile(r"-(?:ku|shi|cho|machi|mura|gun)(?![A-Za-z])")
_EMAIL: Final = re.compile(
    r"[A-Za-z0-9._%+\-](?<![A-Za-z0-9._%+\-][A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*"
    r"@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
)
_MY_NUMBER: Final = re.compile(
    r"(?P<a>[0-9](?<![0-9A-Za-z\-][0-9])[0-9]{3})(?P<sep>[ \-]?)(?P<b>[0-9]{4})(?P=sep)"
    r"(?P<c>[0-9]{4})(?![0-9]|-[0-9])"
)
_PHONE: Final = re.compile(
    r"[+(0](?<![0-9A-Za-z.\-/+][+(0])"
    r"(?:(?<=\+)(?P<intl>81(?:[ \-]?\(0\))?)[ \-()]{0,3}|(?<=\+)(?P<foreign>(?=[1-9]))"
    r"|(?<=\()(?=0)|(?<=0))"
    r"[0-9]*(?:(?:[ \-()]{1,3}|\.)[0-9]+){0,5}"
)
_DIGITS: Final = re.compile(r"[0-9]+")
_NOT_AN_END: Final = re.compile(r"[.\-/][0-9]")
_EXTENSION: Final = re.compile(
    r"(?:内線|(?i:ext\.?|extension))[ ]?(?:番号)?[ ]?[:：]?[ ]?([0-9]{2,6})(?![0-9]|-[0-9])"
)
_POSTAL_MARKED: Final = re.compile(r"(?:〒|郵便番号)[ ]?[:：]?[ ]?([0-9]{3}-?[0-9]{4})(?![0-9])")
_POSTAL_LABELLED_EN: Final = re.compile(
    r"(?i:postal code|zip code|zip)[ ]?:?[ ]?([0-9]{3}-?[0-9]{4})(?![0-9])"
)
_POSTAL_BARE: Final = re.compile(
    r"([0-9](?<![0-9A-Za-z.\-][0-9])[0-9]{2}-[0-9]{4})(?![0-9]|-[0-9])"
    rf"(?=[ ]?(?:{_PREFECTURES}|[{_KANJI}]{{1,6}}?(?:市|区|町|村|郡)))"
)


def _is_phone_digits(digits: str) -> bool:
    """Japanese numbering plan shapes: 10-digit fixed/free-dial, 11-digit mobile/IP/0800."""
    if len(digits) == 10:
        return digits[0] == "0" and digits[1] != "0"
    if len(digits) == 11:
        return digits.startswith("0800") or (
            digits[0] == "0" and digits[1] in "23456789" and digits[2] == "0"
        )
    return False
