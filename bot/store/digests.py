"""Digest times and cadences: when a chat's daily and weekly digest rows become due.

An outbox row of a digest (``digest`` = "daily" / "weekly") waits until the chat's next slot
of that cadence (see :func:`bot.digest.next_slot`); changing a chat's time or a subscription's
cadence moves its pending digest rows to their new slots in the same transaction.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import clock
from bot.digest import DIGESTS, DigestSchedule, next_slot, strongest
from bot.store.engine import Database
from bot.store.rows import Delivery
from bot.store.schema import PENDING, digest_schedules_table, outbox_table, subscriptions_table
from bot.store.upsert import upsert

#: Chats looked up per statement.
_CHUNK = 500


class DigestStore(Database):
    """The digest part of :class:`bot.store.Store`."""

    async def digest_schedule(self, chat_id: int) -> DigestSchedule:
        """The chat's digest time (the default when it never chose one)."""
        async with self._read() as conn:
            return (await digest_schedules(conn, [chat_id])).get(chat_id, DigestSchedule())

    async def set_digest_schedule(self, chat_id: int, schedule: DigestSchedule) -> int:
        """Set the chat's digest time and move its pending digest rows to the new slots, in
        one transaction. Returns how many pending releases were re-planned."""
        values = {"minute": schedule.minute, "zone": schedule.zone, "updated_at": time.time()}
        async with self._write() as conn:
            await conn.execute(upsert(conn, digest_schedules_table, key=["chat_id"],
                                      values={"chat_id": chat_id, **values}, set_=values))
            return await replan_digests(conn, chat_id)

    async def set_cadence(self, chat_id: int, thread_id: int, topic: str,
                          cadence: str) -> bool:
        """Change how a subscription is delivered and re-plan the chat's pending digest rows
        by the cadences they now have. False when there is no such subscription."""
        async with self._write() as conn:
            changed = (await conn.execute(subscriptions_table.update().where(
                subscriptions_table.c.chat_id == chat_id,
                subscriptions_table.c.thread_id == thread_id,
                subscriptions_table.c.topic == topic).values(cadence=cadence))).rowcount
            if changed:
                await replan_digests(conn, chat_id)
            return bool(changed)


async def digest_schedules(conn: AsyncConnection,
                           chat_ids: Iterable[int]) -> dict[int, DigestSchedule]:
    """The digest time of each of these chats that chose one."""
    ids = list(chat_ids)
    found: dict[int, DigestSchedule] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = (await conn.execute(sa.select(digest_schedules_table).where(
            digest_schedules_table.c.chat_id.in_(ids[start:start + _CHUNK])))).mappings()
        for r in rows:
            found[r["chat_id"]] = DigestSchedule(r["minute"], r["zone"])
    return found


async def digest_slots(conn: AsyncConnection,
                       deliveries: Sequence[Delivery]) -> dict[tuple[int, str], float]:
    """(chat, cadence) -> when that chat's next digest of that cadence is due."""
    wanted = {(d.chat_id, d.cadence) for d in deliveries if d.cadence in DIGESTS}
    if not wanted:
        return {}
    schedules = await digest_schedules(conn, {chat for chat, _ in wanted})
    now = clock.now()
    return {(chat, cadence): next_slot(now, schedules.get(chat, DigestSchedule()), cadence)
            for chat, cadence in wanted}


async def replan_digests(conn: AsyncConnection, chat_id: int) -> int:
    """Give each pending digest row of the chat the cadence its topics now have (the
    soonest of its thread's matching subscriptions; unchanged when none is left) and
    that cadence's next slot; a row whose topics became instant is due now."""
    o = outbox_table.c
    rows = (await conn.execute(sa.select(o.id, o.thread_id, o.topics, o.digest).where(
        o.chat_id == chat_id, o.status == PENDING, o.digest != ""))).mappings().all()
    if not rows:
        return 0
    subs = (await conn.execute(sa.select(subscriptions_table).where(
        subscriptions_table.c.chat_id == chat_id))).mappings().all()
    schedule = (await digest_schedules(conn, [chat_id])).get(chat_id, DigestSchedule())
    now = clock.now()
    by_cadence: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        topics = set(json.loads(row["topics"] or "[]"))
        cadences = [s["cadence"] for s in subs
                    if s["thread_id"] == row["thread_id"] and s["topic"] in topics]
        by_cadence[strongest(cadences) if cadences else row["digest"]].append(row["id"])
    for cadence, ids in by_cadence.items():  # a few cadences: a few statements
        values: dict[str, Any] = {"digest": "", "next_attempt_at": now}
        if cadence in DIGESTS:
            values = {"digest": cadence, "next_attempt_at": next_slot(now, schedule, cadence)}
        for start in range(0, len(ids), _CHUNK):
            await conn.execute(outbox_table.update()
                               .where(o.id.in_(ids[start:start + _CHUNK])).values(**values))
    return len(rows)
