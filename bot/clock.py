"""The wall clock that digest planning and delivery read, in one place tests can move.

Digests are due at a time of day; a test cannot wait until 08:00 tomorrow, so it replaces
:func:`now` (``monkeypatch.setattr(bot.clock, "now", ...)``). Callers must look it up at
call time (``clock.now()``), never import the function itself.
"""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch, like :func:`time.time`."""
    return time.time()
