"""Delivery: sends due outbox rows to Telegram as fast as its limits allow, and no faster.

One long-lived asyncio task per running bot (see :meth:`Deliverer.start`) wakes when ingest
writes new rows (the ``wakeup`` event) or every ``[delivery] interval_seconds`` (rows written
by another process, retry times), and sends what is due:

* through the bot's one outgoing lane (:mod:`bot.lane`) at alert priority, so replies to
  people overtake a fan-out and everything together keeps Telegram's limits; several requests
  in flight at once (sends take network time) but never two to the same chat, and a chat whose
  turn has not come is skipped, not waited for;
* a row is marked sent only after Telegram's ok, so after a crash the pending rows go out
  again and only the messages in flight at that moment may arrive twice;
* 429 pauses the whole lane for ``retry_after`` and the row is due again after it;
  403 and "chat not found" end the chat; a migrated group moves to its supergroup; timeouts
  and 5xx retry with exponential backoff until ``max_attempts``; HTML that Telegram cannot
  parse goes out again as plain text.

Which rows a process sends is decided by claims in the store (:meth:`Store.claim_due`): a
batch of due rows, at most one per chat and none for a chat that is busy anywhere, is leased
to this process for :data:`CLAIM_LEASE` seconds; after Telegram's answer the row keeps the
time its chat may get the next message, so every process keeps one chat's pace. A killed
process's claims run out and other processes send those rows; a row whose lease is about to
run out before its send starts is given back unsent, so it is never sent by two processes.

On SQLite one process delivers: it holds a lock in the store, renewed while it runs, and a
second process is told who holds it (:class:`DeliveryLockHeld`). On PostgreSQL every process
delivers, claims keep them apart and the lane's shared budget (:mod:`bot.budget`) keeps
Telegram's overall limit for all of them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import telegram
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)

from bot import clock, metrics
from bot.chatlang import ChatLanguages
from bot.config import DeliverySettings
from bot.digest import DigestItem, render_digest
from bot.i18n import _, set_language
from bot.lane import ALERT, Lane, retry_after_seconds
from bot.releases import Release
from bot.render import ELLIPSIS, MAX_MESSAGE, format_date, release_html, telegram_length
from bot.sources.backoff import backoff_seconds
from bot.store import OutboxRow, Store, StoreGone, StoreUnavailable, process_identity

log = logging.getLogger(__name__)

LOCK_NAME = "delivery"
#: The lock outlives a crashed holder by this long; it is renewed every third of it.
LOCK_TTL = 30.0
#: On stop, sends already in flight get this long to finish and be marked, which avoids
#: sending them again after the restart; then they are cancelled (and stay pending).
STOP_GRACE = 2.0
#: A backed-off row is retried after at most this long, however many attempts it made.
MAX_BACKOFF = 3600.0
#: How long a claim keeps a row for this process; a killed process's rows come back after it.
CLAIM_LEASE = 30.0
#: Most rows one process claims at a time on PostgreSQL.
MAX_SHARED_BATCH = 200
#: Wake this long after a chat's turn, so the store (written just after) agrees it has come.
TURN_SLACK = 0.1
#: How often a process on PostgreSQL looks for claims of processes on this host that died.
DEAD_CLAIMS_CHECK = 5.0

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class _LeaseRunOut(Exception):
    """The row's claim would expire before its send could finish: not sent, given back."""


class DeliveryLockHeld(Exception):
    """Another process already delivers from this database; ``str()`` says which one."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(f"another newsbot process ({holder}) is already delivering from "
                         "this database; stop it first")


@dataclass
class DeliveryStats:
    """Counters since start-up, for logs, /stats and the fan-out benchmark."""

    sent: int = 0
    plain_text: int = 0
    retried: int = 0
    failed: int = 0
    chats_ended: int = 0
    migrated: int = 0
    rate_limited: int = 0


def holder_is_dead(owner: str) -> bool:
    """True when a lock ``owner`` (``host:pid``) is a process on this host that has exited.

    Holders on other hosts cannot be checked; their lock simply expires.
    """
    host, sep, pid_text = owner.rpartition(":")
    if not sep or host != socket.gethostname():
        return False
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


def release_plain(release: Release, matched: tuple[str, ...] = ()) -> str:
    """A release as plain text (no markup): the fallback when Telegram rejects our HTML."""
    meta = " · ".join(p for p in (format_date(release), release.place, release.kind) if p)
    head = [release.title, *([release.url] if release.url else []), meta]
    labels = ", ".join(t or _("all new releases") for t in matched)
    tail = [_("Alert: {topics}").format(topics=labels)] if matched else []
    summary = release.summary
    text = "\n".join([*head, *([summary] if summary else []), *tail])
    while telegram_length(text) > MAX_MESSAGE and summary:
        keep = max(0, len(summary) - (telegram_length(text) - MAX_MESSAGE) - 50)
        summary = summary[:keep].rstrip() + ELLIPSIS if keep else ""
        text = "\n".join([*head, *([summary] if summary else []), *tail])
    if telegram_length(text) > MAX_MESSAGE:  # an absurd title: cut whatever is left
        text = text[:MAX_MESSAGE // 2 - 1] + ELLIPSIS
    return text


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
        #: Each chat's language, for the alert's framing ("Alert: …", the date).
        self.languages = languages or ChatLanguages(store)
        self.settings = settings
        self.wakeup = wakeup
        #: Who holds the lock: ``host:pid`` (tests may pose as another process).
        self.owner = owner or process_identity()
        self.stats = DeliveryStats()
        concurrency = max(2, math.ceil(settings.messages_per_second))
        self._slots = asyncio.Semaphore(concurrency)
        #: Several processes share the store (PostgreSQL): no delivery lock, claims only.
        self.shared = store.engine.dialect.name == "postgresql"
        # A batch is a few seconds of sending: big enough to keep the pipeline full, small
        # enough that rows claimed are still current (and their lease far from its end) when
        # their turn comes; sharing the rate with others, a process claims less at once.
        # Paid broadcasts allow 1000/s, more than one process sends: claims stay small
        # enough to be sent long before their lease runs out.
        self._batch = (min(MAX_SHARED_BATCH, max(10, math.ceil(settings.messages_per_second * 2)))
                       if self.shared else max(50, math.ceil(settings.messages_per_second * 4)))
        self._dead_check_at = 0.0
        self._busy: set[int] = set()  # chats with a send in flight
        self._in_flight: set[int] = set()  # outbox row ids being sent
        #: Rows Telegram accepted but the store could not mark sent (id -> when sent). They
        #: are never sent again; no other row is sent until these are marked (see
        #: :meth:`_mark_unmarked`), so a crash meanwhile repeats at most the ones in flight.
        self._unmarked: dict[int, float] = {}
        self._store_problem: str | None = None  # the last store failure logged, once
        self._sends: set[asyncio.Task[None]] = set()
        self._next_wake: float | None = None  # monotonic; earliest skipped chat's turn
        self._renew_at = 0.0  # wall clock; the lock is trusted until then without asking
        self._held = False
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
        """Take the delivery lock or raise :class:`DeliveryLockHeld` naming its holder.

        On PostgreSQL there is no such lock (every process delivers): claims left by this
        host's dead processes are given back instead. On SQLite the lock's holder is the only
        deliverer, so every claim left in the store is from an earlier run: all come back.
        """
        self._renew_at = 0.0
        if self.shared:
            self._dead_check_at = 0.0
            await self._free_dead_claims()
            return
        await self._hold_lock()
        freed = await self.store.release_claims(
            await self.store.claim_holders(clock.now()) - {self.owner})
        if freed:
            log.info("%d alerts claimed by an earlier run are due again", freed)

    async def _free_dead_claims(self) -> None:
        """Give back rows claimed by processes on this host that have died (PostgreSQL).

        Their claims would run out by themselves after :data:`CLAIM_LEASE`; a dead process
        cannot be sending them, so they need not wait. Others' hosts: the lease decides.
        """
        if time.monotonic() < self._dead_check_at:
            return
        self._dead_check_at = time.monotonic() + DEAD_CLAIMS_CHECK
        dead = {owner for owner in await self.store.claim_holders(clock.now())
                if holder_is_dead(owner)}
        if dead and (freed := await self.store.release_claims(dead)):
            log.warning("%d alerts claimed by stopped process(es) %s are due again",
                        freed, ", ".join(sorted(dead)))

    async def release_lock(self) -> None:
        """Give the lock up (a no-op unless this deliverer holds it); never raises."""
        if not self._held:
            return
        self._held = False
        self._renew_at = 0.0
        try:
            await self.store.release_lock(LOCK_NAME, self.owner)
        except StoreGone:
            pass  # the stop was for this very reason, already told
        except Exception as exc:  # shutting down anyway; the lock expires on its own
            log.warning("could not release the delivery lock (it expires in %.0f s): %s",
                        LOCK_TTL, exc)

    async def _hold_lock(self) -> None:
        """Renew the lock when a third of its life has passed; raise if someone else has it."""
        if self.shared or (self._held and time.time() < self._renew_at):
            return
        holder = await self.store.acquire_lock(LOCK_NAME, self.owner, LOCK_TTL,
                                               is_stale=holder_is_dead)
        if holder is not None:
            self._held = False
            raise DeliveryLockHeld(holder)
        self._held = True
        self._renew_at = time.time() + LOCK_TTL / 3

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
        if self._unmarked:
            try:
                await self._mark_unmarked()
            except Exception as exc:
                log.error("%d alerts were sent but could not be recorded as sent (%s); they "
                          "will be sent again after a restart: outbox rows %s",
                          len(self._unmarked), exc, sorted(self._unmarked))
        with contextlib.suppress(Exception):  # else they come back when the lease runs out
            await self.store.release_claims({self.owner})

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
                self._store_failed(exc)
                self._next_wake = None
            except Exception:
                log.exception("a delivery pass failed; trying again shortly")
                self._next_wake = None
            await self._idle()

    async def _idle(self) -> None:
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
            self._store_failed(exc)
            next_due = None
        except Exception as exc:
            log.warning("could not read the outbox: %s", exc)
            next_due = None
        if next_due is not None and next_due > clock.now():
            delay = min(delay, next_due - clock.now())
        if ((next_due is None or next_due > clock.now()) and not self._sends
                and not self._unmarked and not self.wakeup.is_set()):
            await self._tell_idle()
        # Floor: never spin; ceiling: wake in time to renew the lock.
        delay = min(max(delay, 0.01), LOCK_TTL / 3)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), delay)

    async def _tell_idle(self) -> None:
        async with self._quiet:
            self._quiet_after = self._passes
            self._quiet.notify_all()

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

    # -- one pass -----------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Send every row due now whose chat may receive a message; returns how many were sent.

        Rows for a chat that had a message too recently are left for a later pass, so one
        busy group never holds up everyone else. Raises :class:`DeliveryLockHeld` when
        another process holds the delivery lock.
        """
        async with self._pass_lock:
            sent_before = self.stats.sent
            await self._mark_unmarked()
            await self._hold_lock()
            if self._store_problem:
                log.info("the database works again: delivery resumed")
                self._store_problem = None
            if self.shared:
                await self._free_dead_claims()
            while not self._stopping and not self._unmarked:
                await self._wait_unpaused()
                room = self._batch - len(self._in_flight)
                rows = (await self.store.claim_due(self.owner, clock.now(), room, CLAIM_LEASE,
                                                   skip_chats=self._busy)
                        if room > 0 else [])
                ready = self._ready(rows)
                if not ready:
                    if not self._sends:
                        break
                    # Wait for what is in flight (it may move a row: migration), the next
                    # chat's turn or one interval (new rows), not for each reply: every look
                    # is a query.
                    wait = min(self.settings.interval_seconds, LOCK_TTL / 3)
                    if self._next_wake is not None:
                        wait = min(wait, max(0.05, self._next_wake - time.monotonic()))
                    await asyncio.wait(set(self._sends), timeout=wait)
                    await self._hold_lock()
                    continue
                releases = {rid: await self.store.get_release(rid)
                            for rid in {r.release_id for r in ready}}
                for row in ready:
                    if self._stopping or self._unmarked:
                        break  # a sent row could not be marked: first mark it
                    await self._hold_lock()
                    await self._dispatch(row, releases[row.release_id])
            if self._sends and not self._stopping:
                await asyncio.wait(set(self._sends))
            return self.stats.sent - sent_before

    def _ready(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The claimed rows not already on their way here (every claimed row is sent: the
        lane waits for its chat's turn, which the claim has already respected)."""
        return [row for row in rows
                if row.id not in self._in_flight and row.id not in self._unmarked]

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
                await asyncio.wait_for(self._slots.acquire(), LOCK_TTL / 3)
                break
            except TimeoutError:
                await self._hold_lock()
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

    async def _wait_unpaused(self, *, renew: bool = True) -> None:
        """Until a 429's retry_after has passed (renewing the lock if we are the dispatcher)."""
        while (left := self.lane.paused()) > 0:
            # In pieces, so a long retry_after does not let the lock expire.
            await asyncio.sleep(min(left, LOCK_TTL / 3))
            if renew:
                await self._hold_lock()

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow, release: Release | None) -> None:
        """Send one row and record the outcome; a cancelled send leaves the row pending."""
        try:
            await self._attempt(row, release)
        except _LeaseRunOut:
            log.info("outbox row %d waited so long its claim nearly ran out; given back "
                     "unsent", row.id)
            with contextlib.suppress(Exception):
                await self.store.release_claim(row.id, self.owner)
        except StoreUnavailable as exc:
            # Not sent, or sent and remembered in _unmarked: either way never twice.
            self._store_failed(exc)
        except Exception:
            # A bug or the store failing: the row stays pending and is tried again later.
            log.exception("delivering outbox row %d to chat %d failed", row.id, row.chat_id)
        finally:
            self._busy.discard(row.chat_id)
            self._in_flight.discard(row.id)
            self._slots.release()
            self._note_turn(row.chat_id)

    async def _send(self, row: OutboxRow, **kwargs: Any) -> None:
        """One sendMessage through the lane at alert priority; a 429 is raised to record it
        on the row (the lane has already paused everything for its retry_after).

        Checked at the very moment the slot comes: if the row's claim could run out before
        Telegram answers, another process may claim it then, so it is not sent here.
        """
        deadline = row.claimed_until
        if self.settings.paid_broadcast:
            kwargs["allow_paid_broadcast"] = True

        async def call() -> Any:
            if deadline is not None and clock.now() + self.settings.request_timeout + 1 > deadline:
                raise _LeaseRunOut
            return await self.bot.send_message(chat_id=row.chat_id, **kwargs)

        await self.lane.send(call, chat_id=row.chat_id, priority=ALERT, retry_429=False)

    def _chat_free_at(self, row: OutboxRow) -> float:
        """When the row's chat may get its next message (any process), from now."""
        return clock.now() + self.lane.gap(row.chat_id)

    async def _attempt(self, row: OutboxRow, release: Release | None) -> None:
        """Send the row's alert (or the digest it belongs to) and record the outcome."""
        # The framing ("Alert: …", dates, a digest's heading) in the chat's language; the
        # releases as published. This task is the row's own: the language stays in it.
        set_language(await self.languages.for_chat(row.chat_id))
        if row.digest:
            await self._attempt_digest(row)
            return
        if release is None:
            self.stats.failed += 1
            await self.store.mark_failed(row.id, f"release {row.release_id} no longer exists")
            return
        await self._send_rows(row, release_html(release, matched=row.topics),
                              lambda: release_plain(release, row.topics), [row.id])

    async def _attempt_digest(self, row: OutboxRow) -> None:
        """Send every due digest row of the row's chat and thread as one digest (see
        :mod:`bot.digest`): part after part, each part's rows marked sent on its ok."""
        rows = [due for due in await self.store.due_digest_rows(row.chat_id, row.thread_id,
                                                                 clock.now())
                if due.id not in self._unmarked]  # sent already, only not recorded yet
        items: list[DigestItem] = []
        for each in rows:
            release = await self.store.get_release(each.release_id)
            if release is None:
                self.stats.failed += 1
                await self.store.mark_failed(each.id, f"release {each.release_id} no longer "
                                                      "exists")
            else:
                items.append(DigestItem(each.id, release, each.topics, each.digest))
        parts = render_digest(items)
        for n, part in enumerate(parts):
            # The lane gives each part its chat's turn like any other message.
            rest = [i for later in parts[n:] for i in later.row_ids]
            if not await self._send_rows(row, part.html,
                                         lambda p=part: p.plain,  # type: ignore[misc]
                                         part.row_ids, rest):
                return

    async def _send_rows(self, row: OutboxRow, text: str, plain: Callable[[], str],
                         ids: Sequence[int], rest: Sequence[int] = ()) -> bool:
        """Send one message for the outbox rows ``ids``, falling back as Telegram's answer
        says; on ok mark them sent together. On failure ``rest`` (default: ``ids``) is what
        is retried or given up together. True when the message went out."""
        undone = list(rest or ids)
        mode: ParseMode | None = ParseMode.HTML
        thread = row.thread_id or None
        while True:
            try:
                await self._send(
                    row, text=text, parse_mode=mode,
                    message_thread_id=thread, link_preview_options=_NO_PREVIEW)
            except RetryAfter as exc:
                await self._rate_limited(undone, exc)
            except ChatMigrated as exc:
                await self._migrated(row, int(exc.new_chat_id))
            except Forbidden as exc:
                await self._end_chat(row, exc.message)
            except BadRequest as exc:
                reason = exc.message.lower()
                if "can't parse entities" in reason and mode is not None:
                    log.error("BUG: Telegram cannot parse the HTML of release %s (%s); "
                              "sending it to chat %d as plain text", row.release_id,
                              exc.message, row.chat_id)
                    text, mode = plain(), None
                    self.stats.plain_text += 1
                elif thread is not None and ("thread not found" in reason
                                             or "topic_deleted" in reason):
                    log.warning("thread %d of chat %d is gone (%s); sending to the chat itself",
                                thread, row.chat_id, exc.message)
                    thread = None
                elif "chat not found" in reason:
                    await self._end_chat(row, exc.message)
                    return False
                else:
                    self.stats.failed += 1
                    log.warning("Telegram refused outbox row %d for chat %d: %s",
                                row.id, row.chat_id, exc.message)
                    await self.store.mark_failed(undone, f"BadRequest: {exc.message}",
                                                 chat_free_at=self._chat_free_at(row))
                    return False
                continue  # the lane spaces the next try from this refusal
            except TelegramError as exc:
                # TimedOut and NetworkError (5xx, connection lost): it may work later.
                # InvalidToken and Conflict land here too and use up attempts the same way.
                await self._backoff(row, undone, exc)
            else:
                self.stats.sent += 1
                metrics.alert_sent()
                await self._mark_sent(row, ids)
                return True
            return False

    # -- bookkeeping after a send ---------------------------------------------------------------

    async def _mark_sent(self, row: OutboxRow, ids: Sequence[int]) -> None:
        """Record a send; if the store cannot, remember the rows so they are never sent again."""
        sent_at = time.time()
        try:
            await self.store.mark_sent(ids, sent_at, chat_free_at=self._chat_free_at(row))
        except Exception as exc:
            self._unmarked.update(dict.fromkeys(ids, sent_at))
            if isinstance(exc, StoreUnavailable):
                self._store_failed(exc)
            else:
                log.exception("could not mark outbox rows %s as sent", list(ids))

    async def _mark_unmarked(self) -> None:
        """Mark the rows sent while the store failed; raises while it still fails."""
        for row_id, sent_at in sorted(self._unmarked.items()):
            await self.store.mark_sent(row_id, sent_at)
            del self._unmarked[row_id]

    def _store_failed(self, exc: StoreUnavailable) -> None:
        """One log line per kind of store failure, not one per row or per pass."""
        if isinstance(exc, StoreGone):
            return  # the bot stops and says why (bot.app watches the file)
        if str(exc) != self._store_problem:
            self._store_problem = str(exc)
            log.error("delivery paused: %s%s; retrying every %g s", exc,
                      f" ({len(self._unmarked)} sent alerts not yet recorded)"
                      if self._unmarked else "", self.settings.interval_seconds)

    async def _rate_limited(self, ids: Sequence[int], exc: RetryAfter) -> None:
        # The lane has paused all sending (and logged it); the rows wait out the same time.
        seconds = retry_after_seconds(exc)
        self.stats.rate_limited += 1
        await self.store.mark_retry(ids, clock.now() + seconds,
                                    f"429: retry after {seconds:g} s", count_attempt=False)

    async def _migrated(self, row: OutboxRow, new_id: int) -> None:
        self.stats.migrated += 1
        log.info("chat %d became supergroup %d: moving its subscriptions and alerts",
                 row.chat_id, new_id)
        # Moves this row too (still pending, due now): the next fetch sends it there.
        await self.store.migrate_chat(row.chat_id, new_id)

    async def _end_chat(self, row: OutboxRow, reason: str) -> None:
        self.stats.chats_ended += 1
        ended = await self.store.end_chat(row.chat_id, reason)
        log.info("chat %d is gone for the bot (%s): %d subscriptions and its pending alerts "
                 "ended", row.chat_id, reason, ended)

    async def _backoff(self, row: OutboxRow, ids: Sequence[int], exc: TelegramError) -> None:
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc.message}"
        if attempts >= self.settings.max_attempts:
            self.stats.failed += 1
            log.warning("giving up on outbox row %d for chat %d after %d attempts: %s",
                        row.id, row.chat_id, attempts, error)
            await self.store.mark_failed(ids, error, chat_free_at=self._chat_free_at(row))
            return
        delay = backoff_seconds(attempts, self.settings.backoff_seconds, cap=MAX_BACKOFF)
        self.stats.retried += 1
        log.info("outbox row %d for chat %d: %s; retrying in %.1f s", row.id, row.chat_id,
                 error, delay)
        await self.store.mark_retry(ids, clock.now() + delay, error,
                                    chat_free_at=self._chat_free_at(row))
