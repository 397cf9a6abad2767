"""Personal names: before honorifics, after labels, English titles."""

from __future__ import annotations

import re
from typing import Final

from .text import _KANJI, Finding

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
