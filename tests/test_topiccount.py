"""Counts from the search index agree with TopicMatcher release by release."""

from __future__ import annotations

import random

import pytest

from bench.corpus import generate_releases
from bot.releases import Release
from bot.search import SearchIndex
from bot.topics import TopicError, TopicMatcher
from bot.topics.count import TopicCounter
from tests.helpers import DATA
from tests.test_search import drop
from tests.test_topics import count

MATCHER = TopicMatcher.from_file(DATA / "topics.toml")

FIXED = ["occupational safety and health", "trafiking", "coal -china", '"child labour"',
         "workers rights", "migrant", "womens", "healht", "safety -health", "traning",
         "low-cost", "lowcost", '"travail des enfants"', "niños", "press", "geneva", "china",
         "inner mongolia", '-"world cup" football', "employment -youth"]


def _extra() -> list[Release]:
    """Hand-made releases for the corners: hyphens, places, topics, typos, languages."""
    rows = [
        ("Low-cost housing for miners", "Coal mine workers in Inner-Mongolia.", "BEIJING",
         ("Mining",), "en"),
        ("Lowcost loans", "Press conference on trafiking and helth.", "Geneva", (), "en"),
        ("Le travail des enfants recule", "Les travailleuses et les niños.", "Genève",
         ("Travail des enfants",), "fr"),
        ("Trabajo infantil", "Los niños trabajan en minas de carbón.", "Lima", (), "es"),
        ("World Cup football", "Safety and health at the world cup.", None,
         ("occupational safety and health",), "en"),
    ]
    return [Release.from_dict({"title": t, "summary": s, "place": p, "topics": list(tp),
                               "language": lang, "date": f"2005-01-0{i + 1}"})
            for i, (t, s, p, tp, lang) in enumerate(rows)]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Release], SearchIndex]:
    releases = generate_releases(3000, seed=7) + _extra()
    return releases, SearchIndex(releases, synonyms=MATCHER.synonyms)


def _topics() -> list[str]:
    """The taxonomy, fixed corner cases, and random word combinations (property-style)."""
    rng = random.Random(11)
    words = [w for r in generate_releases(200, seed=5) for w in r.title.split()]
    made = [entry.name for entry in MATCHER.taxonomy()] + FIXED
    for _ in range(60):
        picked = rng.sample(words, rng.choice((1, 1, 2, 3)))
        if rng.random() < 0.2:
            picked.append("-" + rng.choice(words))
        made.append(" ".join(picked))
    return made


@pytest.mark.parametrize("text", _topics())
def test_count_equals_the_matcher_over_every_release(
        corpus: tuple[list[Release], SearchIndex], text: str) -> None:
    releases, index = corpus
    try:
        topic = MATCHER.parse(text)
    except TopicError:
        pytest.skip("not a topic")
    counter = TopicCounter(index, MATCHER)
    assert counter.counts([topic])[0] == count(MATCHER, topic, releases)


def test_counts_follow_additions_and_removals() -> None:
    releases = generate_releases(300, seed=3)
    index = SearchIndex(releases[:200], synonyms=MATCHER.synonyms)
    counter = TopicCounter(index, MATCHER)
    topic = MATCHER.parse("child labour")
    assert counter.counts([topic])[0] == count(MATCHER, topic, releases[:200])
    index.add_many(releases[200:])
    for release in releases[:50]:
        drop(index, release.id)
    assert counter.counts([topic])[0] == count(MATCHER, topic, releases[50:])
