"""Ingest: releases from any source into the store, the search index and the outbox.

This is the one place where "a release is new" turns into "these chats get it", read top to
bottom in :meth:`Ingestor.ingest`: plan the alerts (percolation, off the event loop), then in
one store transaction (:meth:`Store.ingest_batch`) store the releases and queue the alerts
of those that turned out new, then extend the in-memory search index without a rebuild.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from bot.digest import strongest
from bot.releases import Release
from bot.search import SearchIndex
from bot.store import Delivery, Store, Subscription, UpsertResult
from bot.text import stem
from bot.topics import TopicMatcher
from bot.topics.percolate import TopicIndex

#: Above this many releases, index updates run in a worker thread to keep the loop responsive.
_THREAD_THRESHOLD = 200
#: Releases read from the store at a time when the index is filled from it.
_PAGE = 5000
#: The topic index is rebuilt from the store this often (to forget topics nobody follows).
TOPICS_REBUILD_SECONDS = 300.0
#: Below this many indexed releases, word frequencies say little: words are ranked by length.
_FREQUENCY_MIN_RELEASES = 200


class Ingestor:
    """Writes releases to the store, plans their alerts, and keeps the index in step."""

    def __init__(self, store: Store, index: SearchIndex, topics: TopicMatcher) -> None:
        self.store = store
        self.index = index
        self.topics = topics
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
        #: Distinct subscription topics, indexed for percolation (built at the first plan).
        self._topic_index: TopicIndex | None = None
        self._topics_seen = 0
        self._topics_built = 0.0

    async def ingest(self, releases: Sequence[Release], source: str | None, *, notify: bool,
                     progress: Callable[[int], None] | None = None) -> UpsertResult:
        """Upsert ``releases``; with ``notify``, queue alerts for the new ones.

        The alerts are planned first (percolation, off the event loop, reading only the
        subscriptions of matching topics), then the releases and the outbox rows of those
        that turn out new are written in one short transaction: a crash can never keep a
        release and lose its alerts.
        """
        async with self._write_lock:
            planned = await self.plan(releases) if notify else []
            async with self.store.ingest_batch(source) as batch:
                stored = await batch.upsert(releases, progress)
                new = {release.id for release in stored.new}
                queued = await batch.enqueue([d for d in planned if d.release_id in new])
            result = replace(stored, deliveries=queued)
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

    def note_topic(self, key: str) -> None:
        """A subscription to ``key`` was just added here: percolate it from now on."""
        if self._topic_index is not None:
            self._topic_index.add([key])

    async def _sync_topics(self) -> TopicIndex:
        """The topic index, caught up with subscriptions stored since the last look (by any
        process); rebuilt now and then so topics nobody follows any more drop out."""
        now = time.monotonic()
        if self._topic_index is None or now - self._topics_built > TOPICS_REBUILD_SECONDS:
            keys, self._topics_seen = await self.store.topics_since(0)
            # Topics already parsed are reused: parsing is most of a rebuild's cost.
            old = self._topic_index.topics if self._topic_index is not None else None
            index = TopicIndex(self.topics, self._frequency, old)
            await asyncio.to_thread(index.add, keys)
            self._topic_index, self._topics_built = index, now
        else:
            keys, self._topics_seen = await self.store.topics_since(self._topics_seen)
            if keys:
                self._topic_index.add(keys)
        return self._topic_index

    def _frequency(self, lang: str, word: str, key: str) -> int | None:
        """About how many indexed releases hold a topic word (None until the index is worth
        asking): the topic index posts each topic under its rarest words. The index keys
        words by light stem, topics by a stricter key; the larger count of the two is taken."""
        if len(self.index) < _FREQUENCY_MIN_RELEASES:
            return None
        return max(self.index.frequency(stem(word, lang)), self.index.frequency(key))

    async def plan(self, releases: Sequence[Release]) -> list[Delivery]:
        """The deliveries of those ``releases`` that are not stored yet (percolation)."""
        known = await self.store.known_release_ids([r.id for r in releases])
        fresh = list({r.id: r for r in releases if r.id not in known}.values())
        if not fresh:
            return []
        index = await self._sync_topics()
        matched: list[list[str]] = await asyncio.to_thread(
            lambda: [index.matching(release) for release in fresh])
        by_topic: dict[str, list[Release]] = defaultdict(list)
        for release, keys in zip(fresh, matched, strict=True):
            for key in keys:
                by_topic[key].append(release)
        pairs: list[tuple[Release, Subscription]] = []
        async for page in self.store.subscriptions_of_topics(sorted(by_topic)):
            pairs.extend((release, sub) for sub in page for release in by_topic[sub.topic])
            await asyncio.sleep(0)  # let commands in between pages
        return await asyncio.to_thread(deliveries_for, pairs)


def deliveries_for(matches: Iterable[tuple[Release, Subscription]]) -> list[Delivery]:
    """One delivery per (release, chat, thread) naming every matched topic, in subscription
    order. Its cadence is the soonest of the matching subscriptions': a release that an
    instant subscription matches is an alert (and is not repeated in that chat's digest)."""
    grouped: dict[tuple[str, int, int], list[Subscription]] = defaultdict(list)
    for release, sub in matches:
        grouped[(release.id, sub.chat_id, sub.thread_id)].append(sub)
    deliveries: list[Delivery] = []
    for (release_id, chat_id, thread_id), subs in grouped.items():
        subs.sort(key=lambda s: s.id)
        deliveries.append(Delivery(release_id, chat_id, thread_id,
                                   tuple(s.topic for s in subs),
                                   strongest([s.cadence for s in subs])))
    return deliveries
