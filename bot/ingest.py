"""Ingest: releases from any source into the store, the search index and the outbox.

This is the one place where "a release is new" turns into "these chats get it": the new
releases and their outbox rows are written in one transaction (see :meth:`Store.upsert_releases`),
then the in-memory search index is extended without a rebuild.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

from bot.digest import strongest
from bot.releases import Release
from bot.search import SearchIndex
from bot.store import Delivery, Store, Subscription, UpsertResult
from bot.topics import Topic, TopicError, TopicMatcher

log = logging.getLogger(__name__)

#: Above this many releases, index updates run in a worker thread to keep the loop responsive.
_THREAD_THRESHOLD = 200


class Ingestor:
    """Writes releases to the store, plans their alerts, and keeps the index in step."""

    def __init__(self, store: Store, index: SearchIndex, topics: TopicMatcher) -> None:
        self.store = store
        self.index = index
        self.topics = topics
        self._parsed: dict[str, Topic | None] = {}
        #: Set whenever new outbox rows were written, so delivery can start at once.
        self.deliveries_added = asyncio.Event()
        self._seen_revision = 0

    async def ingest(self, releases: Sequence[Release], source: str | None, *, notify: bool,
                     progress: Callable[[int], None] | None = None) -> UpsertResult:
        """Upsert ``releases``; with ``notify``, queue alerts for the new ones."""
        plan = self.plan_deliveries if notify else None
        result = await self.store.upsert_releases(releases, source, plan, progress)
        changed = [*result.new, *result.updated]
        if len(changed) > _THREAD_THRESHOLD:
            await asyncio.to_thread(self.index.add_many, changed)
        elif changed:
            self.index.add_many(changed)
        if result.deliveries:
            self.deliveries_added.set()
        return result

    async def load_index(self) -> None:
        """Fill the search index with everything in the store (at start-up)."""
        await self.refresh_index()

    async def refresh_index(self) -> int:
        """Add releases another process (``newsbot import``) wrote since the last look."""
        stored, self._seen_revision = await self.store.releases_updated_after(
            self._seen_revision)
        # What this process ingested itself is in the index already; re-adding would cost
        # time and leave dead slots behind.
        releases = [r for r in stored if self.index.get(r.id) != r]
        if len(releases) > _THREAD_THRESHOLD:
            await asyncio.to_thread(self.index.add_many, releases)
        elif releases:
            self.index.add_many(releases)
        return len(releases)

    def topic(self, key: str) -> Topic | None:
        """A stored topic key parsed once; None if it no longer parses (then it matches nothing)."""
        if key not in self._parsed:
            try:
                self._parsed[key] = self.topics.parse(key) if key else None
            except TopicError:
                log.warning("stored topic %r no longer parses; it matches nothing", key)
                self._parsed[key] = None
        return self._parsed[key]

    def matches(self, key: str, release: object) -> bool:
        if key == "":
            return True
        topic = self.topic(key)
        return topic is not None and self.topics.matches(topic, release)  # type: ignore[arg-type]

    def plan_deliveries(self, releases: Sequence[Release],
                        subscriptions: Sequence[Subscription]) -> list[Delivery]:
        """One delivery per (release, chat, thread) naming every topic of it that matched.

        Its cadence is the soonest of the matching subscriptions': a release that an instant
        subscription matches is an alert (and is not repeated in that chat's digest).
        """
        by_target: dict[tuple[int, int], list[Subscription]] = defaultdict(list)
        for sub in subscriptions:
            by_target[(sub.chat_id, sub.thread_id)].append(sub)
        deliveries: list[Delivery] = []
        for release in releases:
            prepared = self.topics.prepare(release)
            for (chat_id, thread_id), subs in by_target.items():
                hits = [s for s in subs if self.matches(s.topic, prepared)]
                if hits:
                    deliveries.append(Delivery(release.id, chat_id, thread_id,
                                               tuple(s.topic for s in hits),
                                               strongest([s.cadence for s in hits])))
        return deliveries
