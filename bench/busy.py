"""A CPU-bound process beside a benchmark, to measure it on a machine whose other core is busy."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator


def _spin() -> None:  # pragma: no cover - runs in the child process
    n = 0
    while True:
        n = (n * 1103515245 + 12345) % 2_147_483_648


@contextlib.contextmanager
def busy_core(enabled: bool = True) -> Iterator[None]:
    """Keep one core busy (a spinning child process) for the duration of the block."""
    if not enabled:
        yield
        return
    child = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True,
                                                         name="newsbot-bench-busy")
    child.start()
    try:
        yield
    finally:
        child.terminate()
        child.join(5)
