"""Knowledge articles (versioned, per service), similarity search, and recent calls for repeats.

Search has two stages. The database finds candidates with its own trigram index (migration
0002): on SQLite the FTS5 ``trigram`` tables ``knowledge_fts`` and ``ticket_fts`` queried with an
``OR`` of the query's trigrams, ranked by bm25; on PostgreSQL a ``LIKE`` per informative query
trigram over the generated ``search_text`` column, which the ``pg_trgm`` GIN indexes answer,
ranked by how many of them a row contains. Then
:func:`cti.knowledge.rank` re-ranks the candidates in Python, so both backends score alike.
Queries too short for trigrams fall back to ``LIKE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.knowledge import (
    Document,
    RecentCall,
    fold_kana,
    folded_trigrams,
    normalize,
    query_trigrams,
    rank,
    to_katakana,
)

from .tables import KnowledgeArticleRow, KnowledgeArticleVersionRow, TicketRow

Sessions = async_sessionmaker[AsyncSession]
RESOLVED = ("resolved", "closed")
CANDIDATES = 50  # rows the index hands to the re-ranking, per kind
SHORT_CANDIDATES = 200
SEARCH_TABLES = frozenset({"knowledge_fts", "ticket_fts"})
SEARCH_INDEXES = frozenset({"ix_knowledge_articles_search_trgm", "ix_tickets_search_trgm"})
SEARCH_COLUMN = "search_text"  # PostgreSQL only: generated, cti_search_text() of the texts


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic filter: the search tables and indexes of migration 0002 live outside the models."""
    if type_ == "table" and name is not None:
        return name not in SEARCH_TABLES and name.rsplit("_", 1)[0] not in SEARCH_TABLES
    if type_ == "index" and name is not None:
        return name not in SEARCH_INDEXES
    if type_ == "column" and name == SEARCH_COLUMN:
        table = getattr(obj, "table", None)
        return getattr(table, "name", None) not in {"knowledge_articles", "tickets"}
    return True


@dataclass(frozen=True, slots=True)
class ArticleVersion:
    version: int
    title: str
    question: str
    answer: str
    edited_by: str
    edited_at: datetime


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    service: str
    title: str
    question: str
    answer: str
    version: int
    source_ticket_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What an editor writes: the parts of an article that are versioned."""

    title: str
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Match:
    """One search result: an article or a resolved ticket, with its similarity (0..1)."""

    kind: str  # "article" or "ticket"
    id: int
    service: str | None
    title: str  # the article's title, or the ticket's reference
    question: str  # the article's question, or the ticket's summary
    answer: str
    score: float
    at: datetime  # the article's last edit, or when the ticket's call came in


@dataclass(frozen=True, slots=True)
class SimilarResult:
    articles: tuple[Match, ...]
    tickets: tuple[Match, ...]


class ArticleNotFound(LookupError):
    pass


class StaleArticle(RuntimeError):
    """The article changed since the editor loaded it."""


class NotPromotable(ValueError):
    """The ticket cannot become an article (not resolved, no service, or nothing to reuse)."""


def _article(row: KnowledgeArticleRow) -> Article:
    return Article(row.id, row.service, row.title, row.question, row.answer, row.version,
                   row.source_ticket_id, row.created_by, row.created_at, row.updated_at)


async def create_article(
    sessions: Sessions, service: str, content: ArticleText, by: str, now: datetime,
    *, source_ticket_id: int | None = None,
) -> Article:
    async with sessions() as session, session.begin():
        row = KnowledgeArticleRow(service=service, title=content.title, question=content.question,
                                  answer=content.answer, version=1,
                                  source_ticket_id=source_ticket_id, created_by=by,
                                  created_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        session.add(KnowledgeArticleVersionRow(article_id=row.id, version=1, title=content.title,
                                               question=content.question, answer=content.answer,
                                               edited_by=by, edited_at=now))
        return _article(row)


async def ticket_for_promotion(sessions: Sessions, ticket_id: int) -> tuple[str, ArticleText]:
    """The service and the text a resolved ticket offers for an article.

    Raises :class:`NotPromotable` unless the ticket is resolved or closed, has a service and
    both a summary and an answer. The title is the summary's first line (at most 80 characters).
    """
    async with sessions() as session:
        row = await session.get(TicketRow, ticket_id)
    if row is None:
        raise NotPromotable(f"no ticket {ticket_id}")
    if row.status not in RESOLVED:
        raise NotPromotable(f"ticket {row.reference} is {row.status}; only resolved or closed "
                            "tickets become articles")
    if row.service is None:
        raise NotPromotable(f"ticket {row.reference} has no service")
    if not row.summary.strip() or not row.answer.strip():
        raise NotPromotable(f"ticket {row.reference} needs a summary and an answer")
    title = row.summary.strip().splitlines()[0][:80]
    return row.service, ArticleText(title, row.summary.strip(), row.answer.strip())


async def edit_article(
    sessions: Sessions, article_id: int, content: ArticleText, by: str, now: datetime,
    *, expected_version: int | None = None,
) -> Article:
    """Store a new version; the article shows it from now on and keeps every earlier one."""
    async with sessions() as session, session.begin():
        row = await session.get(KnowledgeArticleRow, article_id, with_for_update=True)
        if row is None:
            raise ArticleNotFound(article_id)
        if expected_version is not None and row.version != expected_version:
            raise StaleArticle(f"article {article_id} is at version {row.version}, "
                               f"not {expected_version}")
        row.version += 1
        row.title, row.question, row.answer = content.title, content.question, content.answer
        row.updated_at = now
        session.add(KnowledgeArticleVersionRow(article_id=row.id, version=row.version,
                                               title=content.title, question=content.question,
                                               answer=content.answer, edited_by=by, edited_at=now))
        await session.flush()
        return _article(row)


async def get_article(sessions: Sessions, article_id: int) -> tuple[Article, list[ArticleVersion]]:
    """The article and all its versions, newest first."""
    async with sessions() as session:
        row = await session.get(KnowledgeArticleRow, article_id)
        if row is None:
            raise ArticleNotFound(article_id)
        versions = (await session.scalars(
            select(KnowledgeArticleVersionRow)
            .where(KnowledgeArticleVersionRow.article_id == article_id)
            .order_by(KnowledgeArticleVersionRow.version.desc()))).all()
        return _article(row), [ArticleVersion(v.version, v.title, v.question, v.answer,
                                              v.edited_by, v.edited_at) for v in versions]


async def list_articles(sessions: Sessions, service: str | None = None,
                        limit: int = 500) -> list[Article]:
    query = select(KnowledgeArticleRow).order_by(KnowledgeArticleRow.service,
                                                 KnowledgeArticleRow.id).limit(limit)
    if service is not None:
        query = query.where(KnowledgeArticleRow.service == service)
    async with sessions() as session:
        return [_article(r) for r in (await session.scalars(query)).all()]


# --- similarity search ----------------------------------------------------------------------


def _spellings(text_: str) -> list[str]:
    base = text_.strip()
    nfkc = normalize(base)
    return sorted({base.lower(), nfkc, to_katakana(nfkc), fold_kana(base.lower())} - {""})


def _like_any(columns: Sequence[Any], words: Sequence[str]) -> ColumnElement[bool]:
    escaped = [_escape_like(w) for w in words]
    return or_(*(c.ilike(f"%{w}%", escape="\\") for c in columns for w in escaped))


def _grams(query: str, dialect: str) -> list[str]:
    if dialect == "sqlite":
        return query_trigrams(query)
    strong, weak = folded_trigrams(query)
    return strong + weak


async def _article_candidates(session: AsyncSession, query: str, service: str | None,
                              dialect: str) -> list[KnowledgeArticleRow]:
    grams = _grams(query, dialect)
    base: Select[Any] = select(KnowledgeArticleRow)
    if service is not None:
        base = base.where(KnowledgeArticleRow.service == service)
    if not grams:
        cols = (KnowledgeArticleRow.title, KnowledgeArticleRow.question, KnowledgeArticleRow.answer)
        stmt = base.where(_like_any(cols, _spellings(query)))
        return list((await session.scalars(
            stmt.order_by(KnowledgeArticleRow.updated_at.desc()).limit(SHORT_CANDIDATES))).all())
    if dialect == "sqlite":
        ids = [r[0] for r in (await session.execute(text(
            "SELECT a.id FROM knowledge_fts JOIN knowledge_articles a ON a.id = knowledge_fts.rowid"
            " WHERE knowledge_fts MATCH :match AND (:service IS NULL OR a.service = :service)"
            " ORDER BY bm25(knowledge_fts, 2.0, 2.0, 1.0) LIMIT :n"),
            {"match": _fts_match(grams), "service": service, "n": CANDIDATES})).all()]
    else:
        ids = await _pg_ids(session, "knowledge_articles", query, service, "")
    if not ids:
        return []
    return list((await session.scalars(base.where(KnowledgeArticleRow.id.in_(ids)))).all())


async def _ticket_candidates(session: AsyncSession, query: str, service: str | None,
                             since: datetime, dialect: str) -> list[TicketRow]:
    grams = _grams(query, dialect)
    base: Select[Any] = select(TicketRow).where(TicketRow.status.in_(RESOLVED),
                                                TicketRow.received_at >= since,
                                                TicketRow.summary != "")
    if service is not None:
        base = base.where(TicketRow.service == service)
    if not grams:
        stmt = base.where(_like_any((TicketRow.summary, TicketRow.answer), _spellings(query)))
        return list((await session.scalars(
            stmt.order_by(TicketRow.received_at.desc()).limit(SHORT_CANDIDATES))).all())
    if dialect == "sqlite":
        ids = [r[0] for r in (await session.execute(text(
            "SELECT t.id FROM ticket_fts JOIN tickets t ON t.id = ticket_fts.rowid"
            " WHERE ticket_fts MATCH :match AND t.status IN ('resolved', 'closed')"
            " AND t.received_at >= :since AND (:service IS NULL OR t.service = :service)"
            " ORDER BY bm25(ticket_fts, 2.0, 1.0) LIMIT :n")
            .bindparams(bindparam("since", type_=TicketRow.__table__.c.received_at.type)),
            {"match": _fts_match(grams), "service": service, "n": CANDIDATES,
             "since": since})).all()]
    else:
        ids = await _pg_ids(session, "tickets", query, service,
                            " AND status IN ('resolved', 'closed')")
    if not ids:
        return []
    return list((await session.scalars(base.where(TicketRow.id.in_(ids)))).all())


def _fts_match(grams: Sequence[str]) -> str:
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)


async def _pg_ids(session: AsyncSession, table: str, query: str, service: str | None,
                  extra: str) -> list[int]:
    """Rows whose ``search_text`` has the query's informative trigrams, those with most first.

    When they give fewer than :data:`CANDIDATES` rows, rows with the query's hiragana trigrams
    fill the pool (a query written in kana may only share those). ``extra`` repeats the partial
    index's predicate so that the planner can use it.
    """
    ids: list[int] = []
    for grams in folded_trigrams(query):
        if grams and len(ids) < CANDIDATES:
            ids += await _pg_matching(session, table, grams, service, extra, ids)
    return ids


async def _pg_matching(session: AsyncSession, table: str, grams: Sequence[str],
                       service: str | None, extra: str, exclude: Sequence[int]) -> list[int]:
    """Each ``LIKE '%abc%'`` is one lookup in the GIN trigram index (a bitmap OR of them)."""
    params: dict[str, Any] = {f"g{i}": f"%{_escape_like(g)}%" for i, g in enumerate(grams)}
    likes = [f"search_text LIKE :g{i}" for i in range(len(grams))]
    hits = " + ".join(f"({like})::int" for like in likes)
    skip = f" AND id NOT IN ({', '.join(str(int(i)) for i in exclude)})" if exclude else ""
    rows = await session.execute(text(
        f"SELECT id FROM {table} WHERE ({' OR '.join(likes)}){extra}{skip}"
        " AND (CAST(:service AS text) IS NULL OR service = :service)"
        f" ORDER BY {hits} DESC, id DESC LIMIT :n"),
        {**params, "service": service, "n": CANDIDATES - len(exclude)})
    return [r[0] for r in rows.all()]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def similar(
    sessions: Sessions, query: str, *, since: datetime, service: str | None = None,
    limit: int = 3, min_score: float = 0.05,
) -> SimilarResult:
    """The articles and the resolved tickets (received since ``since``) most like ``query``."""
    if not normalize(query):
        return SimilarResult((), ())
    async with sessions() as session, session.begin():
        dialect = (await session.connection()).dialect.name
        articles = await _article_candidates(session, query, service, dialect)
        tickets = await _ticket_candidates(session, query, service, since, dialect)
    article_docs = {f"a{r.id}": r for r in articles}
    ticket_docs = {f"t{r.id}": r for r in tickets}
    found_articles: list[Match] = []
    for doc, score in rank(query, [Document(k, f"{a.title} {a.question}", a.answer)
                                   for k, a in article_docs.items()])[:limit]:
        a = article_docs[doc.key]
        if score >= min_score:
            found_articles.append(Match("article", a.id, a.service, a.title, a.question, a.answer,
                                        score, a.updated_at))
    found_tickets: list[Match] = []
    for doc, score in rank(query, [Document(k, t.summary, t.answer)
                                   for k, t in ticket_docs.items()])[:limit]:
        t = ticket_docs[doc.key]
        if score >= min_score:
            found_tickets.append(Match("ticket", t.id, t.service, t.reference, t.summary, t.answer,
                                       score, t.received_at))
    return SimilarResult(tuple(found_articles), tuple(found_tickets))


async def recent_calls(sessions: Sessions, since: datetime, limit: int = 2000) -> list[RecentCall]:
    """Tickets with a service received since ``since``, oldest first, for repeat detection."""
    query = (select(TicketRow).where(TicketRow.received_at >= since, TicketRow.service.is_not(None))
             .order_by(TicketRow.received_at, TicketRow.id).limit(limit))
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [RecentCall(r.id, r.reference, r.service or "", r.received_at, r.summary, r.category)
            for r in rows]
