"""Telegram's overall limit kept by several processes together: a slot grid in the database.

Every process on one PostgreSQL store sends through its own :class:`bot.delivery.lane.Lane`; alone,
each lane would pace itself at the full rate and three of them would send three times too
fast. So the global slots come from one grid on the wall clock that all processes share: slot
``n`` is the instant ``n * interval``, and a counter row in the store holds the first slot
nobody owns. A lane with messages waiting books a few consecutive slots at once (one short
UPDATE), then hands them to its waiting messages, most urgent first, each at its instant.
Two processes never own the same slot, so all together they never go faster than the grid,
and since slots are only booked for messages already waiting, few are wasted: three
processes with work reach nearly the whole rate.

Alerts book at most :data:`HORIZON` seconds ahead of now, so a process's replies (booked
without that cap, and served first within the process) never wait behind more than that.
A 429 moves the counter past its ``retry_after``: every process pauses.
"""

from __future__ import annotations

import math
import time

from bot.store import Store

#: How far ahead of now alerts may book slots.
HORIZON = 0.5
#: The counter row of the grid in the store.
GRID = "send-slots"


class SharedSlots:
    """Books slots of the grid shared through ``store`` (see the module docstring)."""

    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval

    async def book(self, count: int, *, urgent: bool = False) -> list[float]:
        """Up to ``count`` slots of our own, as wall-clock instants in order (maybe none,
        when others have booked everything up to the horizon: ask again shortly)."""
        now_slot = math.ceil(time.time() / self.interval)
        limit = now_slot + math.ceil(HORIZON / self.interval) + (count if urgent else 0)
        first, end = await self.store.claim_send_slots(GRID, count, now_slot, limit)
        return [n * self.interval for n in range(first, end)]

    async def pause(self, seconds: float) -> None:
        """No process gets a slot for ``seconds`` from now (Telegram said 429)."""
        await self.store.push_send_slots(
            GRID, math.ceil((time.time() + seconds) / self.interval))
