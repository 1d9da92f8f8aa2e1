"""One outbox row to Telegram, and what its answer means for the row.

:class:`Sender` sends a row's alert, or the digest the row belongs to, through the lane at
alert priority and records the outcome in the store:

* a row is marked sent only after Telegram's ok, so after a crash the pending rows go out
  again and only the messages in flight at that moment may arrive twice; a row Telegram took
  but the store could not mark is remembered (:attr:`Sender.unmarked`) and never sent again;
* 429: the lane has paused everything for ``retry_after``; the row is due again after it,
  and the attempt does not count;
* 403 and "chat not found" end the chat; a migrated group moves to its supergroup; a forum
  thread that is gone is left out; HTML that Telegram cannot parse goes out again as plain
  text;
* timeouts and 5xx retry with the backoff rule (:mod:`bot.backoff`) until ``max_attempts``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import telegram
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot import clock, metrics
from bot.backoff import backoff_seconds
from bot.chatlang import ChatLanguages
from bot.config import DeliverySettings
from bot.delivery.lane import ALERT, Lane, retry_after_seconds
from bot.delivery.stats import DeliveryStats
from bot.digest import DigestItem, render_digest
from bot.i18n import set_language
from bot.releases import Release
from bot.render import release_html, release_plain
from bot.store import OutboxRow, Store, StoreGone, StoreUnavailable

log = logging.getLogger(__name__)

#: A backed-off row is retried after at most this long, however many attempts it made.
MAX_BACKOFF = 3600.0

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class LeaseRunOut(Exception):
    """The row's claim would expire before its send could finish: not sent, given back."""


class Sender:
    """Sends single outbox rows (alerts and digests) and records Telegram's answers."""

    def __init__(self, bot: telegram.Bot, lane: Lane, store: Store, settings: DeliverySettings,
                 languages: ChatLanguages, stats: DeliveryStats) -> None:
        self.bot = bot
        self.lane = lane
        self.store = store
        self.settings = settings
        #: Each chat's language, for the alert's framing ("Alert: …", the date).
        self.languages = languages
        self.stats = stats
        #: Rows Telegram accepted but the store could not mark sent (id -> when sent). They
        #: are never sent again; the loop sends no other row until these are marked (see
        #: :meth:`mark_unmarked`), so a crash meanwhile repeats at most the ones in flight.
        self.unmarked: dict[int, float] = {}
        self._store_problem: str | None = None  # the last store failure logged, once

    async def deliver(self, row: OutboxRow, release: Release | None) -> None:
        """Send the row's alert (or the digest it belongs to) and record the outcome.

        Raises :class:`LeaseRunOut` (nothing sent) when the row's claim would run out first.
        """
        # The framing ("Alert: …", dates, a digest's heading) in the chat's language; the
        # releases as published. The caller runs each row in a task of its own: the language
        # stays in it.
        set_language(await self.languages.for_chat(row.chat_id))
        if row.digest:
            await self._deliver_digest(row)
            return
        if release is None:
            self.stats.failed += 1
            await self.store.mark_failed(row.id, f"release {row.release_id} no longer exists")
            return
        await self._send_rows(row, release_html(release, matched=row.topics),
                              lambda: release_plain(release, row.topics), [row.id])

    async def _deliver_digest(self, row: OutboxRow) -> None:
        """Send every due digest row of the row's chat and thread as one digest (see
        :mod:`bot.digest`): part after part, each part's rows marked sent on its ok."""
        rows = [due for due in await self.store.due_digest_rows(row.chat_id, row.thread_id,
                                                                 clock.now())
                if due.id not in self.unmarked]  # sent already, only not recorded yet
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
            # The plain form is made already: a callable returning it, as _send_rows wants.
            if not await self._send_rows(row, part.html, partial(str, part.plain),
                                         part.row_ids, rest):
                return

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
                raise LeaseRunOut
            return await self.bot.send_message(chat_id=row.chat_id, **kwargs)

        await self.lane.send(call, chat_id=row.chat_id, priority=ALERT, retry_429=False)

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

    def _chat_free_at(self, row: OutboxRow) -> float:
        """When the row's chat may get its next message (any process), from now."""
        return clock.now() + self.lane.gap(row.chat_id)

    async def _mark_sent(self, row: OutboxRow, ids: Sequence[int]) -> None:
        """Record a send; if the store cannot, remember the rows so they are never sent again."""
        sent_at = time.time()
        try:
            await self.store.mark_sent(ids, sent_at, chat_free_at=self._chat_free_at(row))
        except Exception as exc:
            self.unmarked.update(dict.fromkeys(ids, sent_at))
            if isinstance(exc, StoreUnavailable):
                self.store_failed(exc)
            else:
                log.exception("could not mark outbox rows %s as sent", list(ids))

    async def mark_unmarked(self) -> None:
        """Mark the rows sent while the store failed; raises while it still fails."""
        for row_id, sent_at in sorted(self.unmarked.items()):
            await self.store.mark_sent(row_id, sent_at)
            del self.unmarked[row_id]

    def store_failed(self, exc: StoreUnavailable) -> None:
        """One log line per kind of store failure, not one per row or per pass."""
        if isinstance(exc, StoreGone):
            return  # the bot stops and says why (bot.app watches the file)
        if str(exc) != self._store_problem:
            self._store_problem = str(exc)
            log.error("delivery paused: %s%s; retrying every %g s", exc,
                      f" ({len(self.unmarked)} sent alerts not yet recorded)"
                      if self.unmarked else "", self.settings.interval_seconds)

    def store_works(self) -> None:
        """The store answered again: say so once, if its failure was told."""
        if self._store_problem:
            log.info("the database works again: delivery resumed")
            self._store_problem = None

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
