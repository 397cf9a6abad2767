"""Knowledge articles over HTTP, the similar-question search, and suspected incidents.

Who may do what:

- every role reads articles and searches (``GET /api/knowledge``, ``/api/knowledge/{id}``,
  ``/api/knowledge/similar``); the search also shows resolved tickets' summaries and answers,
  which were redacted when they were written, whoever the operator was;
- supervisors and admins create, promote and edit articles. An article is shown to every
  operator at screen-pop time, so publishing one is a supervisor's decision; operators suggest
  one by resolving a ticket with a good answer (a proposal queue needs a status column);
- supervisors, managers and admins see suspected incidents.

Every text an article stores goes through the redactor first. Writes go to the audit log;
reads of articles are not audited (no personal data once redacted).
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Any

from aiohttp import web

from cti.auth import ANY_ROLE, READERS, SUPERVISORS
from cti.clock import wire_time
from cti.errors import InvalidRequest, NotFound, StaleWrite
from cti.keys import CLOCK, REDACTOR, SESSIONS, SETTINGS
from cti.knowledge import SuspectedIncident, group_repeats
from cti.storage import audit
from cti.storage import knowledge as store
from cti.web.body import helpdesk_zone, json_object, reply
from cti.web.openapi import INTEGER, NUMBER, STRING, TIME, array, documented, nullable, obj
from cti.web.security import allow_roles, principal

routes = web.RouteTableDef()
MAX_TITLE = 255
MAX_TEXT = 4000
MAX_QUERY = 500
TICKET_DAYS = 180  # resolved tickets older than this are not offered as similar
#: ``article_json``
ARTICLE = obj(id=INTEGER, service=STRING, title=STRING, question=STRING, answer=STRING,
              version=INTEGER, source_ticket_id=nullable(INTEGER), created_by=STRING,
              created_at=TIME, updated_at=TIME)
ARTICLE_WITH_VERSIONS = {**ARTICLE, "required": [*ARTICLE["required"], "versions"],
                         "properties": {**ARTICLE["properties"], "versions": array(obj(
                             version=INTEGER, title=STRING, question=STRING, answer=STRING,
                             edited_by=STRING, edited_at=TIME))}}
MATCH = obj(kind={"enum": ["article", "ticket"]}, id=INTEGER, service=nullable(STRING),
            title=STRING, question=STRING, answer=STRING, score=NUMBER, at=TIME)
_TEXTS = {"title": {"type": "string", "maxLength": MAX_TITLE},
          "question": {"type": "string", "maxLength": MAX_TEXT},
          "answer": {"type": "string", "maxLength": MAX_TEXT}}


def article_json(article: store.Article, zone: tzinfo) -> dict[str, Any]:
    return {"id": article.id, "service": article.service, "title": article.title,
            "question": article.question, "answer": article.answer, "version": article.version,
            "source_ticket_id": article.source_ticket_id, "created_by": article.created_by,
            "created_at": wire_time(article.created_at, zone),
            "updated_at": wire_time(article.updated_at, zone)}


def _match_json(match: store.Match, zone: tzinfo) -> dict[str, Any]:
    return {"kind": match.kind, "id": match.id, "service": match.service, "title": match.title,
            "question": match.question, "answer": match.answer, "score": match.score,
            "at": wire_time(match.at, zone)}


def _service_filter(request: web.Request) -> str | None:
    value = request.query.get("service")
    return None if value is None else _service(request, value)


def _service(request: web.Request, value: object) -> str:
    services = {s.id for s in request.app[SETTINGS].services}
    if not isinstance(value, str) or value not in services:
        raise InvalidRequest(f"service must be one of {', '.join(sorted(services))}",
                             field="service", got=value)
    return value


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number", field=name, got=raw) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}", field=name, got=value)
    return value


def _text(request: web.Request, body: dict[str, Any], name: str, limit: int,
          fallback: str | None = None) -> str:
    value = body.get(name, fallback)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"{name} must be text of 1 to {limit} characters", field=name)
    return request.app[REDACTOR].redact(value.strip()).text


def _content(request: web.Request, body: dict[str, Any],
             defaults: store.ArticleText | None = None) -> store.ArticleText:
    return store.ArticleText(
        _text(request, body, "title", MAX_TITLE, defaults.title if defaults else None),
        _text(request, body, "question", MAX_TEXT, defaults.question if defaults else None),
        _text(request, body, "answer", MAX_TEXT, defaults.answer if defaults else None),
    )


def _article_id(request: web.Request) -> int:
    return int(request.match_info["id"])  # the route only matches digits


@routes.get("/api/knowledge")
@allow_roles(ANY_ROLE)
@documented(query={"service": STRING}, response=obj(articles=array(ARTICLE)))
async def list_articles(request: web.Request) -> web.Response:
    service = _service_filter(request)
    found = await store.list_articles(request.app[SESSIONS], service)
    return reply({"articles": [article_json(a, helpdesk_zone(request)) for a in found]})


@routes.get("/api/knowledge/similar")
@allow_roles(ANY_ROLE)
@documented(query={"text": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY},
                   "service": STRING, "limit": {"type": "integer", "minimum": 1, "maximum": 10}},
            response=obj(articles=array(MATCH), tickets=array(MATCH)))
async def similar(request: web.Request) -> web.Response:
    query = request.query.get("text", "")
    if not query.strip() or len(query) > MAX_QUERY:
        raise InvalidRequest(f"text must be 1 to {MAX_QUERY} characters", field="text")
    service = _service_filter(request)
    limit = _int_query(request, "limit", 3, 1, 10)
    since = request.app[CLOCK]() - timedelta(days=TICKET_DAYS)
    found = await store.similar(request.app[SESSIONS], query, since=since, service=service,
                                limit=limit)
    return reply({"articles": [_match_json(m, helpdesk_zone(request)) for m in found.articles],
                  "tickets": [_match_json(m, helpdesk_zone(request)) for m in found.tickets]})


@routes.get(r"/api/knowledge/{id:\d+}")
@allow_roles(ANY_ROLE)
@documented(response=ARTICLE_WITH_VERSIONS)
async def get_article(request: web.Request) -> web.Response:
    try:
        article, versions = await store.get_article(request.app[SESSIONS], _article_id(request))
    except store.ArticleNotFound:
        raise NotFound(f"no article {request.match_info['id']}") from None
    zone = helpdesk_zone(request)
    body = article_json(article, zone)
    body["versions"] = [{"version": v.version, "title": v.title, "question": v.question,
                         "answer": v.answer, "edited_by": v.edited_by,
                         "edited_at": wire_time(v.edited_at, zone)} for v in versions]
    return reply(body)


@routes.post("/api/knowledge")
@allow_roles(SUPERVISORS)
@documented(body={"type": "object", "properties": {
    "ticket_id": INTEGER, "service": STRING, **_TEXTS}}, response=ARTICLE, status=201)
async def create_article(request: web.Request) -> web.Response:
    """``{"ticket_id": N}`` (fields given too override the ticket's) or all fields typed in."""
    body = await json_object(request)
    unknown = set(body) - {"ticket_id", "service", "title", "question", "answer"}
    if unknown:
        raise InvalidRequest(f"unknown fields: {', '.join(sorted(unknown))}", fields=sorted(unknown))
    ticket_id = body.get("ticket_id")
    sessions = request.app[SESSIONS]
    if ticket_id is not None:
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise InvalidRequest("ticket_id must be a ticket's id", field="ticket_id")
        try:
            ticket_service, defaults = await store.ticket_for_promotion(sessions, ticket_id)
        except store.NotPromotable as exc:
            raise InvalidRequest(str(exc), field="ticket_id") from None
        service = _service(request, body.get("service", ticket_service))
        content = _content(request, body, defaults)
    else:
        service = _service(request, body.get("service"))
        content = _content(request, body)
    who, now = principal(request), request.app[CLOCK]()
    article = await store.create_article(sessions, service, content, who.name, now,
                                         source_ticket_id=ticket_id)
    await audit.record(sessions, audit.AuditEntry(
        now, who.name, who.role.value, "knowledge.create", f"article:{article.id}",
        {"service": service, "source_ticket_id": ticket_id}))
    return reply(article_json(article, helpdesk_zone(request)), status=201)


@routes.put(r"/api/knowledge/{id:\d+}")
@allow_roles(SUPERVISORS)
@documented(body={"type": "object", "properties": {**_TEXTS, "version": INTEGER}},
            response=ARTICLE)
async def edit_article(request: web.Request) -> web.Response:
    """A new version; fields left out keep their current text. ``version`` guards lost updates."""
    body = await json_object(request)
    unknown = set(body) - {"title", "question", "answer", "version"}
    if unknown:
        raise InvalidRequest(f"unknown fields: {', '.join(sorted(unknown))}", fields=sorted(unknown))
    expected = body.get("version")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
        raise InvalidRequest("version must be the article's version number", field="version")
    sessions = request.app[SESSIONS]
    try:
        current, _ = await store.get_article(sessions, _article_id(request))
    except store.ArticleNotFound:
        raise NotFound(f"no article {request.match_info['id']}") from None
    content = _content(request, body, store.ArticleText(current.title, current.question,
                                                        current.answer))
    who, now = principal(request), request.app[CLOCK]()
    try:
        article = await store.edit_article(sessions, current.id, content, who.name, now,
                                           expected_version=expected)
    except store.StaleArticle as exc:
        raise StaleWrite(str(exc)) from None
    changed = [n for n in ("title", "question", "answer")
               if getattr(content, n) != getattr(current, n)]
    await audit.record(sessions, audit.AuditEntry(
        now, who.name, who.role.value, "knowledge.edit", f"article:{article.id}",
        {"version": article.version, "fields": changed}))
    return reply(article_json(article, helpdesk_zone(request)))


def _incident_json(group: SuspectedIncident, zone: tzinfo) -> dict[str, Any]:
    return {"service": group.service, "count": len(group.calls),
            "first_at": wire_time(group.first_at, zone), "last_at": wire_time(group.last_at, zone),
            "tickets": [{"id": c.ticket_id, "reference": c.reference, "summary": c.summary,
                         "category": c.category, "received_at": wire_time(c.received_at, zone)}
                        for c in group.calls]}


@routes.get("/api/incidents/suspected")
@allow_roles(READERS)
@documented(query={"window_minutes": {"type": "integer", "minimum": 5, "maximum": 240},
                   "min_calls": {"type": "integer", "minimum": 2, "maximum": 50},
                   "hours": {"type": "integer", "minimum": 1, "maximum": 72}},
            response=obj(window_minutes=INTEGER, min_calls=INTEGER, hours=INTEGER,
                         suspected=array(obj(
                             service=STRING, count=INTEGER, first_at=TIME, last_at=TIME,
                             tickets=array(obj(id=INTEGER, reference=STRING, summary=STRING,
                                               category=nullable(STRING), received_at=TIME))))))
async def suspected_incidents(request: web.Request) -> web.Response:
    """Groups of alike calls of one service; looks at the last ``hours`` (default 8)."""
    window = _int_query(request, "window_minutes", 30, 5, 240)
    min_calls = _int_query(request, "min_calls", 3, 2, 50)
    hours = _int_query(request, "hours", 8, 1, 72)
    now = request.app[CLOCK]()
    calls = await store.recent_calls(request.app[SESSIONS], now - timedelta(hours=hours))
    groups = group_repeats(calls, window=timedelta(minutes=window), min_calls=min_calls)
    return reply({"window_minutes": window, "min_calls": min_calls, "hours": hours,
                  "suspected": [_incident_json(g, helpdesk_zone(request)) for g in groups]})
