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
  after Mr/Ms/Mrs/Dr; before -san/-sama.

Deliberately kept: ticket and asset numbers, versions, dates, times, IP
addresses, error codes, KB numbers, amounts, ports, in-range extensions,
words that take an honorific without being names (お客様, 皆さん, 担当者様,
業者さん, 仕様).  Not found: a name with no honorific or label, an address
without block numbers, a foreign number written without +.

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

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "PLACEHOLDERS",
    "Finding",
    "Redaction",
    "Redactor",
    "fold_width",
    "is_my_number",
    "my_number_check_digit",
]

#: Stable kind ids and the placeholder each is replaced with.
PLACEHOLDERS: Final = MappingProxyType(
    {
        "email": "[メール]",
        "my_number": "[個人番号]",
        "phone": "[電話番号]",
        "postal_code": "[郵便番号]",
        "address": "[住所]",
        "person_name": "[氏名]",
    }
)
# When two findings overlap, the kind listed first wins.
_PRIORITY: Final = {kind: rank for rank, kind in enumerate(PLACEHOLDERS)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal information; offsets index the original text."""

    kind: str
    start: int
    end: int


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


# --- patterns ----------------------------------------------------------------

# CJK ideographs incl. extension A, compatibility forms and the supplementary
# planes (𠮷田 is a family name), iteration marks, and ヶ/ケ as in 霞ヶ関.
_KANJI: Final = "\u3005\u3006\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134fヶケ"
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


# --- person names ------------------------------------------------------------

# Each with the words it starts that are not honorifics (仕様書 is not 仕+様,
# さんか is 参加, くんれん is 訓練).
_HONORIFIC: Final = re.compile(
    r"様(?![式子々相態性])|さま(?!ざ)|さん(?!か(?![らな])|こう|しょう|せい|すう)"
    r"|氏(?!名)|くん(?!れん)|殿(?![下堂様])"
)
_EN_TITLED: Final = re.compile(
    r"(?:Mrs|Mr|Ms|Mx|Dr|Prof|Miss)\.?[ ]*([A-Z][A-Za-z'\-]+(?:[ ][A-Z][A-Za-z'\-]+)?)"
)
# A name after a label and a colon: 氏名：山田 太郎, お名前: ヤマダ, Name: Taro Yamada.
_NAME_AFTER_LABEL: Final = (
    rf"(?P<name>(?P<kanji>[{_KANJI}]{{1,5}}(?:[ ][{_KANJI}]{{1,5}})?)"
    r"|(?P<kana>[\u30a1-\u30fa][\u30a1-\u30faー・]{1,15}(?:[ ][\u30a1-\u30fa][\u30a1-\u30faー・]{1,15})?)"
    r"|(?P<latin>[A-Z][a-z]+(?:[ ][A-Z][a-z]+){0,2}))"
    r"(?:[ ]?\([\u3041-\u3096\u30a1-\u30faー・ ]+\))?"
)
# Literal labels first: the engine then skips ahead to them quickly.
_LABELLED_NAME: Final = re.compile(
    rf"(?:氏名|お名前|名前|申請者|依頼者|連絡者|発信者|担当者|利用者)[ ]?:[ ]?{_NAME_AFTER_LABEL}"
)
_LABELLED_NAME_EN: Final = re.compile(rf"(?<![A-Za-z])(?i:name)[ ]?:[ ]?{_NAME_AFTER_LABEL}")
_EN_SUFFIX: Final = re.compile(r"-(?:san|sama|shi|kun|dono)(?![A-Za-z])")
_EN_SUFFIXED_NAME: Final = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+(?:[ ][A-Z][a-z]+)?\Z")
_LATIN_NAME: Final = re.compile(r"[A-Z][a-z]+")
_READING: Final = re.compile(r"[\u3041-\u3096\u30a1-\u30faー・ ]+")
# Kanji words that take an honorific without being a person's name.
_KANJI_STOP: Final = frozenset(
    "皆 皆々 客 御客 神 王 仏 奥 殿 坊 兄 姉 弟 妹 母 父 親 子 娘 息子 嫁 旦那 同 模 多 異 有 一 左 外 "
    "文 今 彼 両 某 先方 相手 相手方 当方 貴方 奥方 上 各位 隣 大家 医者 先生 職員 担当 利用者 住民 "
    "本人 保守 事務局 委託先 取引先 外部 宮 御 貴 人 他人 富士通 日立 東芝 日本電気 大塚商会".split()
)
# A kanji run ending in one of these is a role or an organisation.
_ROLE_END: Final = frozenset("者員屋課係社店局庁民様")
_ROLE_END_WORDS: Final = tuple(
    "役所 役場 支所 事務所 出張所 保健所 営業所 研究所 病院 学校 大学 協会 組合 法人 "
    "財団 本部 支部 事業部 委員会 議会 窓口 担当".split()
)
_TITLES: Final = tuple(
    "課長補佐 部長代理 課長 部長 係長 社長 所長 市長 局長 室長 班長 館長 "
    "校長 区長 院長 会長 店長 次長 主任 主査 主事 参事 補佐 先生 議員 "
    "委員".split()
)
# A name often follows these directly with no particle: 総務課田中さん, 担当山田様.
_LEADERS: Final = tuple(
    "課 係 担当 窓口 同僚 上司 部下 先輩 後輩 本日 今日 昨日 明日 先日 "
    "先程 以前 隣 宛 連絡先 宛先 氏名 名前".split()
)
_LEADERS_AFTER_TWO: Final = ("部", "室", "局", "所")  # 総務部阿部さん but not 阿部さん
# The greedy prefix ends after the last leader that still leaves a name behind.
_LEADER_PATTERNS: Final = (
    re.compile(f".*(?:{'|'.join(_LEADERS)})(?=.)"),
    re.compile(f".{{2,}}(?:{'|'.join(_LEADERS_AFTER_TWO)})(?=.)"),
)
_KATAKANA_STOP: Final = tuple(
    "ユーザー ユーザ ベンダー ベンダ メーカー メーカ サポート ヘルプデスク "
    "デスク オペレーター オペレータ スタッフ メンバー ゲスト クライアント "
    "カスタマー パートナー センター チーム システム サービス ドライバー "
    "マイクロソフト アドビ オートデスク シトリックス グーグル アップル アマゾン "
    "オラクル シスコ リコー キヤノン エプソン デル レノボ スカイ サーバー "
    "プロバイダ プロバイダー リーダー マネージャー マネージャ エンジニア "
    "オーナー アシスタント キャリア ママ パパ".split()
)
_HIRAGANA_STOP: Final = frozenset("たく ぎょう みな みなさ だれ どなた どちら そちら こちら あちら".split())
_LATIN_STOP: Final = frozenset(
    "Microsoft Adobe Autodesk Citrix Google Apple Amazon Oracle Cisco Fujitsu Hitachi Ricoh "
    "Canon Epson Dell Lenovo Sky Skysea Cachatto Zoom Teams Windows Office".split()
)


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _script(char: str) -> str:
    if (
        "\u4e00" <= char <= "\u9fff"
        or "\u3400" <= char <= "\u4dbf"
        or "\uf900" <= char <= "\ufaff"
        or "\U00020000" <= char <= "\U0003134f"
        or char in "々〆〇ヶ"
    ):
        return "kanji"
    if "\u30a1" <= char <= "\u30fa" or char in "ー・":
        return "katakana"
    if "\u3041" <= char <= "\u3096":
        return "hiragana"
    if _is_latin(char):
        return "latin"
    return "other"


_RUN_TAIL: Final = {
    "kanji": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f々〆〇ヶ]+\Z"),
    "katakana": re.compile(r"[\u30a1-\u30faー・]+\Z"),
    "hiragana": re.compile(r"[\u3041-\u3096]+\Z"),
    "latin": re.compile(r"[A-Za-z]+\Z"),
}


def _run_start(text: str, end: int, script: str, limit: int) -> int:
    """Start of the run of `script` characters ending at `end`, at most `limit` long."""
    run = _RUN_TAIL[script].search(text, max(0, end - limit), end)
    return run.start() if run else end


def _cut_leader(run: str) -> str:
    """Drop a department, role or time word glued in front of a kanji name."""
    cut = 0
    for pattern in _LEADER_PATTERNS:
        if m := pattern.match(run):
            cut = max(cut, m.end())
    return run[cut:]


def _kanji_name(text: str, end: int, honorific: str) -> tuple[int, int] | None:
    start = _run_start(text, end, "kanji", 12)
    run = text[start:end]
    if run.endswith(_TITLES):
        title = next(t for t in _TITLES if run.endswith(t))
        run, end = run[: -len(title)], end - len(title)
    run = _cut_leader(run)
    start = end - len(run)
    if len(run) > 6:
        run, start = run[-4:], end - 4
    if (
        not run
        or _is_role(run)
        or (honorific in ("様", "さま") and run[-1] in "仕同模異紋態")
        or (start > 0 and text[start - 1] in "おご")
    ):
        return None
    # A family name separated by one space: 山田 太郎 様.
    if len(run) <= 4 and start >= 2 and text[start - 1] == " ":
        first_start = _run_start(text, start - 1, "kanji", 4)
        first = text[first_start : start - 1]
        if (
            first
            and first not in _KANJI_STOP
            and _cut_leader(first) == first
            and (first[-1] not in _ROLE_END and not any(first.endswith(w) for w in _LEADERS))
        ):
            start = first_start
    return start, end


def _is_role(run: str) -> bool:
    """A kanji word that is a role, an office or an organisation rather than a name."""
    return (
        run in _KANJI_STOP
        or run[-1] in _ROLE_END
        or run.endswith(_ROLE_END_WORDS)
        or any(word in run for word in ("会社", "株式", "法人"))
        # 総務部, 秘書室; but 阿部 and 氷室 are names, and so are a few longer ones.
        or (len(run) >= 3 and run[-1] in "部室局所" and run not in ("長谷部", "曽我部", "日下部"))
    )


def _labelled_names(folded: str, lowered: str) -> list[Finding]:
    found: list[Finding] = []
    patterns = [_LABELLED_NAME]
    if "name" in lowered:
        patterns.append(_LABELLED_NAME_EN)
    for m in (m for pattern in patterns for m in pattern.finditer(folded)):
        if m.group("kanji") and _is_role(m.group("kanji").replace(" ", "")):
            continue
        if m.group("kana") and m.group("kana").endswith(_KATAKANA_STOP):
            continue
        if m.group("latin") and m.group("latin").split()[0] in _LATIN_STOP:
            continue
        found.append(Finding("person_name", m.start("name"), m.end()))
    return found


def _person_names(folded: str, lowered: str) -> list[Finding]:
    found: list[Finding] = []
    for m in _HONORIFIC.finditer(folded):
        end = m.start() - 1 if m.start() > 0 and folded[m.start() - 1] == " " else m.start()
        reading_end = end
        if end > 0 and folded[end - 1] == ")":  # a reading in brackets: 山田(やまだ)様
            opening = folded.rfind("(", max(0, end - 20), end - 1)
            if opening >= 0 and _READING.fullmatch(folded, opening + 1, end - 1):
                end = opening
        if end <= 0:
            continue
        script = _script(folded[end - 1])
        span: tuple[int, int] | None = None
        if script == "kanji":
            span = _kanji_name(folded, end, m.group())
        elif script == "katakana":
            start = _run_start(folded, end, "katakana", 16)
            name = folded[start:end].strip("・")
            if len(name) >= 2 and not name.endswith(_KATAKANA_STOP):
                span = (start, end)
        elif script == "hiragana":
            start = _run_start(folded, end, "hiragana", 5)
            name = folded[start:end]
            before = _script(folded[start - 1]) if start > 0 else "other"
            if (
                2 <= len(name) <= 4
                and before in ("other", "katakana")
                and name not in _HIRAGANA_STOP
                and name[0] not in "おご"
            ):
                span = (start, end)
        elif script == "latin":
            start = _run_start(folded, end, "latin", 30)
            name = folded[start:end]
            if _LATIN_NAME.fullmatch(name) and name not in _LATIN_STOP:
                span = (start, end)
        if span is not None:
            found.append(Finding("person_name", span[0], reading_end if end < reading_end else span[1]))
    if ":" in folded:
        found.extend(_labelled_names(folded, lowered))
    for m in _EN_TITLED.finditer(folded):
        if m.start() == 0 or not _is_latin(folded[m.start() - 1]):
            found.append(Finding("person_name", m.start(1), m.end(1)))
    for m in _EN_SUFFIX.finditer(folded):  # Tanaka-san
        if latin := _EN_SUFFIXED_NAME.search(folded, max(0, m.start() - 40), m.start()):
            found.append(Finding("person_name", latin.start(), latin.end()))
    return found


_MAX_PASSES: Final = 4


def _resolve(candidates: list[Finding]) -> tuple[Finding, ...]:
    """Non-overlapping findings; where candidates overlap the stronger kind wins."""
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


class Redactor:
    """Finds and replaces personal information; build once from configuration.

    `internal_extensions` are the city's own extension numbers: a number
    labelled as an extension (内線 1234, ext. 1234) inside one of these ranges
    is kept, a labelled extension outside them is treated as a phone number.
    """

    __slots__ = ("_internal_extensions",)

    def __init__(self, internal_extensions: tuple[range, ...] = (range(2000, 5000),)) -> None:
        if not all(isinstance(r, range) for r in internal_extensions):
            raise TypeError("internal_extensions must be a tuple of range objects")
        self._internal_extensions = tuple(internal_extensions)

    def redact(self, text: str) -> Redaction:
        """Replace every finding by its kind's placeholder.

        A replacement changes the context its neighbours were judged in (a
        number glued to an address is only a phone once the address is gone),
        so detection is repeated on the redacted text until nothing new turns
        up; this is what makes redaction idempotent.
        """
        found: tuple[Finding, ...] = ()
        redacted, kept = text, [(0, 0, len(text))]
        for _ in range(_MAX_PASSES):
            more = self._find_once(redacted)
            if not more:
                break
            found = _merge(found, _to_original(more, kept))
            redacted, kept = _apply(text, found)
        return Redaction(text=redacted, found=found)

    def redact_name_field(self, value: str) -> str:
        """A field known to hold a person's name is replaced as a whole."""
        return PLACEHOLDERS["person_name"] if value.strip() else value

    def is_internal_extension(self, number: int) -> bool:
        return any(number in r for r in self._internal_extensions)

    def find(self, text: str) -> tuple[Finding, ...]:
        """Non-overlapping findings in order of position (what `redact` replaces)."""
        return self.redact(text).found

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
                    found.append(Finding("phone", m.start(), end))
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
