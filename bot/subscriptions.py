"""The rules of subscribing: no duplicates, a per-chat limit, and what a topic matches so far.

Handlers call these and only word the replies; nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from bot.releases import Release
from bot.search import SearchIndex
from bot.store import Store
from bot.topics import Topic, TopicMatcher

#: How long a /subscribe or /topics reply may spend counting matches.
COUNT_BUDGET_SECONDS = 2.0


class AddStatus(Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    AT_LIMIT = "at limit"


@dataclass(frozen=True)
class AddOutcome:
    """What :func:`add` did, and how many subscriptions the chat had before."""

    status: AddStatus
    existing: int


async def add(store: Store, chat_id: int, thread_id: int, topic: Topic,
              limit: int) -> AddOutcome:
    """Subscribe unless the same subscription exists or the chat is at its limit.

    A duplicate is reported as such even at the limit: it tells the user more.
    """
    subs = await store.subscriptions(chat_id)
    if any(s.thread_id == thread_id and s.topic == topic.key for s in subs):
        return AddOutcome(AddStatus.DUPLICATE, len(subs))
    if len(subs) >= limit:
        return AddOutcome(AddStatus.AT_LIMIT, len(subs))
    added = await store.add_subscription(chat_id, thread_id, topic.key)
    return AddOutcome(AddStatus.ADDED if added else AddStatus.DUPLICATE, len(subs))


def all_releases(index: SearchIndex) -> Sequence[Release]:
    """Every release, from the in-memory index (reading 100,000 rows per command would not do)."""
    return index.latest(len(index))


@dataclass(frozen=True)
class MatchCounts:
    """How many of the newest ``examined`` releases each topic matches."""

    counts: list[int]
    examined: int
    total: int

    @property
    def complete(self) -> bool:
        return self.examined == self.total


async def count_matches(matcher: TopicMatcher, topics: Sequence[Topic],
                        releases: Sequence[Release],
                        budget_seconds: float = COUNT_BUDGET_SECONDS) -> MatchCounts:
    """How many releases each topic matches, newest first, in a worker thread.

    Tokenising a release costs ~0.2 ms, so 100,000 of them would keep a user waiting for
    half a minute; past ``budget_seconds`` the count stops and says how far it got.
    """
    return await asyncio.to_thread(_count_many, matcher, topics, releases, budget_seconds)


def _count_many(matcher: TopicMatcher, topics: Sequence[Topic], releases: Sequence[Release],
                budget_seconds: float) -> MatchCounts:
    counts = [0] * len(topics)
    deadline = time.monotonic() + budget_seconds
    examined = 0
    for examined, release in enumerate(releases, 1):
        prepared = matcher.prepare(release)  # tokenise each release once for all topics
        for i, topic in enumerate(topics):
            if matcher.matches(topic, prepared):
                counts[i] += 1
        if examined % 256 == 0 and time.monotonic() > deadline:
            break
    return MatchCounts(counts, examined, len(releases))
