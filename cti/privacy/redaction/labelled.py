"""Numbers and secrets that are personal only in context: cards (Luhn), bank accounts, dates of
birth, staff numbers, spoken passwords; and mail addresses written with (at).

Every detector works on the folded text (see `fold_width`) and returns findings with offsets
into it. A date, a seven-digit number or a word is only taken when the words around it say what
it is (生年月日, 口座番号, 職員番号, パスワード ...), so event dates, ticket and asset numbers stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from .text import Finding

# --- cards ---------------------------------------------------------------------

_CARD: Final = re.compile(r"[0-9](?<![0-9A-Za-z\-][0-9])(?:[ \-]?[0-9]){12,18}(?![0-9]|-[0-9])")
# Accepted groupings: none, 4-4-4-4(-1..3), 4-6-4 / 4-6-5 (Diners, Amex).
_CARD_GROUPS: Final = {(16,), (15,), (14,), (13,), (19,), (4, 4, 4, 4), (4, 6, 5), (4, 6, 4),
                       (4, 4, 4, 4, 3), (4, 4, 4, 1), (4, 4, 4, 4, 1), (4, 4, 4, 4, 2)}


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def cards(folded: str) -> list[Finding]:
    found: list[Finding] = []
    for m in _CARD.finditer(folded):
        groups = tuple(len(g) for g in re.split(r"[ \-]", m.group()))
        digits = m.group().replace(" ", "").replace("-", "")
        if groups in _CARD_GROUPS and len(set(re.findall(r"[ \-]", m.group()))) <= 1 and luhn_valid(digits):
            found.append(Finding("card", m.start(), m.end()))
    return found


# --- mail written to dodge harvesters: name(at)example.com, name [at] example [dot] jp ---------

_AT: Final = r"[ ]?(?:\((?i:at)\)|\[(?i:at)\]|<(?i:at)>|\{(?i:at)\}|（(?i:at)）|アットマーク)[ ]?"
_DOT: Final = r"(?:\.|[ ]?(?:\((?i:dot)\)|\[(?i:dot)\])[ ]?)"
_MAIL_AT: Final = re.compile(
    rf"[A-Za-z0-9._%+\-](?<![A-Za-z0-9._%+\-][A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*"
    rf"{_AT}[A-Za-z0-9\-]+(?:{_DOT}[A-Za-z0-9\-]+)+"
)


def obfuscated_mail(folded: str) -> list[Finding]:
    if "at" not in folded.lower() and "アットマーク" not in folded:
        return []
    return [Finding("email", m.start(), m.end()) for m in _MAIL_AT.finditer(folded)]


# --- phones written to get past a filter: 090・1234・5678, 090/1234/5678, 0 9 0 1 2 ..., 〇九〇-... ---

_ODD_SEPARATED: Final = re.compile(
    r"0(?<![0-9A-Za-z]0)[0-9]{1,4}(?P<sep>[ ]?[・/_~*,、の][ ]?)[0-9]{1,4}(?P=sep)[0-9]{3,4}(?![0-9])"
)
_SPACED: Final = re.compile(r"0(?<![0-9A-Za-z]0)(?:[ ][0-9]){9,10}(?![ ]?[0-9])")
_KANJI_DIGITS: Final = "〇一二三四五六七八九"
_KANJI_PHONE: Final = re.compile(
    r"[〇零](?<![〇一二三四五六七八九零十][〇零])[〇零一二三四五六七八九]{1,4}"
    r"(?:[ \-ー・]?[〇零一二三四五六七八九]{1,4}){1,2}(?![〇零一二三四五六七八九十百千])"
)


def obfuscated_phones(folded: str, is_phone: Callable[[str], bool]) -> list[Finding]:
    found: list[Finding] = []
    for pattern in (_ODD_SEPARATED, _SPACED):
        for m in pattern.finditer(folded):
            if is_phone(re.sub("[^0-9]", "", m.group())):
                found.append(Finding("phone", m.start(), m.end()))
    for m in _KANJI_PHONE.finditer(folded):
        digits = "".join(str(_KANJI_DIGITS.index(c)) if c in _KANJI_DIGITS else "0" if c == "零" else ""
                         for c in m.group())
        if is_phone(digits):
            found.append(Finding("phone", m.start(), m.end()))
    return found


# --- values after a label ------------------------------------------------------------

_SEP: Final = r"[ ]?(?:は|:|=|(?<=[A-Za-z ])is)?[ ]?"
_BANK: Final = re.compile(
    r"(?:口座(?:番号)?|普通(?:預金)?|当座(?:預金)?|(?i:account(?: number| no\.?|#)?|acct\.?))"
    rf"{_SEP}(?:(?:普通|当座)(?:預金)?[ ]?)?(?:\(?[ ]?)([0-9]{{7}})(?![0-9])"
)
_STAFF: Final = re.compile(
    r"(?:(?:職員|社員|従業員|教職員)(?:番号|ID|コード|No\.?|ナンバー)"
    r"|(?<![A-Za-z])(?i:(?:staff|employee)[ ]?(?:no\.?|number|id|#|code)))"
    rf"{_SEP}([A-Za-z]{{0,2}}[0-9]{{4,8}})(?![0-9])"
)
_PASSWORD: Final = re.compile(
    r"(?:パスワード|暗証番号|パスコード|(?<![A-Za-z])(?:PW|pw|Pw|(?i:password|passcode|passwd)))"
    r"[ ]?(?:は|:|=|(?<=[A-Za-z ])is)?[ ]?[「『\"']?[ ]?([!-~]{3,64})"
)
_PASSWORD_TRAIL: Final = "」』\"'.,;)"


def bank_accounts(folded: str) -> list[Finding]:
    return [Finding("bank_account", m.start(1), m.end(1)) for m in _BANK.finditer(folded)]


def staff_numbers(folded: str) -> list[Finding]:
    return [Finding("staff_number", m.start(1), m.end(1)) for m in _STAFF.finditer(folded)]


def passwords(folded: str) -> list[Finding]:
    found: list[Finding] = []
    for m in _PASSWORD.finditer(folded):
        start, end = m.start(1), m.end(1)
        while end > start and folded[end - 1] in _PASSWORD_TRAIL:
            end -= 1
        token = folded[start:end]
        # A secret has a digit or a symbol, or is one long word; "is", "reset" or "PIN" are not.
        if len(token) >= 4 and (re.search(r"[0-9!-/:-@\[-`{-~]", token) or len(token) >= 8):
            found.append(Finding("password", start, end))
    return found


# --- dates of birth -------------------------------------------------------------------

_MONTHS: Final = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
_DATE: Final = re.compile(
    r"(?:(?:19|20)[0-9]{2}(?:年[ ]?[0-9]{1,2}月[ ]?[0-9]{1,2}日?|([/.\-])[0-9]{1,2}\1[0-9]{1,2})"
    r"|(?:明治|大正|昭和|平成|令和|[MTSHR])[ ]?(?:[0-9]{1,2}|元)"
    r"(?:年[ ]?[0-9]{1,2}月[ ]?[0-9]{1,2}日?|([/.])[0-9]{1,2}\2[0-9]{1,2})"
    rf"|[0-9]{{1,2}}[ ](?:{_MONTHS})[a-z]*\.?[ ](?:19|20)[0-9]{{2}}"
    rf"|(?:{_MONTHS})[a-z]*\.?[ ][0-9]{{1,2}}(?:st|nd|rd|th)?,?[ ](?:19|20)[0-9]{{2}})(?![0-9])"
)
_BIRTH_BEFORE: Final = re.compile(
    r"(?:生年月日|誕生日|生まれ|(?i:d\.?o\.?b\.?|date of birth|birth ?date|birthday|born))"
    r"[^0-9。\n]{0,6}\Z"
)
_BIRTH_AFTER: Final = re.compile(r"[ ]?(?:生まれ|産まれ|生(?![活産])|(?i:born))")


def birth_dates(folded: str) -> list[Finding]:
    found: list[Finding] = []
    for m in _DATE.finditer(folded):
        before = folded[max(0, m.start() - 20) : m.start()]
        if _BIRTH_BEFORE.search(before) or _BIRTH_AFTER.match(folded, m.end()):
            found.append(Finding("birth_date", m.start(), m.end()))
    return found
