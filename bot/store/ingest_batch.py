"""One ingest's unit of work: releases stored and their outbox rows written, in one transaction.

Opened by :meth:`bot.store.Store.ingest_batch`; :mod:`bot.ingest` says what goes in it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import clock
from bot.digest import DIGESTS
from bot.releases import Release, release_key
from bot.store.digests import digest_slots
from bot.store.rows import Delivery, UpsertResult, release_from_row, release_row
from bot.store.schema import PENDING, counters_table, outbox_table, releases_table
from bot.store.upsert import upsert

#: Releases compared and written per statement.
_CHUNK = 500
#: Outbox rows written per statement: the event loop runs between them, so commands are
#: answered while a release that reaches many chats is written.
_OUTBOX_SLICE = 2000
#: What a newer version of a stored release replaces (not its id, nor when it was added).
_CHANGEABLE = [c.name for c in releases_table.c if c.name not in ("key", "id", "added_at")]


class IngestBatch:
    """The writes of one ingest, in one open transaction (see :meth:`Store.ingest_batch`)."""

    def __init__(self, conn: AsyncConnection, source: str | None) -> None:
        self._conn = conn
        self._source = source
        self._revision: int | None = None

    async def upsert(self, releases: Iterable[Release],
                     progress: Callable[[int], None] | None = None) -> UpsertResult:
        """Insert the new releases and update the changed ones; say which were which.

        ``progress`` is told how many releases each slice had, as they are written.
        """
        conn = self._conn
        if self._revision is None:
            self._revision = await next_revision(conn)
        now = time.time()
        batch = list(releases)
        new: list[Release] = []
        updated: list[Release] = []
        unchanged = 0
        statement = upsert(conn, releases_table, key=["key"], from_new=_CHANGEABLE)
        for start in range(0, len(batch), _CHUNK):
            chunk = batch[start:start + _CHUNK]
            stored = await _stored(conn, [r.id for r in chunk])
            rows: dict[str, dict[str, object]] = {}  # one per key: a row is written once
            for release in chunk:
                old = stored.get(release.id)
                if old == release:
                    unchanged += 1
                    continue
                (new if old is None else updated).append(release)
                stored[release.id] = release
                rows[release.id] = release_row(release, self._source, now, self._revision)
            if rows:
                await conn.execute(statement, list(rows.values()))
            if progress:
                progress(len(chunk))
        return UpsertResult(new, updated, unchanged, revision=self._revision)

    async def enqueue(self, deliveries: Sequence[Delivery]) -> int:
        """Write these outbox rows: an alert is due now, a digest row at the chat's next slot
        of its cadence. Returns how many were written."""
        if not deliveries:
            return 0
        conn = self._conn
        slots = await digest_slots(conn, deliveries)
        created, due_now = time.time(), clock.now()  # delivery compares due times with clock
        for start in range(0, len(deliveries), _OUTBOX_SLICE):
            await conn.execute(outbox_table.insert(), [
                {"release_id": d.release_id, "release_key": release_key(d.release_id),
                 "chat_id": d.chat_id, "thread_id": d.thread_id,
                 "topics": json.dumps(list(d.topics)), "status": PENDING, "attempts": 0,
                 "next_attempt_at": slots.get((d.chat_id, d.cadence), due_now),
                 "digest": d.cadence if d.cadence in DIGESTS else "", "created_at": created}
                for d in deliveries[start:start + _OUTBOX_SLICE]])
        return len(deliveries)


async def next_revision(conn: AsyncConnection) -> int:
    """The next release revision. Its counter update is the transaction's first write, so it
    takes the write lock (SQLite) or the row lock (PostgreSQL) at once: concurrent writers
    queue here, and revisions increase in the order their transactions commit."""
    counter = counters_table.c.name == "releases"
    await conn.execute(counters_table.update().where(counter)
                       .values(value=counters_table.c.value + 1))
    return int((await conn.execute(sa.select(counters_table.c.value)
                                   .where(counter))).scalar_one())


async def _stored(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Release]:
    """The stored version of those of these releases that are stored, by id."""
    query = sa.select(releases_table).where(
        releases_table.c.key.in_([release_key(i) for i in ids]))
    return {r.id: r for r in map(release_from_row, (await conn.execute(query)).mappings())}
