"""Latency of the similar-question search with ~1,000 articles and ~1,000 resolved tickets.

Runs on SQLite (a temp file) and on the PostgreSQL server at 127.0.0.1:5432 (a throw-away
database, dropped afterwards; skipped if the server is not reachable). The corpus is built from
the labelled set (tests/data/knowledge_questions.json) recombined with helpdesk phrases, so
the trigram index sees realistic Japanese. The queries are the labelled paraphrases, plus
one- and two-character queries (the LIKE fallback). Prints p50/p99/max per backend and
PostgreSQL's EXPLAIN ANALYZE of one article candidate query. The synthetic corpus repeats 19
base texts, so its trigrams are far more common than in real notes: PostgreSQL then prefers a
sequential scan to the GIN index, and the figures are an upper bound.

    .venv/bin/python bench/bench_knowledge.py [--articles 1000] [--tickets 1000] [--queries 300]
        [--profile]

Bounded: at most --queries searches per backend and 60 s of searching each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "knowledge_questions.json"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SEARCH_SECONDS = 60.0
SUBJECTS = ("USBメモリ", "プリンタ", "分離環境", "ポータル", "Excel", "Word", "CACHATTO",
            "AutoCAD", "Adobe Acrobat", "ライセンス", "パスワード", "共有フォルダ", "メール",
            "施設予約", "端末", "Citrix Workspace", "SKYSEA", "ファイル取込", "Teams", "電子決裁")
SYMPTOMS = ("が起動しない", "が表示されない", "でエラーが出る", "にログインできない", "が遅い",
            "が使えない", "の申請方法を知りたい", "が固まる", "で保存できない", "の期限が切れた")
CONTEXTS = ("朝から", "昨日から", "異動後に", "再起動しても", "在宅勤務中に", "会議の前に", "")


def corpus(labelled: dict[str, Any], count: int, rng: random.Random) -> list[dict[str, str]]:
    base = labelled["articles"]
    out = []
    for n in range(count):
        item = base[n % len(base)]
        phrase = f"{rng.choice(CONTEXTS)}{rng.choice(SUBJECTS)}{rng.choice(SYMPTOMS)}"
        out.append({"service": item["service"], "title": f"{phrase}（{n}）",
                    "question": f"{phrase}。{item['question']}" if n % 3 else item["question"],
                    "answer": item["answer"]})
    return out


async def fill(url: str, labelled: dict[str, Any], articles: int, tickets: int) -> None:
    from cti.storage import create_engine, session_factory, upgrade
    from cti.storage.tables import KnowledgeArticleRow, TicketRow

    rng = random.Random(7)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            for item in corpus(labelled, articles, rng):
                session.add(KnowledgeArticleRow(created_by="bench", created_at=NOW, updated_at=NOW,
                                                version=1, **item))
            for n, item in enumerate(corpus(labelled, tickets, rng)):
                at = NOW - timedelta(days=rng.uniform(0, 300), minutes=n)
                session.add(TicketRow(
                    reference=f"HD-2026-{n + 1:06d}", service=item["service"],
                    status=rng.choice(("resolved", "closed", "in_progress", "new")),
                    summary=item["title"] + item["question"], answer=item["answer"],
                    received_at=at, version=1, created_at=at, updated_at=at))
    finally:
        await engine.dispose()


async def measure(url: str, labelled: dict[str, Any], queries: int,
                  profile: bool = False) -> dict[str, float]:
    from cti.storage import create_engine, session_factory
    from cti.storage.knowledge import similar

    engine = create_engine(url)
    sessions = session_factory(engine)
    texts = [q["text"] for q in labelled["queries"]] + ["印刷", "ポ", "VPN"]
    since = NOW - timedelta(days=180)
    timings: list[float] = []
    try:
        await similar(sessions, texts[0], since=since)  # warm the pool
        deadline = time.monotonic() + SEARCH_SECONDS
        for n in range(queries):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            await similar(sessions, texts[n % len(texts)], since=since)
            timings.append((time.perf_counter() - started) * 1000)
        if profile:
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                for text_ in texts[:40]:
                    await similar(sessions, text_, since=since)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(12)
    finally:
        await engine.dispose()
    timings.sort()
    return {"n": len(timings), "p50": statistics.median(timings),
            "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))], "max": timings[-1]}


async def postgres_plan(dsn: str, query: str) -> str:
    """EXPLAIN ANALYZE of the article candidate query the search sends for ``query``."""
    from cti.knowledge import folded_trigrams

    strong, _ = folded_trigrams(query)
    likes = " OR ".join(f"search_text LIKE ${i + 1}" for i in range(len(strong)))
    hits = " + ".join(f"(search_text LIKE ${i + 1})::int" for i in range(len(strong)))
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"EXPLAIN ANALYZE SELECT id FROM knowledge_articles WHERE ({likes})"
            f" ORDER BY {hits} DESC, id DESC LIMIT 50", *[f"%{g}%" for g in strong])
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


def report(backend: str, figures: dict[str, float]) -> None:
    print(f"{backend:10s} searches={int(figures['n'])} p50={figures['p50']:.1f} ms "
          f"p99={figures['p99']:.1f} ms max={figures['max']:.1f} ms")


async def main(articles: int, tickets: int, queries: int, profile: bool) -> None:
    labelled = json.loads(DATA.read_text(encoding="utf-8"))
    print(f"corpus: {articles} articles, {tickets} tickets (about half resolved); "
          f"{queries} searches per backend")
    with tempfile.TemporaryDirectory(prefix="cti-bench-knowledge-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'cti.db'}"
        await fill(url, labelled, articles, tickets)
        report("sqlite", await measure(url, labelled, queries, profile=profile))
    name = f"cti_bench_kn_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"postgresql skipped: {exc}")
        return
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        await fill(url, labelled, articles, tickets)
        report("postgresql", await measure(url, labelled, queries, profile=profile))
        plan = await postgres_plan(f"postgresql://postgres@127.0.0.1:5432/{name}",
                                   "分離環境が起動しません")
        print("postgresql plan for the article candidates:\n  " + plan.replace("\n", "\n  "))
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="cProfile 40 searches per backend")
    args = parser.parse_args()
    if not (1 <= args.articles <= 20000 and 1 <= args.tickets <= 20000 and 1 <= args.queries <= 5000):
        sys.exit("sizes out of range (articles, tickets <= 20000; queries <= 5000)")
    asyncio.run(main(args.articles, args.tickets, args.queries, args.profile))
