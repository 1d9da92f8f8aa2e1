"""Named locks (leases held by one process at a time) and the sending slots all processes share.

A lock row names its holder (``host:pid``, see :func:`bot.store.process_identity`) and
expires unless renewed. The sending budget is a counter of slots on a wall-clock grid that
every process books from (PostgreSQL), so several processes keep Telegram's limits together.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from bot.store.engine import Database
from bot.store.schema import counters_table, locks_table
from bot.store.upsert import upsert

_lk = locks_table.c


class LockStore(Database):
    """The locks and shared slots part of :class:`bot.store.Store`."""

    async def acquire_lock(self, name: str, owner: str, ttl: float,
                           is_stale: Callable[[str], bool] = lambda _owner: False) -> str | None:
        """Take or renew a named lock. Returns None on success, else the current holder.

        ``is_stale(owner)`` lets the caller declare a holder dead (a process on this host
        that no longer exists) so a restart after a crash need not wait for the expiry.
        """
        now = time.time()
        held = {"owner": owner, "expires_at": now + ttl}
        async with self._write() as conn:
            taken = await conn.execute(upsert(
                conn, locks_table, key=["name"], values={"name": name, **held}, set_=held,
                where=sa.or_(_lk.owner == owner, _lk.expires_at < now)))
            if taken.rowcount:
                return None
            holder = str((await conn.execute(sa.select(_lk.owner)
                                             .where(_lk.name == name))).scalar_one())
            if not is_stale(holder):
                return holder
            await conn.execute(locks_table.update().where(
                _lk.name == name, _lk.owner == holder).values(**held))
            return None

    async def release_lock(self, name: str, owner: str) -> None:
        async with self._write() as conn:
            await conn.execute(locks_table.delete().where(_lk.name == name, _lk.owner == owner))

    async def claim_send_slots(self, name: str, count: int, now_slot: int,
                               limit_slot: int) -> tuple[int, int]:
        """Take up to ``count`` consecutive slots of the global grid ``name`` (PostgreSQL).

        Slot numbers count intervals of a wall-clock grid that every process shares; the
        counter holds the first slot nobody owns. Slots before ``now_slot`` are gone, and
        none is handed out at or past ``limit_slot`` (how far ahead a caller may book).
        Returns ``(first, end)``: the caller owns ``first .. end-1`` (none when equal).
        """
        query = sa.text(
            "WITH cur AS (SELECT GREATEST(value, :now) AS start FROM counters "
            "WHERE name = :name FOR UPDATE) "
            "UPDATE counters SET value = GREATEST(cur.start, LEAST(cur.start + :count, :lim)) "
            "FROM cur WHERE counters.name = :name RETURNING cur.start, counters.value")
        params = {"name": name, "now": now_slot, "count": count, "lim": limit_slot}
        async with self._write() as conn:
            row = (await conn.execute(query, params)).first()
            if row is None:
                await conn.execute(upsert(conn, counters_table, key=["name"],
                                          values={"name": name, "value": now_slot}))
                row = (await conn.execute(query, params)).one()
        return int(row[0]), int(row[1])

    async def push_send_slots(self, name: str, slot: int) -> None:
        """Hand out no slot of grid ``name`` before ``slot`` (a 429 pauses every process)."""
        async with self._write() as conn:
            await conn.execute(counters_table.update().where(
                counters_table.c.name == name, counters_table.c.value < slot,
            ).values(value=slot))
