"""Delivery: sends due outbox rows to Telegram as fast as its limits allow, and no faster.

One long-lived asyncio task per running bot (see :meth:`Deliverer.start`) wakes when ingest
writes new rows (the ``wakeup`` event) or every ``[delivery] interval_seconds`` (rows written
by another process, retry times), and sends what is due:

* evenly paced at ``messages_per_second`` overall, at most one message a second per chat and
  ``per_group_per_minute`` per group or channel, several requests in flight at once (sends
  take network time) but never two to the same chat;
* a row is marked sent only after Telegram's ok, so after a crash the pending rows go out
  again and only the messages in flight at that moment may arrive twice;
* 429 pauses all sending for ``retry_after``; 403 and "chat not found" end the chat;
  a migrated group moves to its supergroup; timeouts and 5xx retry with exponential backoff
  until ``max_attempts``; HTML that Telegram cannot parse goes out again as plain text.

Only one process may deliver from a database: the job holds a lock in the store, renewed
while it runs, and a second process is told who holds it (:class:`DeliveryLockHeld`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from dataclasses import dataclass

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

from bot.chatlang import ChatLanguages
from bot.config import DeliverySettings
from bot.i18n import _, set_language
from bot.releases import Release
from bot.render import ELLIPSIS, MAX_MESSAGE, format_date, release_html, telegram_length
from bot.retry import retry_after_seconds, without_retries
from bot.sources.backoff import backoff_seconds
from bot.store import OutboxRow, Store, process_identity

log = logging.getLogger(__name__)

LOCK_NAME = "delivery"
#: The lock outlives a crashed holder by this long; it is renewed every third of it.
LOCK_TTL = 30.0
#: Pace a little under the configured rate: Telegram (and the emulator) count sliding windows
#: of arrival times, and network jitter can bring two evenly paced sends closer together.
RATE_MARGIN = 0.97
#: On stop, sends already in flight get this long to finish and be marked, which avoids
#: sending them again after the restart; then they are cancelled (and stay pending).
STOP_GRACE = 2.0
#: A backed-off row is retried after at most this long, however many attempts it made.
MAX_BACKOFF = 3600.0

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


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


class _Pacer:
    """Evenly spaced send slots: never a burst, and a late wake-up does not shift later slots."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        # Reserve before sleeping so concurrent callers get distinct slots.
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Deliverer:
    """Sends the outbox within Telegram's limits; one per running bot, holding the store lock."""

    def __init__(self, bot: telegram.Bot, store: Store, settings: DeliverySettings,
                 wakeup: asyncio.Event, *, owner: str | None = None,
                 languages: ChatLanguages | None = None) -> None:
        self.bot = bot
        self.store = store
        #: Each chat's language, for the alert's framing ("Alert: …", the date).
        self.languages = languages or ChatLanguages(store)
        self.settings = settings
        self.wakeup = wakeup
        #: Who holds the lock: ``host:pid`` (tests may pose as another process).
        self.owner = owner or process_identity()
        self.stats = DeliveryStats()
        self._pacer = _Pacer(settings.messages_per_second * RATE_MARGIN)
        self._private_gap = 1.0 / settings.per_chat_per_second
        self._group_gap = max(self._private_gap, 60.0 / settings.per_group_per_minute)
        concurrency = max(2, math.ceil(settings.messages_per_second))
        self._slots = asyncio.Semaphore(concurrency)
        # A batch is a few seconds of sending: big enough to keep the pipeline full, small
        # enough that rows fetched are still current when their turn comes.
        self._batch = max(50, math.ceil(settings.messages_per_second * 4))
        self._chat_ready: dict[int, float] = {}  # chat id -> monotonic time it may get more
        self._busy: set[int] = set()  # chats with a send in flight
        self._in_flight: set[int] = set()  # outbox row ids being sent
        self._sends: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0  # monotonic; set by a 429
        self._next_wake: float | None = None  # monotonic; earliest skipped chat's turn
        self._renew_at = 0.0  # wall clock; the lock is trusted until then without asking
        self._held = False
        self._pass_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- the lock ---------------------------------------------------------------------------

    async def acquire_lock(self) -> None:
        """Take the delivery lock or raise :class:`DeliveryLockHeld` naming its holder."""
        self._renew_at = 0.0
        await self._hold_lock()

    async def release_lock(self) -> None:
        """Give the lock up (a no-op unless this deliverer holds it); never raises."""
        if not self._held:
            return
        self._held = False
        self._renew_at = 0.0
        try:
            await self.store.release_lock(LOCK_NAME, self.owner)
        except Exception as exc:  # shutting down anyway; the lock expires on its own
            log.warning("could not release the delivery lock (it expires in %.0f s): %s",
                        LOCK_TTL, exc)

    async def _hold_lock(self) -> None:
        """Renew the lock when a third of its life has passed; raise if someone else has it."""
        if self._held and time.time() < self._renew_at:
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
        with without_retries():  # the loop handles 429 itself: it pauses all sending
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="newsbot-delivery")

    async def stop(self) -> None:
        """Stop promptly: no new sends; sends in flight get a moment, then are cancelled.

        A cancelled send is never marked, so its row stays pending and goes out after restart.
        """
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sends:
            _done, pending = await asyncio.wait(set(self._sends), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self) -> None:
        lock_problem: str | None = None
        while not self._stopping:
            # Cleared before the pass: rows added during it set the event again.
            self.wakeup.clear()
            try:
                await self.deliver_due()
                if lock_problem:
                    log.info("delivery resumed: this process holds the delivery lock again")
                    lock_problem = None
            except DeliveryLockHeld as exc:
                if str(exc) != lock_problem:
                    log.error("delivery paused: %s", exc)
                    lock_problem = str(exc)
            except Exception:
                log.exception("a delivery pass failed; trying again shortly")
                self._next_wake = None
            await self._idle()

    async def _idle(self) -> None:
        """Wait for new rows, the next retry time or a chat's turn, at most one interval."""
        delay = self.settings.interval_seconds
        now = time.monotonic()
        if self._next_wake is not None:
            delay = min(delay, self._next_wake - now)
        try:
            next_due = await self.store.next_due_at()
        except Exception as exc:
            log.warning("could not read the outbox: %s", exc)
            next_due = None
        if next_due is not None and next_due > time.time():
            delay = min(delay, next_due - time.time())
        # Floor: never spin; ceiling: wake in time to renew the lock.
        delay = min(max(delay, 0.01), LOCK_TTL / 3)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), delay)

    # -- one pass -----------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Send every row due now whose chat may receive a message; returns how many were sent.

        Rows for a chat that had a message too recently are left for a later pass, so one
        busy group never holds up everyone else. Raises :class:`DeliveryLockHeld` when
        another process holds the delivery lock.
        """
        async with self._pass_lock:
            sent_before = self.stats.sent
            await self._hold_lock()
            while not self._stopping:
                await self._wait_unpaused()
                rows = await self.store.due_deliveries(time.time(), self._batch, per_chat=1)
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
                    if self._stopping:
                        break
                    await self._hold_lock()
                    await self._dispatch(row, releases[row.release_id])
            if self._sends and not self._stopping:
                await asyncio.wait(set(self._sends))
            return self.stats.sent - sent_before

    def _ready(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The rows that may go now; remembers when the earliest skipped chat's turn comes."""
        now = time.monotonic()
        self._next_wake = None
        if len(self._chat_ready) > 10_000:
            self._chat_ready = {c: t for c, t in self._chat_ready.items() if t > now}
        ready: list[OutboxRow] = []
        for row in rows:
            if row.id in self._in_flight or row.chat_id in self._busy:
                continue
            turn = self._chat_ready.get(row.chat_id, 0.0)
            if turn > now:
                if self._next_wake is None or turn < self._next_wake:
                    self._next_wake = turn
                continue
            ready.append(row)
        return ready

    async def _dispatch(self, row: OutboxRow, release: Release | None) -> None:
        """Wait for a free slot and the global pace, then send ``row`` in its own task."""
        await self._slots.acquire()
        try:
            await self._wait_turn(row.chat_id, renew=True)
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

    async def _wait_turn(self, chat_id: int, *, renew: bool = False) -> None:
        """Until this chat may get a message, no 429 pause is on, and the pace allows one."""
        while True:
            await self._wait_unpaused(renew=renew)
            gap = self._chat_ready.get(chat_id, 0.0) - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)
            await self._pacer.wait()
            if time.monotonic() >= self._paused_until:
                return  # else a 429 arrived while we waited: wait it out first

    async def _wait_unpaused(self, *, renew: bool = True) -> None:
        """Until a 429's retry_after has passed (renewing the lock if we are the dispatcher)."""
        while (left := self._paused_until - time.monotonic()) > 0:
            # In pieces, so a long retry_after does not let the lock expire.
            await asyncio.sleep(min(left, LOCK_TTL / 3))
            if renew:
                await self._hold_lock()

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow, release: Release | None) -> None:
        """Send one row and record the outcome; a cancelled send leaves the row pending."""
        try:
            await self._attempt(row, release)
        except Exception:
            # A bug or the store failing: the row stays pending and is tried again later.
            log.exception("delivering outbox row %d to chat %d failed", row.id, row.chat_id)
        finally:
            # Spacing counts from the reply, so the next request can never reach Telegram
            # within the gap, however the network delayed this one.
            self._chat_ready[row.chat_id] = time.monotonic() + self._gap(row.chat_id)
            self._busy.discard(row.chat_id)
            self._in_flight.discard(row.id)
            self._slots.release()

    def _gap(self, chat_id: int) -> float:
        """Seconds between two messages to this chat (negative ids: groups and channels)."""
        return self._group_gap if chat_id < 0 else self._private_gap

    async def _attempt(self, row: OutboxRow, release: Release | None) -> None:
        """Send the row's alert, falling back as Telegram's answer says, and record it."""
        if release is None:
            self.stats.failed += 1
            await self.store.mark_failed(row.id, f"release {row.release_id} no longer exists")
            return
        # The framing (date, "Alert: …") in the chat's language; the release as published.
        set_language(await self.languages.for_chat(row.chat_id))
        text = release_html(release, matched=row.topics)
        mode: ParseMode | None = ParseMode.HTML
        thread = row.thread_id or None
        while True:
            try:
                await self.bot.send_message(
                    chat_id=row.chat_id, text=text, parse_mode=mode,
                    message_thread_id=thread, link_preview_options=_NO_PREVIEW)
            except RetryAfter as exc:
                await self._rate_limited(row, exc)
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
                    text, mode = release_plain(release, row.topics), None
                    self.stats.plain_text += 1
                elif thread is not None and ("thread not found" in reason
                                             or "topic_deleted" in reason):
                    log.warning("thread %d of chat %d is gone (%s); sending to the chat itself",
                                thread, row.chat_id, exc.message)
                    thread = None
                elif "chat not found" in reason:
                    await self._end_chat(row, exc.message)
                    return
                else:
                    self.stats.failed += 1
                    log.warning("Telegram refused outbox row %d for chat %d: %s",
                                row.id, row.chat_id, exc.message)
                    await self.store.mark_failed(row.id, f"BadRequest: {exc.message}")
                    return
                # The refused request may have counted against the chat's limit.
                self._chat_ready[row.chat_id] = time.monotonic() + self._gap(row.chat_id)
                await self._wait_turn(row.chat_id)
                continue
            except TelegramError as exc:
                # TimedOut and NetworkError (5xx, connection lost): it may work later.
                # InvalidToken and Conflict land here too and use up attempts the same way.
                await self._backoff(row, exc)
            else:
                await self.store.mark_sent(row.id)
                self.stats.sent += 1
            return

    async def _rate_limited(self, row: OutboxRow, exc: RetryAfter) -> None:
        seconds = retry_after_seconds(exc)
        self.stats.rate_limited += 1
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        log.warning("Telegram said 429 Too Many Requests: pausing all sending for %.0f s",
                    seconds)
        await self.store.mark_retry(row.id, time.time() + seconds,
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

    async def _backoff(self, row: OutboxRow, exc: TelegramError) -> None:
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc.message}"
        if attempts >= self.settings.max_attempts:
            self.stats.failed += 1
            log.warning("giving up on outbox row %d for chat %d after %d attempts: %s",
                        row.id, row.chat_id, attempts, error)
            await self.store.mark_failed(row.id, error)
            return
        delay = backoff_seconds(attempts, self.settings.backoff_seconds, cap=MAX_BACKOFF)
        self.stats.retried += 1
        log.info("outbox row %d for chat %d: %s; retrying in %.1f s", row.id, row.chat_id,
                 error, delay)
        await self.store.mark_retry(row.id, time.time() + delay, error)
