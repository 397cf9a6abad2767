"""Pure parts: normalisation, n-gram weights, ranking and repeat grouping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from knowledge_support import T0

from cti.knowledge import (
    PARTICLE_WEIGHT,
    Document,
    RecentCall,
    folded_trigrams,
    group_repeats,
    ngram_weights,
    normalize,
    query_trigrams,
    rank,
    summary_similarity,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("ＵＳＢメモリ", "usbめもり"),
    ("ｻｰﾊﾞｰ", "さば"),  # half-width kana, long vowel marks dropped
    ("サーバ", "さば"),
    ("Citrix　Workspace（起動）。", "citrix workspace 起動"),
    ("むがいか", "むがいか"),
    ("ヴ", "ゔ"),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_hiragana_ngrams_weigh_less_than_content_words() -> None:
    weights = ngram_weights("印刷できません")
    assert weights["印刷"] == 1.0
    assert weights["ません"] == PARTICLE_WEIGHT
    # Katakana is folded to hiragana but keeps the weight of a content word.
    assert ngram_weights("プリンタ")["ぷりん"] == 1.0
    assert ngram_weights("ぷりんた")["ぷりん"] == PARTICLE_WEIGHT
    assert ngram_weights("a 印") == {"a": 1.0, "印": 1.0}


def test_query_trigrams_cover_every_spelling_and_put_particles_last() -> None:
    grams = query_trigrams("ｻｰﾊﾞｰにつながらない")
    assert {"サーバ", "さーば"} <= set(grams)
    assert grams.index("サーバ") < grams.index("ながら")
    assert query_trigrams("印刷") == []
    assert len(query_trigrams("あ" + "いうえおかきくけこ" * 20, limit=10)) == 10


def test_rank_prefers_the_article_that_covers_the_query() -> None:
    docs = [Document("usb", "USBメモリが使えない", "申請が必要です"),
            Document("print", "プリンタで印刷できない", "ドライバを入れ直してください"),
            Document("pw", "パスワードを忘れた", "再設定してください")]
    ranked = rank("ユーエスビーメモリーが使えません", docs)
    assert ranked[0][0].key == "usb" and ranked[0][1] > ranked[1][1]
    assert rank("印刷が出来ない", docs)[0][0].key == "print"
    assert all(score == 0 for _, score in rank("天気", docs))


def call(n: int, minutes: float, summary: str, service: str = "isolation",
         category: str | None = None) -> RecentCall:
    return RecentCall(n, f"HD-2026-{n:06d}", service, T0 + timedelta(minutes=minutes), summary,
                      category)


def test_alike_calls_within_the_window_are_one_suspected_incident() -> None:
    calls = [
        call(1, 0, "インターネット分離環境が起動しない"),
        call(2, 10, "分離環境が起動しません"),
        call(3, 25, "インターネットの分離環境が立ち上がらない、起動しない"),
        call(4, 12, "パスワードを忘れた"),  # same service, other symptom
        call(5, 5, "分離環境が起動しない", service="portal"),  # other service
        call(6, 200, "分離環境が起動しない"),  # hours later
    ]
    groups = group_repeats(calls, window=timedelta(minutes=30), min_calls=3)
    assert [[c.ticket_id for c in g.calls] for g in groups] == [[1, 2, 3]]
    assert groups[0].service == "isolation"
    assert groups[0].first_at == T0 and groups[0].last_at == T0 + timedelta(minutes=25)
    assert group_repeats(calls, window=timedelta(minutes=8), min_calls=3) == []
    pairs = group_repeats(calls, window=timedelta(minutes=30), min_calls=2)
    assert len(pairs) == 1 and len(pairs[0].calls) == 3


def test_a_continuing_incident_stays_one_group_and_groups_are_newest_first() -> None:
    chain = [call(n, 20 * n, "USBメモリが認識されない", service="skysea") for n in range(1, 6)]
    other = [call(10 + n, 500 + n, "ポータルにログインできない", service="portal")
             for n in range(3)]
    groups = group_repeats([*other, *chain], window=timedelta(minutes=30))
    assert [(g.service, len(g.calls)) for g in groups] == [("portal", 3), ("skysea", 5)]


def test_empty_summaries_are_alike_only_by_category() -> None:
    calls = [call(1, 0, "", category="起動しない"), call(2, 1, "", category="起動しない"),
             call(3, 2, "分離環境が起動しない", category="起動しない"),
             call(4, 3, ""), call(5, 4, ""), call(6, 5, "")]
    groups = group_repeats(calls)
    assert [[c.ticket_id for c in g.calls] for g in groups] == [[1, 2, 3]]
    with pytest.raises(ValueError, match="two calls"):
        group_repeats(calls, min_calls=1)


def test_summary_similarity_is_symmetric_and_bounded() -> None:
    a, b = "分離環境が起動しない", "分離環境が起動しません"
    assert summary_similarity(a, b) == pytest.approx(summary_similarity(b, a))
    assert summary_similarity(a, a) == pytest.approx(1.0)
    assert 0.3 <= summary_similarity(a, b) < 1.0
    assert summary_similarity(a, "パスワードを忘れた") < 0.1
    assert summary_similarity("", "") == 0.0


def test_folded_trigrams_split_informative_from_hiragana() -> None:
    strong, weak = folded_trigrams("ｻｰﾊﾞｰにつながらない")
    assert strong[0] == "さばに" and "さばに" not in weak
    assert "ながら" in weak and all("さば" not in g for g in weak)
    assert folded_trigrams("むがいか") == ([], ["むがい", "がいか"])
    assert folded_trigrams("印刷") == ([], [])
