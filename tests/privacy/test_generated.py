"""Generated texts, never used to write the corpus: common names in every spelling, Sapporo town
names in every address form, and the city's public places, which must stay."""

from __future__ import annotations

import random

from cti.privacy.redaction import Redactor

REDACTOR = Redactor()
SURNAMES = (
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 斎藤 清水 "
    "山崎 池田 橋本 阿部 山下 中島 石井 小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤 青木 坂本 福田 "
    "太田 西村 藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田 竹内 小野 田村 中山 和田 石田 森田 上田 "
    "柴田 酒井 工藤 横山 宮崎 宮本 内田 高木 安藤 島田 谷口 大野 高田 丸山 今井 河野 藤本 村田 武田 "
    "杉山 増田 小山 大塚 菅原 久保 松井 岩崎 木下 野口 松尾 菊地 野村 新井 渡部 成田 今野 畠山".split()
)
GIVEN = "太郎 花子 翔太 美咲 健一 陽子 大輔 結衣 拓海 さくら 蓮 陽菜 悠真 美優 健 恵 亮 彩 誠 真由美".split()
TOWNS = (
    "平岸 月寒東 美園 福住 澄川 真駒内 藤野 琴似 八軒 発寒 宮の沢 新琴似 屯田 篠路 あいの里 麻生町 "
    "東苗穂 伏古 栄町 菊水 東札幌 本通 南郷通 大谷地東 もみじ台西 青葉町 厚別中央 北野 里塚 手稲前田 "
    "星置 稲穂 宮の森 山鼻 川沿 石山 北郷 平和 新川 西野 山の手 伏見 中の島 豊平 羊ケ丘 真栄 "
    "美しが丘 平岡 曙 富丘 新発寒 金山 前田 稲積".split()
)
WARDS = "中央区 北区 東区 白石区 厚別区 豊平区 清田区 南区 西区 手稲区".split()
PUBLIC = (
    "中央区役所 北区役所 白石区役所 厚別区役所 豊平区役所 手稲区役所 札幌市役所 本庁舎 札幌駅 大通駅 "
    "すすきの駅 新さっぽろ駅 宮の沢駅 福住駅 琴似駅 北海道庁 大通公園 中島公園 円山動物園 藻岩山 "
    "中央図書館 月寒体育館 北洋銀行 白石区民センター 平岸まちづくりセンター 藤野出張所 石狩振興局 "
    "旭川市役所 小樽市役所".split()
)


def _covered(text: str, piece: str, kind: str) -> bool:
    start = text.index(piece)
    left = set(range(start, start + len(piece)))
    for f in REDACTOR.find(text):
        if f.kind == kind:
            left -= set(range(f.start, f.end))
    return not left


def test_bare_full_names_in_every_spacing() -> None:
    rng = random.Random(11)
    templates = ["{}から電話があった", "担当の{}が対応", "{}がPCを紛失", "対応者：{}", "{}、内線2345"]
    texts = [(rng.choice(templates).format(s + sep + g), s + sep + g)
             for s in SURNAMES for g in rng.sample(GIVEN, 3) for sep in ("", " ", "\u3000")]
    missed = [t for t, name in texts if not _covered(t, name, "person_name")]
    assert len(missed) / len(texts) <= 0.01, missed[:10]


def test_sapporo_addresses_in_every_form() -> None:
    rng = random.Random(12)
    forms = ["{w}{t}{a}条{b}丁目{c}-{d}", "{t}{a}条{b}丁目", "{w}{t}{b}丁目{c}-{d}", "{t}{b}丁目{c}番{d}号",
             "{t}{a}条{b}丁目{c}番地", "札幌市{w}{t}{a}条{b}丁目"]
    texts = []
    for town in TOWNS:
        for form in forms:
            address = form.format(w=rng.choice(WARDS), t=town, a=rng.randint(1, 24), b=rng.randint(1, 18),
                                  c=rng.randint(1, 30), d=rng.randint(1, 20))
            template = rng.choice(["住所は{}です", "{}の自宅", "自宅（{}）から", "{}に住む職員"])
            texts.append((template.format(address), address))
    missed = [t for t, address in texts if not _covered(t, address, "address")]
    assert len(missed) / len(texts) <= 0.02, missed[:10]


def test_public_places_stay() -> None:
    templates = ["{}のプリンタが故障", "{}で研修を実施", "{}からの問い合わせ", "{}2階の会議室",
                 "明日{}で説明会"]
    found = {t: REDACTOR.find(t) for p in PUBLIC for t in (x.format(p) for x in templates)}
    assert {t: f for t, f in found.items() if f} == {}
