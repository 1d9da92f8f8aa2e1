"""Prometheus metrics of one running bot, and the one-line calls that feed them.

Each application gets its own :class:`Metrics` in its ``bot_data`` (its own
``CollectorRegistry``, never the global one: the tests run several bots in one process).
``bot.app.running`` makes it the *current* metrics of everything started inside it
(handlers, the delivery loop, source polling) through a context variable, so call sites
elsewhere stay one line: ``metrics.alert_sent()``, ``metrics.source_error(name)``,
``with metrics.search_timer():``.
Outside a running bot the calls go to a throw-away instance, so unit tests need nothing.

Bot API answers (replies sent, 429s) are counted where every request passes: the HTTP
request object the bot is built with (:class:`InstrumentedRequest`), so a 429 is seen
whichever part of the bot received it.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from telegram import Update
from telegram.request import HTTPXRequest

__all__ = [
    "CONTENT_TYPE_LATEST", "InstrumentedRequest", "Metrics", "activate", "alert_sent",
    "current", "search_timer", "source_error", "update_kind",
]

#: Bot API methods that put a message in a chat: counted as replies unless an alert.
MESSAGE_METHODS = frozenset({"sendMessage", "editMessageText"})

#: Search latency buckets (seconds): the index answers in milliseconds; 1 s is already bad.
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class SlidingCount:
    """How many events happened in the last ``window`` seconds, in one-second buckets.

    Cheap enough to call on every message: one dict update, old buckets dropped lazily.
    """

    def __init__(self, window: int = 60) -> None:
        self.window = window
        self._buckets: collections.OrderedDict[int, int] = collections.OrderedDict()

    def add(self, now: float | None = None) -> None:
        second = int(time.monotonic() if now is None else now)
        self._buckets[second] = self._buckets.get(second, 0) + 1
        self._trim(second)

    def count(self, now: float | None = None) -> int:
        second = int(time.monotonic() if now is None else now)
        self._trim(second)
        return sum(self._buckets.values())

    def _trim(self, second: int) -> None:
        while self._buckets and next(iter(self._buckets)) <= second - self.window:
            self._buckets.popitem(last=False)


class Metrics:
    """Every metric of one bot, registered in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter("newsbot_updates", "Updates received from Telegram, by type",
                               ["type"], registry=r)
        self.replies = Counter("newsbot_replies_sent",
                               "Messages sent or edited in answer to people (not alerts)",
                               registry=r)
        self.alerts = Counter("newsbot_alerts_sent",
                              "Alerts Telegram accepted (outbox rows marked sent)", registry=r)
        self.rate_limited = Counter("newsbot_telegram_429",
                                    "429 Too Many Requests answers from the Bot API", registry=r)
        self.api_requests = Counter("newsbot_bot_api_requests", "Bot API calls by method and "
                                    "HTTP status (0: no answer)", ["method", "status"],
                                    registry=r)
        self.source_errors = Counter("newsbot_source_errors", "Failed polls, by source",
                                     ["source"], registry=r)
        self.search_seconds = Histogram("newsbot_search_seconds", "Time to answer one search "
                                        "from the index", buckets=SEARCH_BUCKETS, registry=r)
        self.outbox_pending = Gauge("newsbot_outbox_pending",
                                    "Alerts waiting in the outbox (read at scrape time)",
                                    registry=r)
        self.outbox_oldest = Gauge("newsbot_outbox_oldest_pending_seconds",
                                   "Age of the oldest pending alert (0 when none)", registry=r)
        self.store_up = Gauge("newsbot_store_up", "1 when the store answered the last scrape",
                              registry=r)
        self._last_minute = SlidingCount(60)
        sent_last_minute = Gauge("newsbot_messages_sent_last_minute",
                                 "Messages (replies and alerts) sent in the last 60 s",
                                 registry=r)
        sent_last_minute.set_function(self._last_minute.count)

    def message_sent(self) -> None:
        self._last_minute.add()

    def set_outbox(self, pending: int | None, oldest_age: float | None) -> None:
        """The outbox figures read from the store; None when it did not answer."""
        if pending is None:
            self.store_up.set(0)
            self.outbox_pending.set(float("nan"))
            self.outbox_oldest.set(float("nan"))
            return
        self.store_up.set(1)
        self.outbox_pending.set(pending)
        self.outbox_oldest.set(max(0.0, oldest_age or 0.0))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


_DEFAULT = Metrics()  # where calls go outside a running bot (unit tests, `newsbot import`)
_current: contextvars.ContextVar[Metrics] = contextvars.ContextVar("newsbot_metrics",
                                                                  default=_DEFAULT)
_sending_alerts: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "newsbot_sending_alerts", default=False)


def current() -> Metrics:
    return _current.get()


@contextlib.contextmanager
def activate(metrics: Metrics) -> Iterator[Metrics]:
    """Make ``metrics`` current here and in every task started inside (they copy it)."""
    previous = _current.get()
    _current.set(metrics)
    try:
        yield metrics
    finally:
        # Not reset(token): an async fixture may leave this context from another task.
        _current.set(previous)


@contextlib.contextmanager
def alert_context() -> Iterator[None]:
    """Messages sent by tasks started inside are alerts, not replies."""
    previous = _sending_alerts.get()
    _sending_alerts.set(True)
    try:
        yield
    finally:
        _sending_alerts.set(previous)


# -- the one-line calls ---------------------------------------------------------------------

def alert_sent() -> None:
    """An outbox row was accepted by Telegram."""
    _current.get().alerts.inc()


def source_error(source: str) -> None:
    """Polling ``source`` failed."""
    _current.get().source_errors.labels(source=source).inc()


@contextlib.contextmanager
def search_timer() -> Iterator[None]:
    """Time one index search into the latency histogram."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _current.get().search_seconds.observe(time.perf_counter() - start)


def api_answer(method: str, status: int) -> None:
    """A Bot API call got an HTTP answer (status 0: none, e.g. a timeout)."""
    m = _current.get()
    m.api_requests.labels(method=method, status=str(status)).inc()
    if status == 429:
        m.rate_limited.inc()
    elif status == 200 and method in MESSAGE_METHODS:
        m.message_sent()
        if not _sending_alerts.get():
            m.replies.inc()


def update_kind(update: Update) -> str:
    """The update's type, e.g. ``message`` or ``callback_query``."""
    for kind in Update.ALL_TYPES:
        if getattr(update, kind, None) is not None:
            return str(kind)
    return "other"


class InstrumentedRequest(HTTPXRequest):
    """PTB's HTTP request, counting each Bot API answer into the current metrics."""

    async def do_request(self, url: str, method: str, request_data: Any = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        try:
            code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        except Exception:
            api_answer(name, 0)
            raise
        api_answer(name, code)
        return code, payload
