"""Chats the bot knows, their language, and the two ends of a chat's life here.

A chat ends (blocked, kicked, deleted: :meth:`ChatStore.end_chat`) or becomes a supergroup
with a new id (:meth:`ChatStore.migrate_chat`); both take its subscriptions and pending
outbox rows along in one transaction.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from bot import clock
from bot.store.engine import Database
from bot.store.rows import Chat, chat_from_row
from bot.store.schema import (
    ENDED,
    PENDING,
    chats_table,
    digest_schedules_table,
    outbox_table,
    subscriptions_table,
)
from bot.store.upsert import upsert

_c, _o, _s = chats_table.c, outbox_table.c, subscriptions_table.c


class ChatStore(Database):
    """The chats part of :class:`bot.store.Store`."""

    async def save_chat(self, chat_id: int, type_: str, title: str | None = None,
                        username: str | None = None, auto_language: str | None = None) -> None:
        """Remember a chat (or refresh its title); a chat seen again becomes active again.

        ``auto_language`` (when given) is the language it was just spoken to in.
        """
        values: dict[str, Any] = {"type": type_, "title": title, "username": username,
                                  "active": True, "ended_reason": None,
                                  "updated_at": time.time()}
        if auto_language is not None:
            values["auto_language"] = auto_language
        async with self._write() as conn:
            await conn.execute(upsert(conn, chats_table, key=["id"],
                                      values={"id": chat_id, **values}, set_=values))

    async def get_chat(self, chat_id: int) -> Chat | None:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(chats_table)
                                      .where(_c.id == chat_id))).mappings().first()
        return chat_from_row(row) if row else None

    async def set_chat_language(self, chat_id: int, type_: str, language: str | None,
                                title: str | None = None, username: str | None = None) -> None:
        """Record the language chosen for a chat with /language (None: follow its users)."""
        chosen = {"language": language, "updated_at": time.time()}
        new = {"id": chat_id, "type": type_, "title": title, "username": username,
               "active": True, **chosen}
        async with self._write() as conn:
            await conn.execute(upsert(conn, chats_table, key=["id"], values=new, set_=chosen))

    async def note_auto_language(self, chat_id: int, language: str) -> None:
        """The language a known chat was just spoken to in (nothing for unknown chats)."""
        async with self._write() as conn:
            await conn.execute(chats_table.update().where(_c.id == chat_id)
                               .values(auto_language=language))

    async def end_chat(self, chat_id: int, reason: str) -> int:
        """The chat is gone for us (blocked, kicked, deleted): end its subscriptions and
        pending deliveries. Returns how many subscriptions ended."""
        async with self._write() as conn:
            ended = (await conn.execute(subscriptions_table.delete()
                                        .where(_s.chat_id == chat_id))).rowcount
            await conn.execute(outbox_table.update().where(
                _o.chat_id == chat_id, _o.status == PENDING,
            ).values(status=ENDED, last_error=reason))
            await conn.execute(chats_table.update().where(_c.id == chat_id)
                               .values(active=False, ended_reason=reason, updated_at=time.time()))
            return ended

    async def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its subscriptions and pending rows move to the new id.

        What the new chat has already wins: a subscription it has stays as it is, a release
        it was sent or will be sent is not queued twice (the old chat's row ends).
        """
        now = time.time()
        async with self._write() as conn:
            moved = ["chat_id", "thread_id", "topic", "created_at", "cadence"]
            await conn.execute(upsert(
                conn, subscriptions_table, key=["chat_id", "thread_id", "topic"],
                rows_of=(moved, sa.select(sa.literal(new_id), _s.thread_id, _s.topic,
                                          _s.created_at, _s.cadence)
                         .where(_s.chat_id == old_id).order_by(_s.id))))
            await conn.execute(subscriptions_table.delete().where(_s.chat_id == old_id))
            await conn.execute(digest_schedules_table.update().where(
                digest_schedules_table.c.chat_id == old_id,
                ~sa.exists().where(digest_schedules_table.c.chat_id == new_id),
            ).values(chat_id=new_id))
            other = outbox_table.alias("other")
            pending = (_o.chat_id == old_id, _o.status == PENDING)
            await conn.execute(outbox_table.update().where(*pending, sa.exists().where(
                other.c.release_key == _o.release_key, other.c.chat_id == new_id,
                other.c.thread_id == _o.thread_id)).values(status=ENDED, last_error="migrated"))
            # A digest row keeps its slot; an alert is due at once.
            await conn.execute(outbox_table.update().where(*pending).values(
                chat_id=new_id, claimed_by=None, claimed_until=None,
                next_attempt_at=sa.case((_o.digest != "", _o.next_attempt_at),
                                        else_=clock.now())))
            copied = ["id", "type", "title", "username", "active", "updated_at", "language",
                      "auto_language"]
            await conn.execute(upsert(
                conn, chats_table, key=["id"],
                rows_of=(copied, sa.select(sa.literal(new_id), sa.literal("supergroup"),
                                           _c.title, _c.username, sa.true(), sa.literal(now),
                                           _c.language, _c.auto_language)
                         .where(_c.id == old_id))))
            await conn.execute(chats_table.update().where(_c.id == old_id).values(
                active=False, ended_reason=f"migrated to {new_id}", updated_at=now))
