"""Subscriptions: a chat's (or forum thread's) topics, and the reads that plan alerts by topic.

The rules for adding one (limits, parsing) are :mod:`bot.subscriptions`'; this is storage.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import sqlalchemy as sa

from bot.digest import INSTANT
from bot.store.engine import Database
from bot.store.rows import Subscription
from bot.store.schema import subscriptions_table
from bot.store.upsert import upsert

#: Topics looked up per statement.
_CHUNK = 500

_s = subscriptions_table.c


class SubscriptionStore(Database):
    """The subscriptions part of :class:`bot.store.Store`."""

    async def add_subscription(self, chat_id: int, thread_id: int, topic: str,
                               cadence: str = INSTANT) -> bool:
        """Subscribe; False when that exact subscription already exists."""
        values = {"chat_id": chat_id, "thread_id": thread_id, "topic": topic,
                  "created_at": time.time(), "cadence": cadence}
        async with self._write() as conn:
            # The unique constraint decides, however concurrent the duplicates are.
            added = await conn.execute(upsert(conn, subscriptions_table, values=values,
                                              key=["chat_id", "thread_id", "topic"]))
        return bool(added.rowcount)

    async def remove_subscription(self, chat_id: int, thread_id: int, topic: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(subscriptions_table.delete().where(
                _s.chat_id == chat_id, _s.thread_id == thread_id, _s.topic == topic))
            return result.rowcount > 0

    async def get_subscription(self, sub_id: int) -> Subscription | None:
        """One subscription by id (a remove button carries only the id)."""
        async with self._read() as conn:
            row = (await conn.execute(sa.select(subscriptions_table).where(
                _s.id == sub_id))).mappings().first()
        return Subscription(**row) if row else None

    async def remove_subscription_by_id(self, chat_id: int, sub_id: int) -> Subscription | None:
        """Remove one subscription of this chat by its id (for inline "remove" buttons)."""
        async with self._write() as conn:
            row = (await conn.execute(
                subscriptions_table.delete().where(_s.id == sub_id, _s.chat_id == chat_id)
                .returning(*subscriptions_table.c))).mappings().first()
        return Subscription(**row) if row else None

    async def remove_all_subscriptions(self, chat_id: int, thread_id: int | None = None) -> int:
        """End every subscription of a chat (of one forum thread, when given)."""
        cond = [_s.chat_id == chat_id]
        if thread_id is not None:
            cond.append(_s.thread_id == thread_id)
        async with self._write() as conn:
            return (await conn.execute(subscriptions_table.delete().where(*cond))).rowcount

    async def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        """One chat's subscriptions (every chat's with ``None``), oldest first."""
        query = sa.select(subscriptions_table).order_by(_s.id)
        if chat_id is not None:
            query = query.where(_s.chat_id == chat_id)
        async with self._read() as conn:
            return [Subscription(**r) for r in (await conn.execute(query)).mappings()]

    async def subscriptions_of_topics(self, topics: Sequence[str],
                                      page: int = 5000) -> AsyncIterator[list[Subscription]]:
        """The subscriptions to these topic keys, a page at a time (through the topic index:
        planning reads only the subscriptions a release matched)."""
        for start in range(0, len(topics), _CHUNK):
            # No ORDER BY: it could make the database walk the whole table by id instead of
            # the topic index (callers order what they keep).
            query = sa.select(subscriptions_table).where(
                _s.topic.in_(topics[start:start + _CHUNK]))
            async with self._read() as conn:
                result = await conn.stream(query)
                async for rows in result.mappings().partitions(page):
                    yield [Subscription(**r) for r in rows]

    async def topics_since(self, after_id: int) -> tuple[set[str], int]:
        """Distinct topics of subscriptions with an id above ``after_id``, and the highest id
        (``after_id`` 0: every topic). Keeps a topic index in step with other processes."""
        async with self._read() as conn:
            top = (await conn.execute(sa.select(sa.func.max(_s.id)))).scalar()
            topics = (await conn.execute(
                sa.select(_s.topic).distinct().where(_s.id > after_id))).scalars().all()
        return set(topics), max(int(top or 0), after_id)
