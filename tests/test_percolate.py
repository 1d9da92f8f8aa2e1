"""Percolation: planning through the topic index agrees with testing every subscription."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

from bench.corpus import generate_releases
from bot.ingest import Ingestor, deliveries_for
from bot.releases import Release
from bot.search import SearchIndex
from bot.store import Delivery, Store, Subscription, subscriptions_table
from bot.topics import TopicError, TopicMatcher
from bot.topics.percolate import TopicIndex
from tests.helpers import DATA
from tests.test_topiccount import FIXED, _extra

MATCHER = TopicMatcher.from_file(DATA / "topics.toml")


def _topic_keys(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [w for r in generate_releases(300, seed=seed) for w in r.summary.split()]
    texts = [entry.name for entry in MATCHER.taxonomy()] + FIXED
    while len(texts) < count:
        picked = rng.sample(words, rng.choice((1, 1, 2, 3)))
        if rng.random() < 0.15:
            picked.append("-" + rng.choice(words))
        if rng.random() < 0.1:  # a typo
            word = picked[0]
            if len(word) > 5:
                i = rng.randrange(1, len(word) - 1)
                picked[0] = word[:i] + word[i + 1:]
        texts.append(" ".join(picked))
    keys = []
    for text in texts:
        try:
            keys.append(MATCHER.parse(text).key)
        except TopicError:
            continue
    return [*sorted(set(keys)), ""]


def _plan_by_testing_every_subscription(releases: list[Release],
                                        subs: list[Subscription]) -> list[Delivery]:
    """The reference percolation must agree with: every subscription tested on every release."""
    parsed = {s.topic: MATCHER.parse(s.topic) for s in subs if s.topic}
    matches = []
    for release in releases:
        prepared = MATCHER.prepare(release)
        matches.extend((release, s) for s in subs
                       if s.topic == "" or MATCHER.matches(parsed[s.topic], prepared))
    return deliveries_for(matches)


def _order(d: Delivery) -> tuple[str, int, int]:
    return d.release_id, d.chat_id, d.thread_id


def test_percolation_equals_brute_force_on_random_releases_and_topics() -> None:
    keys = _topic_keys(600, seed=4)
    index = TopicIndex(MATCHER)
    index.add(keys)
    parsed = {k: MATCHER.parse(k) for k in keys if k}
    for release in generate_releases(400, seed=9) + _extra():
        want = sorted(k for k in keys if k == "" or MATCHER.matches(parsed[k], release))
        assert index.matching(release) == want, release.title


async def test_planning_10000_subscriptions_agrees_and_lets_the_loop_run(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 's.sqlite3'}")
    try:
        keys = _topic_keys(300, seed=2)
        rng = random.Random(1)
        for chat in range(50):
            await store.add_subscription(chat, chat % 3, rng.choice(keys))
        # The rest in one transaction, to keep the test quick.
        async with store.engine.begin() as conn:
            await conn.execute(subscriptions_table.insert(), [
                {"chat_id": chat, "thread_id": 0, "topic": rng.choice(keys), "created_at": 0.0}
                for chat in range(50, 10_000)])
        ingestor = Ingestor(store, SearchIndex(), MATCHER)
        releases = generate_releases(20, seed=12)
        subs = await store.subscriptions()
        want = sorted(_plan_by_testing_every_subscription(releases, subs), key=_order)
        ticks = 0
        planning = asyncio.ensure_future(ingestor.plan(releases))

        async def tick() -> None:
            nonlocal ticks
            while not planning.done():
                ticks += 1
                await asyncio.sleep(0)

        await asyncio.gather(planning, tick())
        assert ticks > 1  # the event loop ran other work while planning
        assert sorted(planning.result(), key=_order) == want
        result = await ingestor.ingest(releases, "test", notify=True)
        assert result.deliveries == len(want)
        # A topic subscribed after the index was built is percolated too.
        await store.add_subscription(99_999, 0, "xyzzy")
        extra = generate_releases(1, seed=99)[0]
        extra = replace(extra, id="x1", title="Xyzzy report")
        planned = await ingestor.plan([extra])
        assert any(d.chat_id == 99_999 for d in planned)
    finally:
        await store.close()


def test_percolation_is_exact_whatever_word_a_topic_is_posted_under() -> None:
    """Word frequencies only choose where a topic is posted; any choice gives the same
    answers (here random, and the index is queried before and after more topics arrive)."""
    keys = _topic_keys(500, seed=6)
    rng = random.Random(3)
    frequencies: dict[tuple[str, str], int] = {}

    def frequency(lang: str, word: str, key: str) -> int:
        return frequencies.setdefault((lang, key), rng.randrange(1000))

    index = TopicIndex(MATCHER, frequency)
    first, later = keys[::2], keys[1::2]
    index.add(first)
    parsed = {k: MATCHER.parse(k) for k in keys if k}
    releases = generate_releases(150, seed=21) + _extra()

    def brute(chosen: list[str], release: object) -> list[str]:
        return sorted(k for k in chosen if k == "" or MATCHER.matches(parsed[k], release))

    for release in releases:
        assert index.matching(release) == brute(first, release), release.title
    # The typo map cached for those releases' words must learn the words posted now.
    index.add(later)
    for release in releases:
        assert index.matching(release) == brute(keys, release), release.title


def test_a_typo_topic_added_after_its_release_words_were_cached_still_matches() -> None:
    index = TopicIndex(MATCHER)
    index.add(["forced labour"])
    release = replace(generate_releases(1, seed=3)[0], id="t1", title="Trafficking of miners",
                      summary="Inspectors met the miners.", topics=())
    assert index.matching(release) == []
    index.add(["trafiking", "trafficking", "minres"])
    assert index.matching(release) == sorted(
        k for k in ("trafiking", "trafficking", "minres")
        if MATCHER.matches(MATCHER.parse(k), release))
    assert "trafficking" in index.matching(release)


def test_a_rebuilt_index_reuses_parsed_topics() -> None:
    first = TopicIndex(MATCHER)
    first.add(["child labour", "mining"])
    again = TopicIndex(MATCHER, parsed=first.topics)
    again.add(["mining"])
    assert again.topics["mining"] is first.topics["mining"]
    assert "child labour" not in again.topics
