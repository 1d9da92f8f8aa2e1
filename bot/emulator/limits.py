"""Flood limits: when a bot sends faster than Telegram allows, answer 429 with ``retry_after``.

Telegram documents three limits for one bot: about 30 messages per second overall, about one
message per second to one chat ("short bursts may be allowed"), and 20 messages per minute to one
group or channel. Messages sent with ``allow_paid_broadcast`` (paid in Telegram Stars) count
against a separate overall limit of 1000 per second instead of the 30; the per-chat limits
stay. Each is modelled as a token bucket: a bucket refills at the limit's rate and
holds up to a small burst, so a sender pacing itself at exactly the limit never sees a 429 even with
a few milliseconds of timer jitter, while a sender going faster for more than the burst does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FloodLimiter", "FloodLimits"]


@dataclass(frozen=True)
class FloodLimits:
    """How fast one bot may send; pass to ``Emulator(limits=...)`` to enforce them.

    ``per_second`` is for all chats together, and up to one second's worth may go at once.
    ``per_chat_per_second`` and ``per_group_per_minute`` are for one chat; ``burst`` is how many
    messages one chat may take back to back before its rate applies (the same burst is allowed
    for the per-group limit).
    """

    per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_group_per_minute: float = 20.0
    burst: float = 3.0
    #: The overall limit for messages sent with ``allow_paid_broadcast``.
    paid_per_second: float = 1000.0

    def __post_init__(self) -> None:
        for name in ("per_second", "per_chat_per_second", "per_group_per_minute", "burst",
                     "paid_per_second"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FloodLimits.{name} must be positive")


@dataclass
class _Bucket:
    """A token bucket: ``tokens`` available now, refilled at ``rate`` per second to ``capacity``."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last look."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one whole token is available (0 if one is available now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class FloodLimiter:
    """Applies one bot's FloodLimits; one limiter per bot token."""

    limits: FloodLimits
    clock: Callable[[], float] = time.monotonic
    _global: _Bucket | None = None
    _paid: _Bucket | None = None
    _chats: dict[int, _Bucket] = field(default_factory=dict)
    _groups: dict[int, _Bucket] = field(default_factory=dict)

    def _bucket(self, table: dict[int, _Bucket], key: int, rate: float, now: float) -> _Bucket:
        bucket = table.get(key)
        if bucket is None:
            burst = max(1.0, self.limits.burst)
            bucket = table[key] = _Bucket(rate, burst, burst, now)
        return bucket

    def acquire(self, chat_id: int, *, is_group: bool, paid: bool = False) -> int | None:
        """Take a slot for one message to ``chat_id``: None if allowed, else ``retry_after``.

        ``paid``: sent with ``allow_paid_broadcast``, counted against the paid overall limit.

        A refused message takes no slot, like on Telegram, so a client that waits out
        ``retry_after`` gets through. ``retry_after`` is whole seconds, at least 1.
        """
        now = self.clock()
        if self._global is None:
            capacity = max(1.0, self.limits.per_second)
            self._global = _Bucket(self.limits.per_second, capacity, capacity, now)
        if self._paid is None:
            capacity = max(1.0, self.limits.paid_per_second)
            self._paid = _Bucket(self.limits.paid_per_second, capacity, capacity, now)
        buckets = [
            self._paid if paid else self._global,
            self._bucket(self._chats, chat_id, self.limits.per_chat_per_second, now),
        ]
        if is_group:
            rate = self.limits.per_group_per_minute / 60.0
            buckets.append(self._bucket(self._groups, chat_id, rate, now))
        for bucket in buckets:
            bucket.refill(now)
        wait = max(bucket.wait() for bucket in buckets)
        if wait > 0:
            # The epsilon keeps float noise (2.0000000000000004 s) from adding a whole second.
            return max(1, math.ceil(wait - 1e-9))
        for bucket in buckets:
            bucket.tokens -= 1
        return None
