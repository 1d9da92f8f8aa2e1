"""The delivery loop: claims due outbox rows and sends them as fast as Telegram allows.

One long-lived asyncio task per running bot (see :meth:`Deliverer.start`) wakes when ingest
writes new rows (the ``wakeup`` event) or every ``[delivery] interval_seconds`` (rows written
by another process, retry times), and sends what is due through the bot's one outgoing lane
(:mod:`bot.delivery.lane`): several requests in flight at once (sends take network time) but
never two to the same chat, and a chat whose turn has not come is skipped, not waited for.
What one send does and how its answer is recorded is :mod:`bot.delivery.sender`.

Which rows a process sends is decided by claims in the store (:meth:`Store.claim_due`): a
batch of due rows, at most one per chat and none for a chat that is busy anywhere, is leased
to this process for :data:`CLAIM_LEASE` seconds; after Telegram's answer the row keeps the
time its chat may get the next message, so every process keeps one chat's pace. A killed
process's claims run out and other processes send those rows; a row whose lease is about to
run out before its send starts is given back unsent, so it is never sent by two processes.
Who may deliver at all is :mod:`bot.delivery.lock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

import telegram

from bot import clock
from bot.chatlang import ChatLanguages
from bot.config import DeliverySettings
from bot.delivery.lane import Lane
from bot.delivery.lock import DeliveryLock, DeliveryLockHeld
from bot.delivery.sender import LeaseRunOut, Sender
from bot.delivery.stats import DeliveryStats, counts_line
from bot.releases import Release
from bot.store import OutboxRow, Store, StoreUnavailable, process_identity

log = logging.getLogger(__name__)

#: On stop, sends already in flight get this long to finish and be marked, which avoids
#: sending them again after the restart; then they are cancelled (and stay pending).
STOP_GRACE = 2.0
#: How long a claim keeps a row for this process; a killed process's rows come back after it.
CLAIM_LEASE = 30.0
#: Most rows one process claims at a time on PostgreSQL.
MAX_SHARED_BATCH = 200
#: Wake this long after a chat's turn, so the store (written just after) agrees it has come.
TURN_SLACK = 0.1


class Deliverer:
    """Sends the outbox within Telegram's limits; one per running bot, holding the store lock."""

    def __init__(self, bot: telegram.Bot, store: Store, settings: DeliverySettings,
                 wakeup: asyncio.Event, *, owner: str | None = None,
                 lane: Lane | None = None, languages: ChatLanguages | None = None) -> None:
        self.bot = bot
        #: The outgoing lane: the one the bot's own rate limiter is (the application's), so
        #: replies and alerts share Telegram's limits, else one of our own (a bare Bot).
        limiter = getattr(bot, "rate_limiter", None)
        self.lane = lane or (limiter if isinstance(limiter, Lane)
                             else Lane.from_settings(settings))
        self.store = store
        self.settings = settings
        self.wakeup = wakeup
        #: Who holds the lock and claims rows: ``host:pid`` (tests may pose as another process).
        self.owner = owner or process_identity()
        self.stats = DeliveryStats()
        #: Several processes share the store (PostgreSQL): no delivery lock, claims only.
        self.shared = store.engine.dialect.name == "postgresql"
        self.lock = DeliveryLock(store, self.owner, shared=self.shared)
        self.sender = Sender(bot, self.lane, store, settings,
                             languages or ChatLanguages(store), self.stats)
        concurrency = max(2, math.ceil(settings.messages_per_second))
        self._slots = asyncio.Semaphore(concurrency)
        # A batch is a few seconds of sending: big enough to keep the pipeline full, small
        # enough that rows claimed are still current (and their lease far from its end) when
        # their turn comes; sharing the rate with others, a process claims less at once.
        # Paid broadcasts allow 1000/s, more than one process sends: claims stay small
        # enough to be sent long before their lease runs out.
        self._batch = (min(MAX_SHARED_BATCH, max(10, math.ceil(settings.messages_per_second * 2)))
                       if self.shared else max(50, math.ceil(settings.messages_per_second * 4)))
        self._busy: set[int] = set()  # chats with a send in flight
        self._in_flight: set[int] = set()  # outbox row ids being sent
        self._sends: set[asyncio.Task[None]] = set()
        self._next_wake: float | None = None  # monotonic; earliest skipped chat's turn
        self._pass_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Passes of the loop begun, and the last one after which it was idle (see
        #: :meth:`idle`); waiters are told through ``_quiet``.
        self._passes = 0
        self._quiet_after = -1
        self._quiet = asyncio.Condition()

    # -- the lock ---------------------------------------------------------------------------

    async def acquire_lock(self) -> None:
        """Take the delivery lock or raise :class:`DeliveryLockHeld` naming its holder (see
        :meth:`DeliveryLock.acquire`)."""
        await self.lock.acquire()

    async def release_lock(self) -> None:
        """Give the lock up (a no-op unless this deliverer holds it); never raises."""
        await self.lock.release()

    # -- the background loop ----------------------------------------------------------------

    def start(self) -> None:
        """Start the sending loop as a background task (call :meth:`acquire_lock` first)."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="newsbot-delivery")

    async def stop(self) -> None:
        """Stop promptly: no new sends; sends in flight get a moment, then are cancelled.

        A cancelled send is never marked, so its row stays pending and goes out after restart.
        """
        self._stopping = True
        async with self._quiet:  # idle() waiters return: nothing more will happen
            self._quiet.notify_all()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sends:
            _done, pending = await asyncio.wait(set(self._sends), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        unmarked = self.sender.unmarked
        if unmarked:
            try:
                await self.sender.mark_unmarked()
            except Exception as exc:
                log.error("%d alerts were sent but could not be recorded as sent (%s); they "
                          "will be sent again after a restart: outbox rows %s",
                          len(unmarked), exc, sorted(unmarked))
        with contextlib.suppress(Exception):  # else they come back when the lease runs out
            await self.store.release_claims({self.owner})
        if self.stats.sent or self.stats.failed:
            log.info("delivery since start-up: %s; the outgoing lane: %s",
                     counts_line(self.stats), counts_line(self.lane.stats))

    async def idle(self) -> None:
        """Return once the running loop has nothing due and nothing in flight.

        "Idle" is seen at the end of a pass that began after this call, so every row
        committed before the call has been looked at: sent, or due only later (a retry, a
        digest). Waits for as long as rows stay due (e.g. while another process holds the
        delivery lock): wrap it in :func:`asyncio.wait_for` for a bound. Returns as well
        when the loop is stopped; raises RuntimeError when it is not running (:meth:`start`).
        """
        if self._task is None or self._task.done():
            raise RuntimeError("the delivery loop is not running (call start() first)")
        wanted = self._passes + 1
        self.wakeup.set()  # a fresh pass now rather than after the interval
        async with self._quiet:
            await self._quiet.wait_for(lambda: self._quiet_after >= wanted or self._stopping)

    async def _run(self) -> None:
        lock_problem: str | None = None
        while not self._stopping:
            # Cleared before the pass: rows added during it set the event again.
            self.wakeup.clear()
            self._passes += 1
            try:
                await self.deliver_due()
                if lock_problem:
                    log.info("delivery resumed: this process holds the delivery lock again")
                    lock_problem = None
            except DeliveryLockHeld as exc:
                if str(exc) != lock_problem:
                    log.error("delivery paused: %s", exc)
                    lock_problem = str(exc)
            except StoreUnavailable as exc:
                self.sender.store_failed(exc)
                self._next_wake = None
            except Exception:
                log.exception("a delivery pass failed; trying again shortly")
                self._next_wake = None
            await self._wait()

    async def _wait(self) -> None:
        """Wait for new rows, the next retry time or a chat's turn, at most one interval."""
        delay = self.settings.interval_seconds
        now = time.monotonic()
        if self._next_wake is not None:
            if self._next_wake > now:
                delay = min(delay, self._next_wake - now)
            else:
                self._next_wake = None
        try:
            next_due = await self.store.next_due_at()
        except StoreUnavailable as exc:
            self.sender.store_failed(exc)
            next_due = None
        except Exception as exc:
            log.warning("could not read the outbox: %s", exc)
            next_due = None
        if next_due is not None and next_due > clock.now():
            delay = min(delay, next_due - clock.now())
        if ((next_due is None or next_due > clock.now()) and not self._sends
                and not self.sender.unmarked and not self.wakeup.is_set()):
            await self._tell_idle()
        # Floor: never spin; ceiling: wake in time to renew the lock.
        delay = min(max(delay, 0.01), self.lock.renew_every)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), delay)

    async def _tell_idle(self) -> None:
        async with self._quiet:
            self._quiet_after = self._passes
            self._quiet.notify_all()

    # -- one pass -----------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Send every row due now whose chat may receive a message; returns how many were sent.

        Rows for a chat that had a message too recently are left for a later pass, so one
        busy group never holds up everyone else. Raises :class:`DeliveryLockHeld` when
        another process holds the delivery lock.
        """
        async with self._pass_lock:
            sent_before = self.stats.sent
            await self.sender.mark_unmarked()
            await self.lock.hold()
            await self.lock.free_dead_claims()
            while not self._stopping and not self.sender.unmarked:
                await self._wait_unpaused()
                room = self._batch - len(self._in_flight)
                rows = (await self.store.claim_due(self.owner, clock.now(), room, CLAIM_LEASE,
                                                   skip_chats=self._busy)
                        if room > 0 else [])
                if room > 0:  # the claim is a write: only a write tells the store works
                    self.sender.store_works()
                ready = self._ready(rows)
                if not ready:
                    if not self._sends:
                        break
                    # Wait for what is in flight (it may move a row: migration), the next
                    # chat's turn or one interval (new rows), not for each reply: every look
                    # is a query.
                    wait = min(self.settings.interval_seconds, self.lock.renew_every)
                    if self._next_wake is not None:
                        wait = min(wait, max(0.05, self._next_wake - time.monotonic()))
                    await asyncio.wait(set(self._sends), timeout=wait)
                    await self.lock.hold()
                    continue
                releases = {rid: await self.store.get_release(rid)
                            for rid in {r.release_id for r in ready}}
                for row in ready:
                    if self._stopping or self.sender.unmarked:
                        break  # a sent row could not be marked: first mark it
                    await self.lock.hold()
                    await self._dispatch(row, releases[row.release_id])
            if self._sends and not self._stopping:
                await asyncio.wait(set(self._sends))
            return self.stats.sent - sent_before

    def _ready(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The claimed rows not already on their way here (every claimed row is sent: the
        lane waits for its chat's turn, which the claim has already respected)."""
        return [row for row in rows
                if row.id not in self._in_flight and row.id not in self.sender.unmarked]

    def _note_turn(self, chat_id: int) -> None:
        """Wake when this chat's next turn comes (its next row may be due then)."""
        turn = self.lane.ready_at(chat_id)
        if turn:
            turn += TURN_SLACK  # the store's note of the turn is taken a moment later
        if turn and (self._next_wake is None or turn < self._next_wake
                     or self._next_wake < time.monotonic()):
            self._next_wake = turn

    async def _dispatch(self, row: OutboxRow, release: Release | None) -> None:
        """Wait for a free slot and any 429 pause to end, then send ``row`` in its own task.

        The task waits in the lane for its chat's turn and a global slot (behind replies).
        """
        while True:
            try:  # replies may hold the lane a while: keep the lock meanwhile
                await asyncio.wait_for(self._slots.acquire(), self.lock.renew_every)
                break
            except TimeoutError:
                await self.lock.hold()
        try:
            await self._wait_unpaused()
        except BaseException:
            self._slots.release()
            raise
        if self._stopping:
            self._slots.release()
            return
        self._busy.add(row.chat_id)
        self._in_flight.add(row.id)
        task = asyncio.get_running_loop().create_task(self._deliver(row, release))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _wait_unpaused(self) -> None:
        """Until a 429's retry_after has passed, renewing the lock meanwhile."""
        while (left := self.lane.paused()) > 0:
            # In pieces, so a long retry_after does not let the lock expire.
            await asyncio.sleep(min(left, self.lock.renew_every))
            await self.lock.hold()

    async def _deliver(self, row: OutboxRow, release: Release | None) -> None:
        """Send one row and record the outcome; a cancelled send leaves the row pending."""
        try:
            await self.sender.deliver(row, release)
        except LeaseRunOut:
            log.info("outbox row %d waited so long its claim nearly ran out; given back "
                     "unsent", row.id)
            with contextlib.suppress(Exception):
                await self.store.release_claim(row.id, self.owner)
        except StoreUnavailable as exc:
            # Not sent, or sent and remembered as unmarked: either way never twice.
            self.sender.store_failed(exc)
        except Exception:
            # A bug or the store failing: the row stays pending and is tried again later.
            log.exception("delivering outbox row %d to chat %d failed", row.id, row.chat_id)
        finally:
            self._busy.discard(row.chat_id)
            self._in_flight.discard(row.id)
            self._slots.release()
            self._note_turn(row.chat_id)
