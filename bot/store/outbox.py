"""The outbox after the claim: marking rows sent, to retry or failed, and reading its state.

Each outbox row is one release for one chat (and forum thread); :mod:`bot.store.claims`
hands rows out to the delivering processes, and these methods record how each send went.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bot.store.engine import Database
from bot.store.rows import OutboxRow, outbox_from_row
from bot.store.schema import FAILED, PENDING, SENT, outbox_table

#: Rows updated per statement (drivers cap the parameters of one).
_CHUNK = 500


class OutboxStore(Database):
    """The outbox part of :class:`bot.store.Store` (claims aside)."""

    async def due_digest_rows(self, chat_id: int, thread_id: int,
                              now: float) -> list[OutboxRow]:
        """Every due pending digest row of one chat and thread, oldest first: one digest."""
        query = sa.select(outbox_table).where(
            outbox_table.c.chat_id == chat_id, outbox_table.c.thread_id == thread_id,
            outbox_table.c.status == PENDING, outbox_table.c.digest != "",
            outbox_table.c.next_attempt_at <= now).order_by(outbox_table.c.id)
        async with self._read() as conn:
            return [outbox_from_row(r) for r in (await conn.execute(query)).mappings()]

    async def next_due_at(self) -> float | None:
        """When the earliest pending row is due, or None with nothing pending."""
        async with self._read() as conn:
            due = (await conn.execute(sa.select(sa.func.min(outbox_table.c.next_attempt_at))
                                      .where(outbox_table.c.status == PENDING))).scalar()
        return float(due) if due is not None else None

    # ``chat_free_at``: when the row's chat may get its next message (the answer's time plus
    # the chat's gap). It stays on the row as ``claimed_until``, which every process's
    # claim_due honours; None clears the claim.

    async def mark_sent(self, row_id: int | Sequence[int], sent_at: float | None = None,
                        chat_free_at: float | None = None) -> None:
        """One row, or all the rows of a digest part together, after Telegram's ok."""
        await self._update_outbox(row_id, status=SENT, sent_at=sent_at or time.time(),
                                  attempts=outbox_table.c.attempts + 1,
                                  claimed_until=chat_free_at)

    async def mark_retry(self, row_id: int | Sequence[int], next_attempt_at: float, error: str,
                         count_attempt: bool = True, chat_free_at: float | None = None) -> None:
        """Try again later; a 429 pause is not the row's fault, so it may not count."""
        attempts = outbox_table.c.attempts + (1 if count_attempt else 0)
        await self._update_outbox(row_id, next_attempt_at=next_attempt_at, last_error=error,
                                  attempts=attempts, claimed_by=None,
                                  claimed_until=chat_free_at)

    async def mark_failed(self, row_id: int | Sequence[int], error: str,
                          chat_free_at: float | None = None) -> None:
        await self._update_outbox(row_id, status=FAILED, last_error=error,
                                  attempts=outbox_table.c.attempts + 1,
                                  claimed_until=chat_free_at)

    async def _update_outbox(self, row_id: int | Sequence[int], **values: Any) -> None:
        ids = [row_id] if isinstance(row_id, int) else list(row_id)
        if not ids:
            return
        async with self._write() as conn:  # all together, in chunks the drivers accept
            for start in range(0, len(ids), _CHUNK):
                await conn.execute(outbox_table.update().where(
                    outbox_table.c.id.in_(ids[start:start + _CHUNK])).values(**values))

    async def outbox_rows(self, chat_id: int | None = None) -> list[OutboxRow]:
        """Every outbox row (of one chat), in the order they were queued."""
        query = sa.select(outbox_table).order_by(outbox_table.c.id)
        if chat_id is not None:
            query = query.where(outbox_table.c.chat_id == chat_id)
        async with self._read() as conn:
            return [outbox_from_row(r) for r in (await conn.execute(query)).mappings()]

    async def outbox_backlog(self) -> tuple[int, float | None]:
        """Pending outbox rows and the creation time of the oldest (None when none).

        One pass over the pending rows through the ``(status, next_attempt_at)`` index, so
        it costs what is pending, not the outbox's whole history (for /metrics).
        """
        query = (sa.select(sa.func.count(), sa.func.min(outbox_table.c.created_at))
                 .where(outbox_table.c.status == PENDING))
        async with self._read() as conn:
            count, oldest = (await conn.execute(query)).one()
        return int(count or 0), (float(oldest) if oldest is not None else None)

