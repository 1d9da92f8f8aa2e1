"""What the store remembers of each source between polls (validators, failures, next poll)."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from bot.store.engine import Database
from bot.store.rows import SourceState
from bot.store.schema import sources_table
from bot.store.upsert import upsert

_src = sources_table.c


class SourceStore(Database):
    """The sources part of :class:`bot.store.Store`."""

    async def source_state(self, name: str) -> SourceState | None:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(sources_table)
                                      .where(_src.name == name))).mappings().first()
        return SourceState(**row) if row else None

    async def save_source_state(self, state: SourceState) -> None:
        values = dataclasses.asdict(state)
        async with self._write() as conn:
            await conn.execute(upsert(conn, sources_table, key=["name"], values=values,
                                      set_=values))

    async def claim_source_poll(self, name: str, now: float, min_gap: float) -> bool:
        """Record a poll of source ``name`` starting now, unless one started less than
        ``min_gap`` seconds ago (by any process): True when this caller may poll it.

        One conditional upsert, so two processes (an old leader that has not noticed it
        lost its lease, and the new one) never both poll a source in the same interval.
        """
        async with self._write() as conn:
            claimed = await conn.execute(upsert(
                conn, sources_table, key=["name"],
                values={"name": name, "last_poll_at": now, "failures": 0},
                set_={"last_poll_at": now},
                where=sa.or_(_src.last_poll_at.is_(None), _src.last_poll_at <= now - min_gap)))
        return bool(claimed.rowcount)

    async def source_states(self) -> list[SourceState]:
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(sources_table)
                                       .order_by(_src.name))).mappings()
            return [SourceState(**r) for r in rows]
