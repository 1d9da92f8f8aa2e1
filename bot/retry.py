"""Replies survive a 429: the bot waits the ``retry_after`` Telegram asked for and tries again.

A python-telegram-bot rate limiter (``ApplicationBuilder().rate_limiter``) sees every Bot API
call. Answers to commands, buttons and inline queries go through this retry; the delivery loop
opts out with :func:`without_retries`, because it must see the 429 itself to pause all sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import warnings
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

_RETRIES_ON = contextvars.ContextVar("newsbot_retry_on_429", default=True)


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (PTB 22 gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@contextlib.contextmanager
def without_retries() -> Iterator[None]:
    """Calls made in this context (and tasks created in it) get the 429 raised at once."""
    token = _RETRIES_ON.set(False)
    try:
        yield
    finally:
        _RETRIES_ON.reset(token)


class RetryAfter429(BaseRateLimiter[dict[str, Any]]):
    """Retries a call Telegram refused with 429 after the wait it named, a few times at most.

    A wait longer than ``max_wait`` is not sat out: the error goes to the handler's error
    path, since a reply that late is worth less than a free event loop slot.
    """

    def __init__(self, max_retries: int = 2, max_wait: float = 30.0) -> None:
        self.max_retries = max_retries
        self.max_wait = max_wait

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if not _RETRIES_ON.get() or attempt >= self.max_retries or wait > self.max_wait:
                    raise
                attempt += 1
                log.warning("Telegram said 429 to %s; retrying in %.0f s", endpoint, wait)
                await asyncio.sleep(wait)
