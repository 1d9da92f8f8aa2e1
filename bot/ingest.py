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
#: Releases read from the store at a time when the index is filled from it.
_PAGE = 5000


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
        #: Sources are polled concurrently; their writes go one at a time, so the store sees
        #: one upsert after another and the index is never extended by two threads at once.
        self._write_lock = asyncio.Lock()
        #: Clear while the index is loaded or rebuilt in the background (see bot.indexkeeper):
        #: ingest then leaves the index alone, and the load catches up from the store.
        self.index_ready = asyncio.Event()
        self.index_ready.set()
        #: Grows whenever the index changes, so a snapshot is written only after changes.
        self.index_changes = 0
        #: Held while releases are added to the index, and while a snapshot is written (which
        #: reads the index without copying it; searches go on, additions wait).
        self.index_writes = asyncio.Lock()
        self._pending: list[Release] = []

    async def ingest(self, releases: Sequence[Release], source: str | None, *, notify: bool,
                     progress: Callable[[int], None] | None = None) -> UpsertResult:
        """Upsert ``releases``; with ``notify``, queue alerts for the new ones."""
        plan = self.plan_deliveries if notify else None
        async with self._write_lock:
            result = await self.store.upsert_releases(releases, source, plan, progress)
            changed = [*result.new, *result.updated]
            if not self.index_ready.is_set():
                # The index is loading: it takes these when done (see take_pending).
                self._pending.extend(changed)
                changed = []
            self.index_changes += bool(changed)
            if changed:
                await self._index(changed)
            if result.revision == self._seen_revision + 1:
                # Nothing stored in between by another process: the index holds every release
                # up to this revision (what a snapshot records; the next refresh starts here).
                self._seen_revision = result.revision
        if result.deliveries:
            self.deliveries_added.set()
        return result

    def take_pending(self) -> list[Release]:
        """Releases ingested while the index was loading, not yet in it (and forget them)."""
        pending, self._pending = self._pending, []
        return [release for release in pending if self.index.get(release.id) != release]

    async def add_to_index(self, releases: list[Release]) -> None:
        """Index these releases now (in a worker thread when there are many)."""
        if releases:
            self.index_changes += 1
            await self._index(releases)

    @property
    def seen_revision(self) -> int:
        """Every release stored up to this revision is in the index."""
        return self._seen_revision

    async def load_index(self, since: int = 0, page: int = _PAGE) -> int:
        """Add every release stored after revision ``since`` (all of them at first start).

        Reads the store in pages and indexes each page in a worker thread, so the event loop
        keeps answering and only one page of rows is in memory at a time.
        """
        after: tuple[int, str | None] = (since, None)
        added = 0
        while rows := await self.store.releases_page(after, page):
            after = (rows[-1][0], rows[-1][1].id)
            releases = [release for _, release in rows if self.index.get(release.id) != release]
            if releases:
                async with self.index_writes:
                    await asyncio.to_thread(self.index.add_many, releases)
                added += len(releases)
            del rows, releases
        self._seen_revision = max(self._seen_revision, after[0])
        self.index_changes += bool(added)
        return added

    async def refresh_index(self) -> int:
        """Add releases another process (``newsbot import``) wrote since the last look."""
        if not self.index_ready.is_set():
            return 0  # the index is loading, and that load reads them too
        async with self._write_lock:
            stored, self._seen_revision = await self.store.releases_updated_after(
                self._seen_revision)
            # What this process ingested itself is in the index already; re-adding would cost
            # time and leave dead slots behind.
            releases = [r for r in stored if self.index.get(r.id) != r]
            self.index_changes += bool(releases)
            if releases:
                await self._index(releases)
        return len(releases)

    async def _index(self, releases: list[Release]) -> None:
        async with self.index_writes:
            if len(releases) > _THREAD_THRESHOLD:
                await asyncio.to_thread(self.index.add_many, releases)
            else:
                self.index.add_many(releases)

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
