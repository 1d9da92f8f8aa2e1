"""Several ``newsbot run`` processes on one PostgreSQL store: who does the one-at-a-time jobs.

Delivery needs no coordinator (every process claims outbox rows, see :mod:`bot.delivery`),
nor do webhook updates (each process answers what the proxy pushes to it). Two jobs must run
in one process at a time, each held through a lease row in the store (``locks``) that its
holder renews every :data:`TICK` seconds and that others take over once it has not been
renewed for :data:`LEASE_TTL` seconds, or at once when its holder is a dead process on this
host:

* **source polling** (lease ``sources``): the holder polls the files and feeds; each poll is
  also recorded in the store first (:meth:`Store.claim_source_poll`), so even a leader that
  has not yet noticed it lost its lease never polls a source a second time in one interval;
* **long polling** (lease ``updates``, without a webhook): Telegram allows one getUpdates
  at a time per bot, so one process polls and the others wait to take over.

Every process also refreshes its search index from the store's revision each tick, so a
release stored by the leader is searchable everywhere within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.delivery import holder_is_dead
from bot.ingest import Ingestor
from bot.poller import SourcePoller
from bot.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

#: Seconds between two looks (renewals by the holder, takeover tries by the others).
TICK = 2.0
#: A lease not renewed for this long is taken over: with TICK, within 10 s of a death.
LEASE_TTL = 8.0

SOURCES = "sources"
UPDATES = "updates"


class Lease:
    """A named lease in the store, held by one process at a time."""

    def __init__(self, store: Store, name: str, owner: str, ttl: float = LEASE_TTL) -> None:
        self.store, self.name, self.owner, self.ttl = store, name, owner, ttl
        self.held = False
        self._problem: str | None = None  # the last store failure logged, once

    async def hold(self) -> bool:
        """Take or renew the lease; False while another live process holds it.

        While the store does not answer, the answer stays what it was: a process that long
        polls keeps answering people (honestly, that the database fails) rather than go
        silent, and one that does not cannot take over. Others cannot reach the store
        either, or take the lease over once it runs out (Telegram then refuses one poller).
        """
        try:
            holder = await self.store.acquire_lock(self.name, self.owner, self.ttl,
                                                   is_stale=holder_is_dead)
        except StoreUnavailable as exc:
            if str(exc) != self._problem:
                self._problem = str(exc)
                log.error("cannot renew or take the %s lease: %s", self.name, exc)
            return self.held
        self._problem = None
        held = holder is None
        if held and not self.held:
            log.info("this process (%s) now holds the %s lease", self.owner, self.name)
        elif self.held and not held:
            log.warning("the %s lease went to %s", self.name, holder)
        self.held = held
        return held

    async def release(self) -> None:
        """Let the next process take over at once (a no-op unless held); never raises."""
        if not self.held:
            return
        self.held = False
        with contextlib.suppress(Exception):
            await self.store.release_lock(self.name, self.owner)


class Coordinator:
    """The periodic task of one process among several: leases, source polls, index refresh."""

    def __init__(self, store: Store, owner: str, poller: SourcePoller, ingestor: Ingestor, *,
                 poll_seconds: float, start_updates: Callable[[], Awaitable[None]] | None = None,
                 stop_updates: Callable[[], Awaitable[None]] | None = None) -> None:
        self.sources = Lease(store, SOURCES, owner)
        self.updates = Lease(store, UPDATES, owner) if start_updates else None
        self.poller = poller
        self.ingestor = ingestor
        self.tick_seconds = min(TICK, poll_seconds)
        self._start_updates = start_updates
        self._stop_updates = stop_updates
        self._polling = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="newsbot-cluster")

    async def stop(self) -> None:
        """Stop the task, long polling if this process had it, and hand the leases over."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._polling and self._stop_updates is not None:
            self._polling = False
            await self._stop_updates()
        for lease in (self.sources, self.updates):
            if lease is not None:
                await lease.release()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # one bad tick must not end the process's share of the work
                log.exception("a coordination tick failed; trying again")
            await asyncio.sleep(self.tick_seconds)

    async def tick(self) -> None:
        """One look: updates lease, sources lease (and their polls), index refresh."""
        await self._updates_tick()
        if await self.sources.hold():
            self.poller.start_all()
        try:
            await self.ingestor.refresh_index()
        except StoreUnavailable as exc:
            log.warning("could not pick up releases stored by other processes: %s", exc)

    async def _updates_tick(self) -> None:
        if self.updates is None:
            return
        held = await self.updates.hold()
        if held and not self._polling and self._start_updates is not None:
            await self._start_updates()
            self._polling = True
        elif not held and self._polling and self._stop_updates is not None:
            self._polling = False
            await self._stop_updates()
