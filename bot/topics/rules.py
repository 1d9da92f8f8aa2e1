"""The rules of subscribing: no duplicates, a per-chat limit, and what a topic matches so far.

Handlers call these and only word the replies; nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bot.digest import INSTANT
from bot.search import SearchIndex
from bot.store import Store
from bot.topics.count import TopicCounter
from bot.topics.matcher import TopicMatcher
from bot.topics.taxonomy import TaxonomyEntry
from bot.topics.topic import Topic, TopicError

#: Suggested-topic counts are reused this long (while the number of releases is unchanged),
#: so a tap on a topic button does not count every release again.
SUGGESTION_CACHE_SECONDS = 60.0


class AddStatus(Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    AT_LIMIT = "at limit"
    #: It existed with another cadence, which is now the one asked for.
    CHANGED = "changed"


@dataclass(frozen=True)
class AddOutcome:
    """What :func:`add` did, and how many subscriptions the chat had before."""

    status: AddStatus
    existing: int
    #: The subscription's cadence before (for CHANGED and DUPLICATE).
    previous: str | None = None


async def add(store: Store, chat_id: int, thread_id: int, topic: Topic,
              limit: int, cadence: str | None = None) -> AddOutcome:
    """Subscribe unless the same subscription exists or the chat is at its limit.

    ``cadence`` (instant, daily, weekly; None: instant for a new subscription) changes an
    existing subscription's cadence when it differs. A duplicate is reported as such even at
    the limit: it tells the user more.
    """
    subs = await store.subscriptions(chat_id)
    same = next((s for s in subs if s.thread_id == thread_id and s.topic == topic.key), None)
    if same is not None:
        if cadence is not None and cadence != same.cadence:
            await store.set_cadence(chat_id, thread_id, topic.key, cadence)
            return AddOutcome(AddStatus.CHANGED, len(subs), same.cadence)
        return AddOutcome(AddStatus.DUPLICATE, len(subs), same.cadence)
    if len(subs) >= limit:
        return AddOutcome(AddStatus.AT_LIMIT, len(subs))
    added = await store.add_subscription(chat_id, thread_id, topic.key, cadence or INSTANT)
    return AddOutcome(AddStatus.ADDED if added else AddStatus.DUPLICATE, len(subs))


@dataclass(frozen=True)
class MatchCounts:
    """How many of the ``total`` indexed releases each topic matches (always all of them)."""

    counts: list[int]
    total: int


async def count_matches(matcher: TopicMatcher, topics: Sequence[Topic],
                        index: SearchIndex) -> MatchCounts:
    """How many indexed releases each topic matches, counted on the index's postings (see
    :mod:`bot.topics.count`) in a worker thread: complete, and what the topics will match."""
    total = len(index)
    counts = await asyncio.to_thread(TopicCounter(index, matcher).counts, topics)
    return MatchCounts(counts, total)


# -- suggested topics (the taxonomy), for /topics and /start buttons -------------------------

def topic_tag(key: str) -> str:
    """A short, stable name for a topic key, for button data (Telegram allows 64 bytes).

    It is derived from the key itself, not from a position in a list or from memory, so a
    button keeps meaning the same topic across restarts and reorderings of the taxonomy.
    """
    return hashlib.blake2s(key.encode("utf-8"), digest_size=5).hexdigest()


@dataclass(frozen=True)
class Suggestion:
    """A suggested topic: its display name, its parsed topic and how many releases match.

    ``entry`` is the taxonomy entry it comes from, which knows the name in other languages."""

    name: str
    topic: Topic
    count: int
    entry: TaxonomyEntry | None = None

    @property
    def tag(self) -> str:
        return topic_tag(self.topic.key)

    def name_in(self, lang: str) -> str:
        """The name readers of ``lang`` see (the subscription itself stays the same topic)."""
        return self.entry.name_in(lang) if self.entry is not None else self.name


@dataclass(frozen=True)
class Suggestions:
    """Suggested topics, most matching releases first, and what the counts cover."""

    items: list[Suggestion]
    found: MatchCounts

    def by_tag(self, tag: str) -> Suggestion | None:
        return next((s for s in self.items if s.tag == tag), None)


async def suggestions(matcher: TopicMatcher, index: SearchIndex,
                      cache: dict[str, Any] | None = None) -> Suggestions:
    """The taxonomy's topics with their counts, most releases first (taxonomy order among
    equals). ``cache`` (a dict kept by the caller) holds the last answer for a while."""
    now = time.monotonic()
    size = len(index)
    cached = cache.get("suggestions") if cache is not None else None
    if (cached is not None and cached[0] == size and now - cached[1] < SUGGESTION_CACHE_SECONDS
            and isinstance(cached[2], Suggestions)):
        return cached[2]
    parsed: list[tuple[TaxonomyEntry, Topic]] = []
    seen: set[str] = set()
    for entry in matcher.taxonomy():
        try:
            topic = matcher.parse(entry.name)
        except TopicError:  # a taxonomy name that is no valid topic is simply not suggested
            continue
        if topic.key not in seen:
            seen.add(topic.key)
            parsed.append((entry, topic))
    found = await count_matches(matcher, [t for _, t in parsed], index)
    items = [Suggestion(entry.name, topic, n, entry)
             for n, (entry, topic) in zip(found.counts, parsed, strict=True)]
    items.sort(key=lambda s: -s.count)  # stable: taxonomy order among equals
    result = Suggestions(items, found)
    if cache is not None:
        cache["suggestions"] = (size, now, result)
    return result
