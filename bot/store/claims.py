"""Outbox claims: which process sends which row, one row per chat at a time.

Every delivering process claims its next batch with :meth:`ClaimStore.claim_due`: one
``UPDATE … RETURNING`` that picks the oldest due row of each free chat from the
``ix_outbox_queue`` index and leases it to the process. A claim whose process dies expires;
after Telegram's answer the row's ``claimed_until`` is when its chat may get the next message.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any, Literal

import sqlalchemy as sa

from bot.store.engine import Database
from bot.store.rows import OutboxRow, outbox_from_row
from bot.store.schema import PENDING, outbox_table

#: The key of the PostgreSQL advisory lock that claims of outbox rows take turns on.
_CLAIM_LOCK = 0x6E657773_626F7401  # "newsbot" + 1
#: How many due rows one batch looks through at most to find rows of distinct free chats.
_MAX_EXAMINED = 5_000

_o = outbox_table.c


class ClaimStore(Database):
    """The claims part of :class:`bot.store.Store`."""

    async def claim_due(self, owner: str, now: float, limit: int, lease: float,
                        skip_chats: Collection[int] = ()) -> list[OutboxRow]:
        """Claim up to ``limit`` due rows for ``owner`` until ``now + lease``, oldest first.

        At most one row per chat, and none for a chat that has a live claim anywhere (a send
        in flight in some process, or a chat whose turn has not come since its last answer,
        see :meth:`mark_sent`) or is in ``skip_chats``: so two processes never send the same
        row, nor two messages to one chat at once. A claim whose process dies simply expires.
        On PostgreSQL the claims of all processes take turns on a transaction-level advisory
        lock (a few milliseconds each), so two claimers never pick rows of one chat at once;
        rows another transaction has locked (being marked) are skipped, not waited for.
        """
        claim = _claim(self._postgres, skipping=bool(skip_chats))
        params = {"now": now, "limit": limit, "head": _head_size(limit), "owner": owner,
                  "until": now + lease, "skip": list(skip_chats)}
        async with self._write() as conn:
            if self._postgres:
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _CLAIM_LOCK})
            rows = (await conn.execute(claim, params)).mappings().all()
        return sorted(map(outbox_from_row, rows), key=lambda r: (r.next_attempt_at, r.id))

    async def due_deliveries(self, now: float, limit: int,
                             per_chat: Literal[1] | None = None) -> list[OutboxRow]:
        """Pending rows whose time has come, oldest first (without claiming them).

        With ``per_chat=1``, only the oldest of each chat: the sender can only send about one
        message a second to a chat, so a chat with hundreds of pending rows must not fill the
        batch and hide every other chat's rows behind it.
        """
        picked: tuple[Any, ...] = (
            _o.id.in_(_first_of_each_chat(self._postgres, claimable=False)),)
        if per_chat is None:
            picked = _o.status == PENDING, _o.next_attempt_at <= sa.bindparam("now")
        query = (sa.select(outbox_table).where(*picked)
                 .order_by(_o.next_attempt_at, _o.id).limit(_bound_int("limit")))
        params = {"now": now, "limit": limit, "head": _head_size(limit)}
        async with self._read() as conn:
            rows = (await conn.execute(query, params)).mappings()
            return [outbox_from_row(r) for r in rows]

    async def release_claims(self, owners: Collection[str]) -> int:
        """Give back the pending rows claimed by ``owners`` (stopped or dead processes)."""
        if not owners:
            return 0
        async with self._write() as conn:
            return (await conn.execute(outbox_table.update().where(
                _o.status == PENDING, _o.claimed_by.in_(list(owners)),
            ).values(claimed_by=None, claimed_until=None))).rowcount

    async def claim_holders(self, now: float) -> set[str]:
        """The owners of live claims on pending rows (to spot dead processes)."""
        async with self._read() as conn:
            return set((await conn.execute(
                sa.select(_o.claimed_by).distinct().where(
                    _o.claimed_until >= now, _o.status == PENDING,
                    _o.claimed_by.is_not(None)))).scalars())

    async def release_claim(self, row_id: int, owner: str) -> None:
        """Give one claimed row back unsent (its lease was too close to running out)."""
        async with self._write() as conn:
            await conn.execute(outbox_table.update().where(
                _o.id == row_id, _o.claimed_by == owner,
                _o.status == PENDING).values(claimed_by=None, claimed_until=None))


def _head_size(limit: int) -> int:
    return max(_MAX_EXAMINED, 2 * limit)


def _bound_int(name: str) -> sa.BindParameter[int]:
    """A count written into the SQL text when it runs: the planner sees it (a prepared
    statement's generic plan would not), and the statement is still compiled only once."""
    return sa.bindparam(name, type_=sa.Integer, literal_execute=True)


def _unclaimed(table: Any) -> Any:
    return sa.or_(table.claimed_until.is_(None),
                  table.claimed_until < sa.bindparam("now", type_=sa.Float))


@functools.cache
def _claim(postgres: bool, *, skipping: bool) -> sa.Update:
    """``UPDATE outbox SET claimed_by, claimed_until WHERE id IN (the rows to claim)``,
    built once (building it costs more than running it) with parameters ``now``,
    ``limit``, ``head``, ``owner``, ``until`` and ``skip``."""
    picked = _first_of_each_chat(postgres, claimable=True, skipping=skipping)
    if postgres:
        locked = sa.select(_o.id).where(_o.id.in_(picked)).with_for_update(skip_locked=True)
        picked = sa.select(locked.subquery().c.id)
    return (outbox_table.update()
            .where(_o.id.in_(picked), _o.status == PENDING, _unclaimed(_o))
            .values(claimed_by=sa.bindparam("owner"), claimed_until=sa.bindparam("until"))
            .returning(*outbox_table.c))


@functools.cache
def _first_of_each_chat(postgres: bool, *, claimable: bool,
                        skipping: bool = False) -> sa.Select[tuple[int]]:
    """The ids of up to ``limit`` due rows (at ``now``), the oldest of each chat, in queue
    order (parameters ``now``, ``limit``, ``head``, and ``skip`` when ``skipping``).

    The due rows are read in ``(next_attempt_at, id)`` order from the ``ix_outbox_queue``
    index, as far as needed and at most ``head`` rows (:func:`_head_size`): the cost is the
    rows looked at, not the rows pending, and one chat with thousands of due rows at the head
    of the queue cannot hide the others. ``claimable``: only unclaimed rows, and none of a
    chat with a live claim (see :meth:`ClaimStore.claim_due`) or in ``skip``.
    """
    now = sa.bindparam("now", type_=sa.Float)
    q = outbox_table.alias("queue").c
    due = [q.status == PENDING, q.next_attempt_at <= now]
    if claimable:
        due.append(_unclaimed(q))
    head = (sa.select(q.id, q.chat_id, q.next_attempt_at).where(*due)
            .order_by(q.next_attempt_at, q.id)
            .limit(_bound_int("head")).subquery("head"))
    e = outbox_table.alias("earlier").c
    same_chat_due = [e.chat_id == head.c.chat_id, e.status == PENDING, e.next_attempt_at <= now]
    if claimable:
        same_chat_due.append(_unclaimed(e))
    first = ~sa.exists().where(*same_chat_due, sa.tuple_(e.next_attempt_at, e.id)
                               < sa.tuple_(head.c.next_attempt_at, head.c.id))
    query = sa.select(head.c.id).where(first)
    if claimable:
        busy = outbox_table.alias("busy").c
        query = query.where(head.c.chat_id.not_in(
            sa.select(busy.chat_id).where(busy.claimed_until >= now)))
    if skipping:
        query = query.where(head.c.chat_id.not_in(sa.bindparam("skip", expanding=True)))
    if postgres:
        # PostgreSQL knows the head comes in this order and stops reading it at ``limit``.
        # SQLite would sort all of the head first; it reads the head (a co-routine) in its
        # order anyway, so the first ``limit`` rows it keeps are the oldest.
        query = query.order_by(head.c.next_attempt_at, head.c.id)
    return query.limit(_bound_int("limit"))
