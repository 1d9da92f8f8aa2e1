"""The rules behind /subscribe: duplicates, the per-chat limit, bounded match counting."""

from __future__ import annotations

from pathlib import Path

from bot import subscriptions as rules
from bot.releases import Release
from bot.store import Store
from bot.topics import TopicMatcher
from tests.conftest import DATA

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


async def test_count_is_complete_when_there_is_time() -> None:
    found = await rules.count_matches(MATCHER, [MATCHER.parse("xyzzy")], releases(10))
    assert found.complete and found.counts == [0] and found.total == 10


async def test_count_stops_at_its_budget_and_says_how_far_it_got() -> None:
    found = await rules.count_matches(MATCHER, [MATCHER.parse("coal")], releases(1000),
                                      budget_seconds=0.0)
    assert not found.complete and found.examined == 256 and found.total == 1000
    assert found.counts == [256]
