"""Giving memory freed by a bulk load back to the operating system.

Building the index from 100,000 releases allocates and frees far more than it keeps
(releases read from the store, their analyses, posting arrays that grew and then became
bitsets). CPython hands large freed blocks back to the C allocator, but glibc keeps free
pages inside its heap resident until asked: ``malloc_trim`` returns them (5 MB after a cold
build at 100,000 releases, 13 MB after writing the snapshot). Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _find_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    return trim


_TRIM = _find_trim()


def release_free_memory() -> None:
    """Return the C allocator's free pages to the system (glibc only; else nothing)."""
    if _TRIM is not None:
        _TRIM(0)
