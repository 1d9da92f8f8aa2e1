"""One outgoing lane: every message the bot sends takes a paced slot, replies before alerts.

Telegram limits one bot to about 30 messages a second overall, one a second to one private
chat and 20 a minute to one group or channel, and answers 429 ``retry_after`` to a bot that
goes faster (with longer and longer waits for one that keeps doing it). Those limits count
every message, not only alerts, so one pacer sees them all: :class:`Lane` is plugged in as
python-telegram-bot's rate limiter (``ApplicationBuilder().rate_limiter(lane)``), which every
Bot API call of the application passes through, and the delivery loop sends through the same
instance (:meth:`Lane.send`) at a lower priority.

How one message goes out:

1. **Its chat's turn.** Never two messages to one chat at once, and the next one only the full
   gap (1 s private, 3 s group or channel) after the previous one *completed*, so however the
   network delayed a request, two can never reach Telegram closer than the gap: no bursts, as
   a strict Telegram allows none. Waiting for a chat holds nothing global, so one busy group
   never holds up other chats.
2. **A global slot.** Slots are evenly spaced on the monotonic clock a little under the overall
   rate; waiting messages get them in priority order (:data:`REPLY` before :data:`ALERT`,
   first come first served within one priority). A late wake-up (a stalled event loop, a busy
   CPU) does not make the following slots come sooner: there is no catch-up burst.
3. **A 429 on any call pauses the whole lane** for its ``retry_after``: no slot is handed out
   to anyone, whatever the priority, until it has passed. A reply is then sent again (it is
   never replaced by an error message); the delivery loop asks for the 429 instead
   (``retry_429=False``), because it records the retry on the outbox row itself.
4. **A 5xx answer, or no connection at all,** means Telegram did not carry the call out, so a
   reply (and the answer to a button press or inline query) is sent again, up to
   :data:`REPLY_RETRIES` times, a little later each time: otherwise one 502 from Telegram
   leaves a person with no answer. A timeout is not retried: the message may have been sent.

Answers to button presses and inline queries (``answerCallbackQuery``, ``answerInlineQuery``)
are not messages in a chat and Telegram does not count them against the message limits; they
must arrive within seconds or the person's client shows an error. So they, and every other
non-message call (getMe, getChatMember, …), skip the pacing and the queue entirely: a crowd
of messages ahead can never make a button press go unanswered. They still honour a 429.
``getUpdates`` never reaches a rate limiter at all (python-telegram-bot exempts it).

Several processes on one PostgreSQL store share Telegram's overall limit: with
:meth:`Lane.share` the global slots come from a grid booked in the database
(:mod:`bot.delivery.budget`) instead of this process's own clock; everything else stays as above.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.backoff import backoff_seconds
from bot.config import DeliverySettings

if TYPE_CHECKING:
    from bot.delivery.budget import SharedSlots

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Priorities: lower goes first. Replies to people (commands, button presses' edits, channel
#: posts, error messages) before queued alerts.
REPLY = 0
ALERT = 10

#: Pace a little under the configured overall rate: Telegram counts arrival times, and
#: network jitter can bring two evenly spaced sends closer together.
RATE_MARGIN = 0.97
#: A slot handed out at most this fraction of an interval late still counts as on time (the
#: next one keeps its place on the grid); a later one restarts the grid from now: no catch-up.
#: Slots are then never earlier than the grid nor later than half an interval after it, so any
#: one-second window holds at most floor(rate * RATE_MARGIN + ON_TIME) + 1 = 30 of them at 30/s,
#: while the small delays of a busy event loop do not slow the pace down.
ON_TIME = 0.5
#: A reply that meets 429 is retried this many times (each after the whole pause).
MAX_RETRIES = 5
#: A reply Telegram surely did not carry out (5xx, no connection) is sent again this many
#: times, after waits of RETRY_WAIT, twice that, ... seconds.
REPLY_RETRIES = 3
RETRY_WAIT = 0.5
#: Answers to people that are not messages, retried like replies (see :func:`unsent`).
ANSWER_METHODS = frozenset({"answerCallbackQuery", "answerInlineQuery"})
#: Forget idle chats' turns once this many are remembered.
MAX_CHATS = 10_000
#: With a shared grid: most slots booked at once, and the wait before asking again when
#: other processes have booked every slot up to the horizon (or the store failed).
MAX_BOOKING = 64
BOOKED_OUT_WAIT = 0.05
STORE_FAILED_WAIT = 1.0
#: While the grid cannot be booked (the database refuses writes), a process paces itself on its
#: own clock at this fraction of the overall rate: people still get their replies, and up to
#: this many processes in the same state together stay within Telegram's limit.
ALONE_SHARE = 4

#: Bot API methods that put a message into a chat or change one: Telegram counts these.
MESSAGE_METHODS = frozenset({
    "sendMessage", "sendPhoto", "sendAudio", "sendDocument", "sendVideo", "sendAnimation",
    "sendVoice", "sendVideoNote", "sendPaidMedia", "sendMediaGroup", "sendLocation",
    "sendVenue", "sendContact", "sendPoll", "sendDice", "sendSticker", "sendInvoice",
    "sendGame", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
    "editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup",
    "editMessageLiveLocation", "stopMessageLiveLocation", "stopPoll",
})

#: Set while a call runs inside a slot of the lane, so passing through the bot's rate limiter
#: again (the delivery loop sends with the application's own bot) does not take a second slot.
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("newsbot_lane_inside",
                                                                default=False)

ChatKey = int | str


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (PTB 22 gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def chat_key(chat_id: object) -> ChatKey | None:
    """The chat a call addresses (``chat_id`` as int, or ``@channelname``), if it names one."""
    if isinstance(chat_id, bool) or chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str):
        text = chat_id.strip()
        try:
            return int(text)
        except ValueError:
            return text.lower() or None
    return None


def unsent(exc: BaseException) -> bool:
    """Whether a failed call surely did nothing, so sending it again cannot duplicate it:
    Telegram answered with a server error (5xx: python-telegram-bot raises a bare
    NetworkError with no cause), or the connection was never made. Not a timeout nor a
    connection lost mid-answer (the message may have gone), nor a 400."""
    if not isinstance(exc, NetworkError) or isinstance(exc, (TimedOut, BadRequest)):
        return False
    return exc.__cause__ is None or isinstance(exc.__cause__, httpx.ConnectError)


@dataclass
class LaneStats:
    """Counters since start-up, for logs and the benchmarks."""

    sent: int = 0  # calls that took a slot and got an answer (ok or not)
    rate_limited: int = 0  # 429s seen, on any call
    retried: int = 0  # calls sent again after a 429


@dataclass
class _Chat:
    """One chat's turn: who is sending to it, and when it may get the next message."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ready_at: float = 0.0  # monotonic
    users: int = 0  # holding or waiting for the lock
    waiting: Counter[int] = field(default_factory=Counter)  # priorities waiting for the lock
    turn: asyncio.Future[None] | None = None  # the holder's pending global slot
    turn_priority: int = ALERT


class Lane(BaseRateLimiter[dict[str, Any]]):
    """Telegram's limits for every message the bot sends; see the module docstring."""

    def __init__(self, messages_per_second: float = 30.0, per_chat_per_second: float = 1.0,
                 per_group_per_minute: float = 20.0, *, margin: float = RATE_MARGIN) -> None:
        self.interval = 1.0 / (messages_per_second * margin)
        self.private_gap = 1.0 / per_chat_per_second
        self.group_gap = max(self.private_gap, 60.0 / per_group_per_minute)
        self.paused_until = 0.0  # monotonic; set by a 429
        self.stats = LaneStats()
        self._next = 0.0  # monotonic time of the next global slot
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []  # (priority, seq, turn)
        self._seq = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None
        self._chats: dict[ChatKey, _Chat] = {}
        #: The grid shared with other processes (None: this process's own clock).
        self.shared: SharedSlots | None = None
        self._owned: deque[float] = deque()  # wall-clock instants of slots booked for us
        self._background: set[asyncio.Task[None]] = set()
        self._store_problem: str | None = None
        #: Until then (monotonic) the grid is not asked again: slots come from our own clock.
        self._alone_until = 0.0
        self._alone_next = 0.0  # wall-clock instant of the next slot taken alone

    def share(self, slots: SharedSlots) -> None:
        """Take global slots from ``slots`` (a grid shared by every process on the store)."""
        self.shared = slots

    @classmethod
    def from_settings(cls, settings: DeliverySettings) -> Lane:
        """A lane for the ``[delivery]`` limits."""
        return cls(settings.messages_per_second, settings.per_chat_per_second,
                   settings.per_group_per_minute)

    # -- what others may ask ----------------------------------------------------------------

    def gap(self, chat_id: object) -> float:
        """Seconds between two messages to this chat (negative ids and @names: groups and
        channels)."""
        key = chat_key(chat_id)
        if isinstance(key, str) or (key is not None and key < 0):
            return self.group_gap
        return self.private_gap

    def ready_at(self, chat_id: object) -> float:
        """The monotonic time this chat may get its next message (0 when it may now)."""
        key = chat_key(chat_id)
        chat = self._chats.get(key) if key is not None else None
        return chat.ready_at if chat is not None else 0.0

    def paused(self) -> float:
        """Seconds left of a 429 pause (0 when none is on)."""
        return max(0.0, self.paused_until - time.monotonic())

    def pause(self, seconds: float) -> None:
        """Hand out no slot for ``seconds`` from now (a 429's ``retry_after``)."""
        self.stats.rate_limited += 1
        until = time.monotonic() + seconds
        if until > self.paused_until:
            self.paused_until = until
            log.warning("Telegram said 429 Too Many Requests: pausing all sending for %.0f s",
                        seconds)
            if self.shared is not None:  # the other processes pause too
                task = asyncio.get_running_loop().create_task(self._pause_shared(seconds))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _pause_shared(self, seconds: float) -> None:
        assert self.shared is not None
        try:
            await self.shared.pause(seconds)
        except Exception as exc:  # this process pauses anyway; others meet their own 429
            log.warning("could not pause the other processes' sending: %s", exc)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, call: Callable[[], Awaitable[T]], *, chat_id: object,
                   priority: int = REPLY, retry_429: bool = True) -> T:
        """Run ``call`` (one Bot API call sending to ``chat_id``) in a slot of the lane.

        A 429 pauses the lane; then the call is sent again after the pause (up to
        :data:`MAX_RETRIES` times), and one Telegram did not carry out (:func:`unsent`) a few
        seconds later; with ``retry_429=False`` (the delivery loop, which records retries
        on the outbox row) the error is raised for the caller instead.
        """
        key = chat_key(chat_id)
        # After a 429 no slot is handed out until the pause is over: no wait of our own.
        return await self._retrying(lambda: self._once(call, key, priority), retry=retry_429,
                                    retry_unsent=retry_429, wait_out_429=False)

    async def _retrying(self, call: Callable[[], Awaitable[T]], *, retry: bool,
                        retry_unsent: bool, wait_out_429: bool) -> T:
        """``call()``; a 429 pauses the lane and, with ``retry``, the call is made again (at
        most :data:`MAX_RETRIES` times, after the pause if ``wait_out_429``); with
        ``retry_unsent`` one Telegram surely did not carry out (:func:`unsent`) is made
        again :data:`REPLY_RETRIES` times at most, a little later each time."""
        attempt = failures = 0
        while True:
            try:
                return await call()
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                self.pause(wait)
                if not retry or attempt >= MAX_RETRIES:
                    raise
                attempt += 1
                self.stats.retried += 1
                if wait_out_429:
                    await asyncio.sleep(wait)
            except NetworkError as exc:
                if not retry_unsent or failures >= REPLY_RETRIES or not unsent(exc):
                    raise
                failures += 1
                self.stats.retried += 1
                log.warning("Telegram did not take a reply (%s): sending it again", exc)
                await asyncio.sleep(backoff_seconds(failures, RETRY_WAIT))

    async def _once(self, call: Callable[[], Awaitable[T]], key: ChatKey | None,
                    priority: int) -> T:
        if key is None:  # e.g. an edit of an inline message: no chat to space
            await self._turn(priority, None)
            return await self._call(call)
        chat = self._chats.get(key)
        if chat is None:
            self._forget_idle()
            chat = self._chats[key] = _Chat()
        chat.users += 1
        chat.waiting[priority] += 1
        waiting = True
        self._boost(chat, priority)
        try:
            async with chat.lock:
                waiting = self._unwait(chat, priority)
                while (left := chat.ready_at - time.monotonic()) > 0:
                    await asyncio.sleep(left)
                # Someone more urgent queued behind us for this chat: go at their priority.
                urgent = min(chat.waiting, default=priority)
                await self._turn(min(priority, urgent), chat)
                try:
                    return await self._call(call)
                finally:
                    # From the answer, not the request: the next one cannot arrive early.
                    chat.ready_at = time.monotonic() + self.gap(key)
        finally:
            chat.users -= 1
            if waiting:  # cancelled while waiting for the chat
                self._unwait(chat, priority)

    @staticmethod
    def _unwait(chat: _Chat, priority: int) -> bool:
        chat.waiting[priority] -= 1
        if chat.waiting[priority] <= 0:
            del chat.waiting[priority]
        return False

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        token = _INSIDE.set(True)
        try:
            return await call()
        finally:
            _INSIDE.reset(token)
            self.stats.sent += 1

    def _boost(self, chat: _Chat, priority: int) -> None:
        """A more urgent message waits behind this chat's holder: move the holder up."""
        turn = chat.turn
        if turn is not None and not turn.done() and priority < chat.turn_priority:
            chat.turn_priority = priority
            heapq.heappush(self._queue, (priority, next(self._seq), turn))
            self._kick()

    # -- global slots ---------------------------------------------------------------------------

    async def _turn(self, priority: int, chat: _Chat | None) -> None:
        """Until this call's global slot: evenly spaced, by priority, none during a pause."""
        now = time.monotonic()
        if (self.shared is None and not self._queue and now >= self._next
                and now >= self.paused_until):
            self._grant(now)
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (priority, next(self._seq), turn))
        if chat is not None:
            chat.turn, chat.turn_priority = turn, priority
        self._kick()
        try:
            await turn
        finally:
            if chat is not None:
                chat.turn = None

    def _grant(self, now: float) -> None:
        """Hand out the slot due at ``self._next``; a late one restarts the grid from now."""
        late = now - self._next
        base = self._next if 0.0 <= late <= self.interval * ON_TIME else now
        self._next = base + self.interval

    def _kick(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._dispatch(), name="newsbot-lane")

    async def _dispatch(self) -> None:
        """Hand the slots out, one per interval, to the most urgent waiter."""
        if self.shared is not None:
            await self._dispatch_shared()
            return
        while self._queue:
            now = time.monotonic()
            at = max(self._next, self.paused_until)
            if at > now:
                await asyncio.sleep(at - now)
                continue  # a 429 may have come meanwhile: look again
            _priority, _seq, turn = heapq.heappop(self._queue)
            if turn.done():  # cancelled, or already given through a boosted entry
                continue
            turn.set_result(None)
            self._grant(now)

    async def _dispatch_shared(self) -> None:
        """Hand out slots booked on the shared grid, each at its instant, most urgent first.

        A slot whose instant passed more than half an interval ago is dropped (it belongs to
        the grid's past: sending in it now would crowd the next owner's slot).
        """
        while True:
            waiting = [(p, t) for p, _s, t in self._queue if not t.done()]
            if not waiting:
                self._queue.clear()
                return
            now = time.monotonic()
            if self.paused_until > now:
                self._owned.clear()
                await asyncio.sleep(self.paused_until - now)
                continue
            wall = time.time()
            while self._owned and self._owned[0] < wall - self.interval * ON_TIME:
                self._owned.popleft()
            if not self._owned:
                if now < self._alone_until:
                    self._take_alone(wall)
                else:
                    await self._book(len(waiting), urgent=min(p for p, _t in waiting) < ALERT)
                continue
            if self._owned[0] > wall:
                await asyncio.sleep(self._owned[0] - wall)
                continue
            _priority, _seq, turn = heapq.heappop(self._queue)
            if turn.done():
                continue
            self._owned.popleft()
            turn.set_result(None)

    async def _book(self, count: int, *, urgent: bool) -> None:
        assert self.shared is not None
        try:
            slots = await self.shared.book(min(count, MAX_BOOKING), urgent=urgent)
        except Exception as exc:
            if str(exc) != self._store_problem:
                self._store_problem = str(exc)
                log.error("cannot book sending slots in the database (%s); sending at 1/%d of "
                          "the overall rate on this process's own clock meanwhile",
                          exc, ALONE_SHARE)
            self._alone_until = time.monotonic() + STORE_FAILED_WAIT
            return
        if self._store_problem is not None:
            log.info("sending slots are booked in the database again")
        self._store_problem = None
        if slots:
            self._owned.extend(slots)
        else:
            await asyncio.sleep(BOOKED_OUT_WAIT)

    def _take_alone(self, wall: float) -> None:
        """One slot on our own clock, :data:`ALONE_SHARE` intervals after the previous one."""
        slot = max(wall, self._alone_next)
        self._alone_next = slot + self.interval * ALONE_SHARE
        self._owned.append(slot)

    def _forget_idle(self) -> None:
        if len(self._chats) < MAX_CHATS:
            return
        now = time.monotonic()
        self._chats = {k: c for k, c in self._chats.items() if c.users or c.ready_at > now}

    # -- python-telegram-bot's rate limiter interface -------------------------------------------

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
            self._dispatcher = None
        for _priority, _seq, turn in self._queue:
            turn.cancel()
        self._queue.clear()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Every Bot API call of the application: messages take a slot, the rest go at once."""
        if _INSIDE.get():  # already in a slot (a lane.send through the application's bot)
            return await callback(*args, **kwargs)
        if endpoint in MESSAGE_METHODS:
            priority = (rate_limit_args or {}).get("priority", REPLY)
            return await self.send(lambda: callback(*args, **kwargs),
                                   chat_id=data.get("chat_id"), priority=priority)
        # Not a message: no slot, no queue, but a 429 is still waited out. Answers to people
        # are retried like replies; other calls have their own retries (start-up) or are
        # not worth it.
        return await self._retrying(lambda: callback(*args, **kwargs), retry=True,
                                    retry_unsent=endpoint in ANSWER_METHODS, wait_out_429=True)


__all__ = ["ALERT", "MESSAGE_METHODS", "REPLY", "REPLY_RETRIES", "Lane", "LaneStats", "chat_key",
           "retry_after_seconds", "unsent"]
