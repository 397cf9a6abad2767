"""The labelled Japanese knowledge set used to measure similar-article search."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cti.privacy.redaction import Redactor

KNOWLEDGE_FILE = Path(__file__).parents[1] / "data" / "knowledge_questions.json"
SERVICES = {"isolation", "skysea", "portal", "licenses", "telework"}
ARTICLE_KEYS = {"id", "service", "title", "question", "answer"}


@pytest.fixture(scope="module")
def knowledge() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    return data


def _is_japanese(text: str) -> bool:
    return any(unicodedata.name(c, "").startswith(("CJK", "HIRAGANA", "KATAKANA")) for c in text)


def test_articles_have_the_schema(knowledge: dict[str, Any]) -> None:
    articles = knowledge["articles"]
    assert 15 <= len(articles) <= 20
    for article in articles:
        assert set(article) == ARTICLE_KEYS, article.get("id")
        assert all(isinstance(article[k], str) and article[k].strip() for k in ARTICLE_KEYS)
        assert article["service"] in SERVICES
        assert _is_japanese(article["title"]) and _is_japanese(article["answer"])
    ids = [a["id"] for a in articles]
    assert len(ids) == len(set(ids))


def test_queries_point_at_existing_articles(knowledge: dict[str, Any]) -> None:
    ids = {a["id"] for a in knowledge["articles"]}
    for query in knowledge["queries"]:
        assert set(query) == {"text", "article_id"}
        assert query["article_id"] in ids, query
        assert _is_japanese(query["text"])


def test_enough_queries_across_all_five_services(knowledge: dict[str, Any]) -> None:
    service_of = {a["id"]: a["service"] for a in knowledge["articles"]}
    queries = knowledge["queries"]
    assert len(queries) >= 60
    assert {service_of[q["article_id"]] for q in queries} == SERVICES
    assert {a["service"] for a in knowledge["articles"]} == SERVICES


def test_every_article_has_three_to_five_paraphrases(knowledge: dict[str, Any]) -> None:
    per_article = Counter(q["article_id"] for q in knowledge["queries"])
    assert set(per_article) == {a["id"] for a in knowledge["articles"]}
    assert all(3 <= n <= 5 for n in per_article.values()), per_article


def test_queries_are_paraphrases_not_copies(knowledge: dict[str, Any]) -> None:
    texts = [q["text"] for q in knowledge["queries"]]
    assert len(texts) == len(set(texts))
    canonical = {a["question"] for a in knowledge["articles"]} | {a["title"] for a in knowledge["articles"]}
    assert not canonical & set(texts)


def test_set_mixes_in_english_product_names(knowledge: dict[str, Any]) -> None:
    with_latin = [q for q in knowledge["queries"] if any(c.isascii() and c.isalpha() for c in q["text"])]
    assert len(with_latin) >= 10


def test_no_personal_data(knowledge: dict[str, Any]) -> None:
    redactor = Redactor()
    texts = [q["text"] for q in knowledge["queries"]] + [
        a[key] for a in knowledge["articles"] for key in ("title", "question", "answer")
    ]
    leaks = {text: redactor.find(text) for text in texts if redactor.find(text)}
    assert leaks == {}
