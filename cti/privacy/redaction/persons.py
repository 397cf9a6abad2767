"""Bare person names from Sudachi's proper-noun tags (人名 姓/名), and romaji or English names.

Japanese: a surname (姓), alone or followed by a given name (名), with or without a space
(山田太郎, 佐々木 健一, 小林 in 小林課長, ヤマダ タロウ, さとう はなこ). A given name after a
space is joined to a short word before it that the dictionary reads as a place or a common
noun (東 雅人, 千葉 由美), and a short kanji word after a surname and a space is taken as its
given name (土屋 光). A name word directly followed by a place or an organisation suffix
(佐川急便, 平岸駅, 北村ビル) is not a person. A given name alone is left to the honorific rules.

Latin: two or three capitalised words of which at least one is a known Japanese name in romaji
or a name in the dictionary, and none a product, vendor or place word (Taro Yamada, Yamada
Taro, Emily Carter).
"""

from __future__ import annotations

import re
from typing import Final

from .morphology import Word
from .names import _KANJI_STOP, _ROLE_END_WORDS
from .text import Finding

_NOT_A_PERSON_AFTER: Final = (
    "駅", "区", "市", "町", "村", "通", "線", "店", "銀行", "運輸", "急便", "病院", "公園", "ビル",
    "ホール", "会館", "商事", "建設", "電機", "工業", "産業", "製作所", "小学校", "中学校", "高校",
    "大学", "支所", "出張所", "庁舎", "県", "川", "山", "橋", "港", "空港", "通り", "家", "式",
    "流", "氏名", "さんご", "先生", "振興局", "局", "体育館", "図書館", "センター", "団地", "神社",
    "温泉", "地区", "小学", "中学", "プール", "球場", "競技場", "霊園", "ダム", "トンネル",
)
# A place that is also a surname, followed by の and a public facility: 藤野の出張所.
_FACILITY_AFTER_NO: Final = (
    "の出張所", "の支所", "の駅", "の区役所", "の体育館", "の公園", "の会館", "の図書館",
    "のまちづくりセンター", "の地区センター", "の区民センター", "の病院", "の小学校", "の中学校",
)
_KANJI_RUN: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]{1,3}(?![\u3400-\u9fff々])")
_KANJI_TAIL: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]{1,3}\Z")
_ROMAJI_SURNAMES: Final = frozenset(
    "Sato Suzuki Takahashi Tanaka Ito Watanabe Yamamoto Nakamura Kobayashi Kato Yoshida Yamada "
    "Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Yamazaki Mori Abe Ikeda Hashimoto "
    "Yamashita Ishikawa Nakajima Maeda Fujita Ogawa Goto Okada Hasegawa Murakami Kondo Ishii "
    "Saito Sakamoto Endo Aoki Fujii Nishimura Fukuda Ota Miura Fujiwara Okamoto Matsuda Nakagawa "
    "Nakano Harada Ono Tamura Takeuchi Kaneko Wada Nakayama Ishida Ueda Morita Hara Shibata Sakai "
    "Kudo Yokoyama Miyazaki Miyamoto Uchida Takagi Ando Taniguchi Ohno Maruyama Imai Takada "
    "Fujimoto Takeda Murata Ueno Sugiyama Masuda Sugawara Hirano Otsuka Chiba Kubo Matsui Iwasaki "
    "Sakurai Kikuchi Narita Konno Honma Kikuchi Noguchi Arai Kojima Kubota Hirata Nomura Sano "
    "Sugimoto Kitamura Nishida Komatsu Yamane Oshima Kawaguchi Kawamura Sasaki Takano Murai".split()
)
_ROMAJI_GIVEN: Final = frozenset(
    "Taro Jiro Ichiro Hanako Kenji Kenta Yuki Yuko Aiko Daiki Mai Aoi Yuto Haruto Sota Yui Hina Rin "
    "Mei Sakura Riku Ren Takumi Shota Hiroshi Takashi Makoto Akira Satoshi Naoki Kazuya Yusuke "
    "Daisuke Ryota Misaki Ayaka Emi Megumi Naomi Yumi Keiko Tomoko Kaori Mayumi Miho Kenichi Koji "
    "Yoichi Tsubasa Yuka Haruka Nana Sho Hikaru Kazuki Tomoya Shun Kaito Minato Itsuki Riko Saki "
    "Ami Yuna Miyu Kanon Koharu Akari Nao Ryo Jun Ken Kei Hiroki Masato Tetsuya Yoshiko Sachiko "
    "Noriko Hiromi Kumiko Masako Michiko Kazuko Akiko Ayumi Chihiro Asuka Natsuki Mizuki".split()
)
_LATIN_STOP: Final = frozenset(
    "Microsoft Windows Office Teams Excel Outlook Word Chrome Edge Client View Hello Sapporo Kita "
    "Chuo Minami Nishi Higashi Toyohira Shiroishi Atsubetsu Teine Kiyota Hokkaido Tokyo Japan "
    "Ward City Hall Office Please Caller Contact Name Address Mr Ms Mrs Dr The Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December Adobe Google Apple Amazon Oracle Cisco Fujitsu Hitachi "
    "Ricoh Canon Epson Dell Lenovo Zoom Suzuki-san Honda Toyota Mazda Subaru Nissan Yamaha Sony "
    "Panasonic Sharp Toshiba Kyocera Brother NEC VPN PC".split()
)
_LATIN_WORDS: Final = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+(?:[ ][A-Z][a-z]+){1,3}(?![A-Za-z])")


_MUNICIPAL: Final = ("市", "区", "町", "村", "局", "部", "課")


def _is_office(surface: str) -> bool:
    """Words the dictionary also knows as surnames that here name an office (区役所, 本部)."""
    return surface in _KANJI_STOP or surface.endswith(_ROLE_END_WORDS) or surface in ("本部", "支部")


def _name_word(word: Word) -> bool:
    return word.is_surname or word.is_given_name


def _followed_by_suffix(folded: str, end: int) -> bool:
    return folded.startswith(_NOT_A_PERSON_AFTER, end) or folded.startswith(_FACILITY_AFTER_NO, end)


def _short_word_before(words: list[Word], i: int) -> int | None:
    """Start of the family name before the lone name word `i` and one space: 東 in 東 雅人,
    千葉 in 千葉 由美 (one kanji, or a proper noun of up to three, standing alone)."""
    if i < 2 or words[i - 1].surface != " " or words[i - 2].end != words[i - 1].start:
        return None
    family = words[i - 2]
    proper = len(family.surface) == 1 or family.pos[1] == "固有名詞"
    return family.start if proper and _KANJI_TAIL.fullmatch(family.surface) else None


_TITLES: Final = (
    "課長", "係長", "部長", "主任", "主査", "主事", "次長", "局長", "所長", "室長", "班長", "参事",
    "課長補佐", "部長代理", "社長", "専務", "常務", "理事", "主幹",
)


def _given_after_space(folded: str, words: list[Word], j: int, end: int) -> int:
    """End of a short word after the space at `end` that reads as a given name, else `end`."""
    after = _KANJI_RUN.match(folded, end + 1)
    if after and not folded.startswith(("さん", "様"), end + 1) and not folded.startswith(_TITLES, end + 1):
        return after.end()
    if j + 1 < len(words) and words[j].surface == " ":
        nxt = words[j + 1]
        if (nxt.pos[0] == "名詞" and 2 <= len(nxt.surface) <= 4 and not nxt.surface.isascii()
                and not nxt.surface.startswith(_TITLES) and nxt.pos[1] != "数詞"):
            return nxt.end
    return end


def japanese_names(folded: str, words: list[Word]) -> list[Finding]:
    found: list[Finding] = []
    i = 0
    while i < len(words):
        word = words[i]
        if not _name_word(word) or word.surface.isascii():
            i += 1
            continue
        start, end, j = word.start, word.end, i + 1
        has_surname = word.is_surname
        # Join a following name word, directly or across one space (佐々木 健一).
        while j < len(words):
            nxt = words[j]
            gap = folded[end:nxt.start]
            if nxt.start - end <= 1 and gap in ("", " ") and _name_word(nxt) and not nxt.surface.isascii():
                end, has_surname, j = nxt.end, has_surname or nxt.is_surname, j + 1
            elif gap == "" and nxt.surface == " " and j + 1 < len(words) and _name_word(words[j + 1]) \
                    and not words[j + 1].surface.isascii():
                end, has_surname, j = words[j + 1].end, True, j + 2
            else:
                break
        # 東 雅人 / 千葉 由美: a short word, a space, then the name.
        if j == i + 1 and (family := _short_word_before(words, i)) is not None:
            start, has_surname = family, True
        # 土屋 光, 小林 さくら: a surname, a space and a short word.
        if has_surname and end == word.end and folded.startswith(" ", end):
            end = _given_after_space(folded, words, j, end)
        # A given name alone is a name when it is long enough not to be a word (健太郎, 真由美).
        lone_given = len(folded[start:end]) >= 3 and not folded[start:end].isascii()
        if not (has_surname or lone_given) or _followed_by_suffix(folded, end) or _is_office(word.surface):
            i = j
            continue
        found.append(Finding("person_name", start, end))
        i = j
    return found




def titled_names(folded: str, words: list[Word]) -> list[Finding]:
    """A proper noun right before a title: 小林課長, 松下課長, 小松係長 (whatever the dictionary's guess)."""
    return [
        Finding("person_name", w.start, w.end)
        for w in words
        if w.pos[1] == "固有名詞" and 1 <= len(w.surface) <= 4 and not w.surface.isascii()
        and folded.startswith(_TITLES, w.end) and not w.surface.endswith(_MUNICIPAL)
    ]


def latin_names(folded: str, words: list[Word]) -> list[Finding]:
    found: list[Finding] = []
    persons = {w.surface for w in words if w.is_person and w.surface.isascii()}
    for m in _LATIN_WORDS.finditer(folded):
        parts = m.group().split(" ")
        known = [p in _ROMAJI_SURNAMES or p in _ROMAJI_GIVEN or p in persons for p in parts]
        stop = [p in _LATIN_STOP for p in parts]
        # Trim words at either end that are not names (Please call Taro Yamada).
        first, last = 0, len(parts)
        while first < last and not known[first]:
            first += 1
        while last > first and not known[last - 1]:
            last -= 1
        if last - first < 1 or any(stop[first:last]):
            continue
        if last - first == 1:
            # One known word next to an unknown capitalised word: Emily Carter, Michael Brown.
            if first > 0 and not stop[first - 1]:
                first -= 1
            elif last < len(parts) and not stop[last]:
                last += 1
            else:
                continue
        start = m.start() + sum(len(p) + 1 for p in parts[:first])
        end = start + len(" ".join(parts[first:last]))
        found.append(Finding("person_name", start, end))
    return found
