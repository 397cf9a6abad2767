"""Articles, versions, promotion and similarity search on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from knowledge_support import T0, make_ticket

from cti.storage import create_engine
from cti.storage import knowledge as store
from cti.storage.knowledge import ArticleText, Sessions

# Top-3 hit rate the labelled set must reach on each backend. Measured: 76/78 (0.974) on both,
# top-1 0.885. One miss ("外部メディアがブロックされる" for "外部記憶媒体") shares nothing that
# means anything with its article; the other ranks third below the 0.05 score cut-off the
# console uses. 0.9 allows a few more paraphrases to fall below the cut-off on one backend, and
# still fails if candidate retrieval loses a kind of query (kana spellings, Latin product
# names, a backend's index missing rows) or the scoring regresses.
MIN_TOP3 = 0.9


async def add_labelled_articles(sessions: Sessions, labelled: dict[str, Any]) -> dict[int, str]:
    ids = {}
    for item in labelled["articles"]:
        article = await store.create_article(
            sessions, item["service"], ArticleText(item["title"], item["question"], item["answer"]),
            "sv01", T0)
        ids[article.id] = item["id"]
    return ids


async def test_create_edit_versions_and_list(sessions: Sessions) -> None:
    first = await store.create_article(
        sessions, "skysea", ArticleText("USBメモリが使えない", "USBが認識されない", "申請してください"),
        "sv01", T0)
    assert first.version == 1 and first.created_by == "sv01"
    await store.create_article(sessions, "portal", ArticleText("ポータル", "入れない", "再起動"),
                               "sv01", T0)
    later = T0 + timedelta(hours=1)
    edited = await store.edit_article(
        sessions, first.id, ArticleText("USBメモリが使えない", "USBが認識されない",
                                        "外部記憶媒体使用申請を出してください"),
        "sv02", later, expected_version=1)
    assert edited.version == 2 and edited.updated_at == later and edited.created_at == T0
    article, versions = await store.get_article(sessions, first.id)
    assert article == edited
    assert [(v.version, v.edited_by, v.answer) for v in versions] == [
        (2, "sv02", "外部記憶媒体使用申請を出してください"), (1, "sv01", "申請してください")]
    with pytest.raises(store.StaleArticle):
        await store.edit_article(sessions, first.id, ArticleText("x", "y", "z"), "sv03", later,
                                 expected_version=1)
    with pytest.raises(store.ArticleNotFound):
        await store.get_article(sessions, 999_999)
    assert [a.service for a in await store.list_articles(sessions, "skysea")] == ["skysea"]
    assert {a.service for a in await store.list_articles(sessions)} == {"skysea", "portal"}


async def test_only_resolved_tickets_with_text_are_promotable(sessions: Sessions) -> None:
    open_ticket = await make_ticket(sessions, 1, summary="印刷できない", answer="再起動",
                                    status="in_progress")
    empty = await make_ticket(sessions, 2, summary="印刷できない", answer="")
    resolved = await make_ticket(sessions, 3, service="portal",
                                 summary="ポータルにログインできない\n二行目", answer="パスワードを再設定")
    closed = await make_ticket(sessions, 4, summary="ライセンス切れ", answer="更新済み",
                               status="closed")
    for ticket_id in (open_ticket, empty, 999_999):
        with pytest.raises(store.NotPromotable):
            await store.ticket_for_promotion(sessions, ticket_id)
    service, text = await store.ticket_for_promotion(sessions, resolved)
    assert service == "portal"
    assert text == ArticleText("ポータルにログインできない", "ポータルにログインできない\n二行目",
                               "パスワードを再設定")
    assert (await store.ticket_for_promotion(sessions, closed))[1].title == "ライセンス切れ"


async def test_similar_finds_paraphrases_edits_and_resolved_tickets(sessions: Sessions) -> None:
    usb = await store.create_article(
        sessions, "skysea", ArticleText("USBメモリが使えない（デバイス制御）",
                                        "USBメモリを挿しても使えません。", "申請してください"),
        "sv01", T0)
    vpn = await store.create_article(
        sessions, "telework", ArticleText("CACHATTOで在宅からログインできない",
                                          "自宅から庁内システムに接続できません。",
                                          "ワンタイムパスワードを確認"), "sv01", T0)
    await make_ticket(sessions, 1, service="skysea", summary="ユーエスビーのメモリーを挿しても反応しない",
                      answer="申請案内")
    await make_ticket(sessions, 2, service="skysea", summary="USBメモリが使えないと連絡",
                      answer="対応中", status="in_progress")
    await make_ticket(sessions, 3, service="skysea", summary="USBメモリを挿しても使えない",
                      answer="古い回答", at=T0 - timedelta(days=400))
    since = T0 - timedelta(days=180)

    found = await store.similar(sessions, "ＵＳＢメモリーをさしたけど使えないです", since=since)
    assert found.articles[0].id == usb.id and found.articles[0].kind == "article"
    assert 0 < found.articles[0].score <= 1
    assert [t.question for t in found.tickets] == ["ユーエスビーのメモリーを挿しても反応しない"]

    home = await store.similar(sessions, "在宅勤務でキャッチャットにログインできません", since=since)
    assert home.articles[0].id == vpn.id
    assert (await store.similar(sessions, "在宅でログインできない", since=since,
                                service="skysea")).articles == ()

    # The index follows edits: the new wording is found, the old one no longer is.
    await store.edit_article(sessions, vpn.id, ArticleText("ファイル共有サーバに接続できない",
                                                            "共有フォルダが開けません。", "再接続"),
                             "sv01", T0)
    assert (await store.similar(sessions, "共有フォルダが開けない", since=since)).articles[0].id == vpn.id
    after = await store.similar(sessions, "キャッチャットにログイン", since=since)
    assert vpn.id not in [a.id for a in after.articles]


@pytest.mark.parametrize("query", ["印刷", "ｖ", "ポ"])
async def test_short_queries_fall_back_to_like(sessions: Sessions, query: str) -> None:
    printer = await store.create_article(
        sessions, "other", ArticleText("プリンタで印刷できない", "印刷ボタンを押しても出ない", "再起動"),
        "sv01", T0)
    portal = await store.create_article(
        sessions, "portal", ArticleText("VPN接続", "ポータルに入れない", "再設定"), "sv01", T0)
    found = await store.similar(sessions, query, since=T0 - timedelta(days=1))
    expected = {"印刷": printer.id, "ｖ": portal.id, "ポ": portal.id}[query]
    assert [a.id for a in found.articles] == [expected]


async def test_blank_query_finds_nothing(sessions: Sessions) -> None:
    await store.create_article(sessions, "other", ArticleText("a", "b", "c"), "sv01", T0)
    assert await store.similar(sessions, " 、。 ", since=T0) == store.SimilarResult((), ())


async def test_top3_hit_rate_on_the_labelled_set(sessions: Sessions, labelled: dict[str, Any],
                                                 database_url: str) -> None:
    ids = await add_labelled_articles(sessions, labelled)
    # Resolved tickets in the same index must not disturb the article ranking.
    for n, item in enumerate(labelled["articles"]):
        await make_ticket(sessions, n, service=item["service"], summary=item["question"],
                          answer=item["answer"])
    queries = labelled["queries"]
    assert len(queries) >= 60
    service_of = {a["id"]: a["service"] for a in labelled["articles"]}
    top1 = top3 = top3_in_service = 0
    misses = []
    for q in queries:
        found = await store.similar(sessions, q["text"], since=T0 - timedelta(days=30))
        ranked = [ids[a.id] for a in found.articles]
        top1 += bool(ranked) and ranked[0] == q["article_id"]
        top3 += q["article_id"] in ranked
        if q["article_id"] not in ranked:
            misses.append((q["text"], q["article_id"], ranked))
        # At screen-pop time the caller has chosen the service in the IVR.
        scoped = await store.similar(sessions, q["text"], since=T0 - timedelta(days=30),
                                     service=service_of[q["article_id"]])
        top3_in_service += q["article_id"] in [ids[a.id] for a in scoped.articles]
    backend = database_url.split(":", 1)[0]
    n = len(queries)
    print(f"\nknowledge hit rate [{backend}]: top-1 {top1 / n:.3f}, top-3 {top3 / n:.3f}, "
          f"top-3 within the service {top3_in_service / n:.3f} over {n} queries; misses {misses}")
    assert top3 / n >= MIN_TOP3, misses
    assert top3_in_service >= top3  # fewer competitors can only help


async def test_compare_ignores_only_the_search_objects(database_url: str) -> None:
    """With ``include_object`` the models and migrations agree; the filter hides nothing else."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cti.storage.tables import Base

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(
                sync, opts={"compare_type": True, "include_object": store.include_object}),
                Base.metadata))
            unfiltered = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata))
        assert diff == []
        hidden = {(d[0], d[3].name if d[0] == "remove_column" else d[1].name) for d in unfiltered}
        ours = ({("remove_index", n) for n in store.SEARCH_INDEXES}
                | {("remove_column", store.SEARCH_COLUMN)}
                | {("remove_table", f"{t}{suffix}") for t in store.SEARCH_TABLES
                   for suffix in ("", "_data", "_idx", "_docsize", "_config")})
        assert hidden and hidden <= ours, hidden - ours
    finally:
        await engine.dispose()


async def test_postgres_candidate_queries_can_use_the_trigram_indexes(postgres_server: Any) -> None:
    """The LIKEs can use the GIN indexes (the tickets' one is partial: its predicate must match)."""
    from sqlalchemy import text

    engine = create_engine(await postgres_server.create_database())
    try:
        async with engine.connect() as conn:
            # Inside a transaction that is rolled back: without the status index, the only
            # index left for the tickets' query is the partial trigram one, if it applies.
            await conn.execute(text("DROP INDEX ix_tickets_status"))
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            plans = {}
            for table, extra in (("knowledge_articles", ""),
                                 ("tickets", " AND status IN ('resolved', 'closed')")):
                rows = await conn.execute(text(
                    f"EXPLAIN SELECT id FROM {table} WHERE (search_text LIKE :a"
                    f" OR search_text LIKE :b){extra}"), {"a": "%ぶんり%", "b": "%起動し%"})
                plans[table] = "\n".join(r[0] for r in rows)
            await conn.rollback()
        assert "ix_knowledge_articles_search_trgm" in plans["knowledge_articles"]
        assert "ix_tickets_search_trgm" in plans["tickets"]
    finally:
        await engine.dispose()
