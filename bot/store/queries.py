"""Saved search queries: the short keys that "More" buttons carry (button data: 64 bytes).

A query is saved again with each page that offers "More", so a row's time is its last use;
rows unused for :data:`QUERY_LIFETIME` are deleted as new ones are saved, a few at a time.
A button whose query is gone is answered as an expired search (see bot.handlers.browse).
"""

from __future__ import annotations

import hashlib
import time

import sqlalchemy as sa

from bot.store.engine import Database
from bot.store.schema import saved_queries_table
from bot.store.upsert import upsert

#: Seconds a saved query is kept after its last use.
QUERY_LIFETIME = 30 * 24 * 3600.0
#: Expired rows deleted per save at most, so a save stays cheap; a backlog (a bot that was
#: stopped for weeks) is cleared over the next saves.
_EXPIRED_PER_SAVE = 100

_q = saved_queries_table.c


class QueryStore(Database):
    """The saved queries part of :class:`bot.store.Store`."""

    async def save_query(self, query: str) -> str:
        """Store a search query under a short key that survives restarts; same query, same key."""
        key = hashlib.sha1(query.encode()).hexdigest()[:16]
        now = time.time()
        expired = (sa.select(_q.key).where(_q.created_at < now - QUERY_LIFETIME)
                   .order_by(_q.created_at).limit(_EXPIRED_PER_SAVE))
        async with self._write() as conn:
            await conn.execute(upsert(conn, saved_queries_table, key=["key"],
                                      values={"key": key, "query": query, "created_at": now},
                                      set_={"created_at": now}))
            await conn.execute(saved_queries_table.delete().where(
                _q.key.in_(expired.scalar_subquery())))
        return key

    async def saved_query(self, key: str) -> str | None:
        """The query saved under ``key``; None when there is none (or it expired)."""
        async with self._read() as conn:
            query = (await conn.execute(sa.select(_q.query).where(_q.key == key))).scalar()
        return str(query) if query is not None else None
