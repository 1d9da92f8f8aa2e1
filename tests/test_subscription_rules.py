"""The rules behind /subscribe: duplicates, the per-chat limit, match counting."""

from __future__ import annotations

from pathlib import Path

from bot.releases import Release
from bot.store import Store
from bot.topics import TopicMatcher, rules
from tests.helpers import DATA

MATCHER = TopicMatcher.from_file(DATA / "topics.toml")


def releases(n: int) -> list[Release]:
    return [Release.from_dict({"title": f"Coal mine report {i}", "date": "2005-01-01",
                               "summary": "Miners and mining." if i % 2 else "Other news."})
            for i in range(n)]


async def test_duplicate_and_limit(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 's.sqlite3'}")
    try:
        mining, osh = MATCHER.parse("mining"), MATCHER.parse("osh")
        first = await rules.add(store, 1, 0, mining, limit=1)
        assert first.status is rules.AddStatus.ADDED
        assert (await rules.add(store, 1, 0, mining, limit=1)).status is rules.AddStatus.DUPLICATE
        assert (await rules.add(store, 1, 0, osh, limit=1)).status is rules.AddStatus.AT_LIMIT
        assert (await rules.add(store, 1, 9, osh, limit=2)).status is rules.AddStatus.ADDED
    finally:
        await store.close()


async def test_count_is_complete() -> None:
    from bot.search import SearchIndex
    index = SearchIndex(releases(1000))
    found = await rules.count_matches(MATCHER, [MATCHER.parse("xyzzy"), MATCHER.parse("coal")],
                                      index)
    assert found.counts == [0, 1000] and found.total == 1000


async def test_suggestions_are_cached_until_the_releases_change() -> None:
    from bot.search import SearchIndex
    index = SearchIndex(releases(4))
    cache: dict = {}
    first = await rules.suggestions(MATCHER, index, cache)
    assert await rules.suggestions(MATCHER, index, cache) is first
    mining = next(s for s in first.items if s.name == "mining")
    assert mining.count == 4 and first.items[0] is mining  # most releases first
    assert first.by_tag(rules.topic_tag("mining")) is mining
    assert first.by_tag(rules.topic_tag("no such topic")) is None
    index.add_many(releases(6)[4:])
    again = await rules.suggestions(MATCHER, index, cache)
    assert again is not first and again.by_tag(mining.tag).count == 6  # type: ignore[union-attr]
