"""The one backoff rule: how long to wait after failures in a row before trying again.

Used for a failing source (:mod:`bot.poller`), an alert Telegram did not take
(:mod:`bot.delivery`), a reply the Bot API did not carry out (:mod:`bot.delivery.lane`) and
the Bot API calls made at start-up (:mod:`bot.app`).
"""

from __future__ import annotations

# 2**62 already dwarfs any sensible cap; bounding the exponent keeps the float arithmetic from
# overflowing for a source that has failed thousands of times in a row.
_MAX_EXPONENT = 62


def backoff_seconds(failures: int, base: float, cap: float = 3600.0) -> float:
    """The wait after ``failures`` failures in a row: ``base * 2**(failures - 1)``, at most ``cap``.

    No failures means no wait (0.0). Deterministic on purpose; a caller polling many sources
    against one host may add its own jitter.
    """
    if base < 0 or cap < 0:
        raise ValueError(f"base and cap must not be negative (got base={base}, cap={cap})")
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2.0 ** min(failures - 1, _MAX_EXPONENT)))
