"""The one :class:`Store`: every part of the store behind one object, and opening it.

Each part is a module of its own (releases, subscriptions, chats, digests, claims, outbox,
sources, saved queries, locks), all built on :class:`bot.store.engine.Database`; the rest of
the bot only ever holds a :class:`Store`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.store import migrations
from bot.store.chats import ChatStore
from bot.store.claims import ClaimStore
from bot.store.digests import DigestStore
from bot.store.engine import connect, safe_url
from bot.store.errors import StoreError
from bot.store.locks import LockStore
from bot.store.outbox import OutboxStore
from bot.store.queries import QueryStore
from bot.store.releases import ReleaseStore
from bot.store.schema import chats_table, outbox_table, releases_table, subscriptions_table
from bot.store.sources import SourceStore
from bot.store.subscriptions import SubscriptionStore


class Store(ReleaseStore, SubscriptionStore, ChatStore, DigestStore, ClaimStore, OutboxStore,
            SourceStore, QueryStore, LockStore):
    """The bot's database. Open with :meth:`open`; every method is one short transaction
    (an ingest batch aside, see :meth:`ingest_batch`)."""

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, create or migrate the schema, and return a ready store."""
        engine, path = connect(url)
        store = cls(engine, path)
        store._shown = safe_url(url)
        try:
            async with engine.begin() as conn:
                await migrations.migrate(conn)
        except StoreError:
            await engine.dispose()
            raise
        except Exception as exc:
            await engine.dispose()
            raise StoreError(f"cannot open database {store._shown}: {exc}") from None
        return store

    async def schema_version(self) -> int:
        async with self._read() as conn:
            return await migrations.schema_version(conn)

    async def stats(self) -> dict[str, Any]:
        """Counts for /stats: releases, chats by type, subscriptions by chat type, outbox."""
        async with self._read() as conn:
            releases = (await conn.execute(
                sa.select(sa.func.count()).select_from(releases_table))).scalar() or 0
            chats: dict[str, int] = dict((await conn.execute(
                sa.select(chats_table.c.type, sa.func.count()).where(chats_table.c.active)
                .group_by(chats_table.c.type))).all())
            join = subscriptions_table.outerjoin(
                chats_table, chats_table.c.id == subscriptions_table.c.chat_id)
            subs: dict[str, int] = dict((await conn.execute(
                sa.select(sa.func.coalesce(chats_table.c.type, "unknown"), sa.func.count())
                .select_from(join).group_by(chats_table.c.type))).all())
            outbox: dict[str, int] = dict((await conn.execute(
                sa.select(outbox_table.c.status, sa.func.count())
                .group_by(outbox_table.c.status))).all())
        return {"releases": int(releases), "chats": chats, "subscriptions": subs,
                "outbox": outbox}
