"""A minimal progress bar for long imports, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

#: Small imports finish before a bar would be readable; don't draw one for them.
MIN_ITEMS = 1000


class ProgressBar:
    """``with ProgressBar(total) as bar: bar.advance(n)``; silent when not on a terminal."""

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 force: bool = False) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self.enabled = force or (total >= MIN_ITEMS and self.stream.isatty())
        self._last = 0.0

    def __enter__(self) -> ProgressBar:
        return self

    def advance(self, count: int) -> None:
        self.done = min(self.total, self.done + count)
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            width = 30
            filled = width * self.done // max(1, self.total)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total}")
            self.stream.flush()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
