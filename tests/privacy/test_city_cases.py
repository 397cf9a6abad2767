"""The misses reported for the city's own texts, each with the exact redacted result."""

from __future__ import annotations

import pytest

from cti.privacy.redaction import Redactor

REDACTOR = Redactor(internal_extensions=(range(2000, 5000),))

CASES = [
    ("北8条西5丁目の自宅", "[住所]の自宅"),
    ("住所は平岸3条5丁目7-1です", "住所は[住所]です"),
    ("南3条西4丁目12番地から", "[住所]から"),
    ("もみじ台北5丁目12-3に住む", "[住所]に住む"),
    ("実家は旭川市4条通8丁目", "実家は[住所]"),
    ("自宅は西新宿2-8-1", "自宅は[住所]"),
    ("北８西５のマンション", "[住所]のマンション"),
    ("職員の山田太郎から電話", "職員の[氏名]から電話"),
    ("対応者：佐々木 健一", "対応者：[氏名]"),
    ("伊藤美咲がUSBメモリを紛失", "[氏名]がUSBメモリを紛失"),
    ("小林課長から依頼", "[氏名]課長から依頼"),
    ("Hanako Suzuki called", "[氏名] called"),
    ("Yamada Taro called", "[氏名] called"),
    ("生年月日は1980年4月1日", "生年月日は[生年月日]"),
    ("昭和55年4月1日生まれ", "[生年月日]生まれ"),
    ("DOB 1975-12-03", "DOB [生年月日]"),
    ("職員番号 123456 の件", "職員番号 [職員番号] の件"),
    ("振込先 普通 1234567", "振込先 普通 [口座番号]"),
    ("パスワードは Sapporo2026! です", "パスワードは [パスワード] です"),
    ("携帯 090\u200b5555\u200b0123 まで", "携帯 [電話番号] まで"),
    ("name(at)example.com に送付", "[メール] に送付"),
    ("カード 4111 1111 1111 1111 で", "カード [カード番号] で"),
    ("連絡先（090-5555-0123）まで", "連絡先（[電話番号]）まで"),
    ("（045）555-0130 にFAX", "[電話番号] にFAX"),
    ("携帯090・1234・5678です", "携帯[電話番号]です"),
    ("〇九〇‐一二三四‐五六七八へ", "[電話番号]へ"),
]

KEPT = [
    "中央区役所2階の窓口",
    "札幌市役所本庁舎の12階",
    "総務局情報システム部からのお知らせ",
    "Windows 11 23H2 でエラー 0x80070005",
    "HD-2026-000123 と PC-012345",
    "内線2345へ転送",
    "2026年4月1日の研修は北区役所で開催",
    "4丁目の交差点で停電",
    "パスワードを変更したい",
    "中央区北1条西2丁目の本庁舎",
    "石狩振興局の端末",
    "藤野の出張所",
    "月寒体育館の予約システム",
]


@pytest.mark.parametrize(("text", "redacted"), CASES, ids=[c[0] for c in CASES])
def test_reported_miss_is_masked_exactly(text: str, redacted: str) -> None:
    assert REDACTOR.redact(text).text == redacted


@pytest.mark.parametrize("text", KEPT)
def test_public_words_stay(text: str) -> None:
    assert REDACTOR.find(text) == ()


def test_zero_width_findings_point_into_the_original() -> None:
    text = "携帯 090\u200b5555\u200b0123 まで"
    [finding] = REDACTOR.find(text)
    assert text[finding.start : finding.end] == "090\u200b5555\u200b0123"


def test_a_kept_word_stays_unmasked_but_a_phone_never() -> None:
    text = "白石さんから090-5555-0123へ"
    assert REDACTOR.redact(text).text == "[氏名]さんから[電話番号]へ"
    assert REDACTOR.redact(text, keep=["白石", "090-5555-0123"]).text == "白石さんから[電話番号]へ"


def test_legacy_redactor_misses_what_the_issue_reported() -> None:
    legacy = Redactor(legacy=True)
    assert legacy.redact("職員の山田太郎から電話").text == "職員の山田太郎から電話"
    assert legacy.redact("北8条西5丁目の自宅").text == "北8条西5丁目の自宅"
