"""Releases in the store: written in ingest batches, read by id, newest first, or by revision.

Every write of releases takes the next *revision* (see :mod:`bot.store.ingest_batch`),
and stamps the rows it stores with it: another process (a running bot while ``newsbot
import`` writes) picks up what changed by asking for releases after the revision it has seen.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager

import sqlalchemy as sa

from bot.releases import Release, release_key
from bot.store.engine import Database
from bot.store.ingest_batch import IngestBatch
from bot.store.rows import UpsertResult, release_from_row
from bot.store.schema import meta_table, releases_table
from bot.store.upsert import upsert

#: Ids looked up per statement.
_CHUNK = 500


class ReleaseStore(Database):
    """The releases part of :class:`bot.store.Store`."""

    @asynccontextmanager
    async def ingest_batch(self, source: str | None = None) -> AsyncIterator[IngestBatch]:
        """One unit of work for releases from ``source`` and the alerts they cause.

        Whatever the block stores (:meth:`IngestBatch.upsert`, :meth:`IngestBatch.enqueue`)
        is committed together when it ends, or not at all when it raises: a crash can never
        keep a release and lose its alerts. The batch holds the write lock from its first
        write on, so plan before entering it.
        """
        async with self._write() as conn:
            yield IngestBatch(conn, source)

    async def upsert_releases(self, releases: Iterable[Release], source: str | None = None,
                              progress: Callable[[int], None] | None = None) -> UpsertResult:
        """Store releases (new ones added, changed ones updated) without any alerts."""
        async with self.ingest_batch(source) as batch:
            return await batch.upsert(releases, progress)

    async def get_release(self, release_id: str) -> Release | None:
        async with self._read() as conn:
            row = (await conn.execute(
                sa.select(releases_table).where(releases_table.c.key == release_key(release_id))
            )).mappings().first()
        return release_from_row(row) if row else None

    async def latest_releases(self, limit: int, offset: int = 0) -> list[Release]:
        """Newest by date first (ties by id), like the search index's ``latest``."""
        async with self._read() as conn:
            rows = (await conn.execute(
                sa.select(releases_table)
                .order_by(releases_table.c.date.desc(), releases_table.c.id)
                .limit(limit).offset(offset))).mappings()
            return [release_from_row(r) for r in rows]

    async def releases_updated_after(self, revision: int) -> tuple[list[Release], int]:
        """Releases written after ``revision`` (by any process), and the newest revision.

        A running bot uses this to pick up releases that ``newsbot import`` stored.
        Revisions follow commit order, so a long import that commits late is not skipped.
        """
        async with self._read() as conn:
            query = sa.select(releases_table).where(releases_table.c.revision > revision)
            rows = (await conn.execute(query)).mappings().all()
        newest = max((r["revision"] for r in rows), default=revision)
        return [release_from_row(r) for r in rows], newest

    async def releases_page(self, after: tuple[int, str | None], limit: int
                            ) -> list[tuple[int, Release]]:
        """Up to ``limit`` (revision, release) pairs after ``after`` = (revision, id), in that
        order: a large store read in pages, so no one read holds every release at once.
        With id None, the page starts after every release of that revision."""
        revision, release_id = after
        later = releases_table.c.revision > revision
        if release_id is not None:
            later = sa.or_(later, sa.and_(releases_table.c.revision == revision,
                                          releases_table.c.id > release_id))
        async with self._read() as conn:
            rows = (await conn.execute(
                sa.select(releases_table)
                .where(later)
                .order_by(releases_table.c.revision, releases_table.c.id)
                .limit(limit))).mappings().all()
        return [(int(r["revision"]), release_from_row(r)) for r in rows]

    async def known_release_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these release ids are stored already."""
        found: set[str] = set()
        async with self._read() as conn:
            for start in range(0, len(ids), _CHUNK):
                keys = [release_key(i) for i in ids[start:start + _CHUNK]]
                found.update((await conn.execute(sa.select(releases_table.c.id).where(
                    releases_table.c.key.in_(keys)))).scalars())
        return found

    async def instance_id(self) -> str:
        """A random id given to this database once, e.g. to tell its files from another's.

        Kept in the ``meta`` table (no schema change); made on first use.
        """
        query = sa.select(meta_table.c.value).where(meta_table.c.key == "instance_id")
        async with self._read() as conn:
            value = (await conn.execute(query)).scalar()
        if value is None:
            async with self._write() as conn:
                # Another process may make it first: then its id stays, and is used.
                await conn.execute(upsert(conn, meta_table, key=["key"], values={
                    "key": "instance_id", "value": os.urandom(16).hex()}))
                value = (await conn.execute(query)).scalar_one()
        return str(value)

