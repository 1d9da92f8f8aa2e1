"""The bottom layer of the index: releases by slot and the posting lists over slots.

A slot is a release's internal number, given in order of indexing and never reused, so a
bitset of slots stays valid while releases are added. Per slot: the release (compressed,
:mod:`bot.search.packed`), its id, date and word sequence. Per key (a term and field class,
a filter value, a pair of adjacent common words): the slots of its releases as an int
array, and for long lists the bitset too, kept between queries and caught up lazily.
Arrays, ints and tuples of atoms are invisible to the cyclic garbage collector, which keeps
its full collections short even with millions of postings.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Sequence
from typing import Any, cast

from bot.releases import Release
from bot.search.bitsets import bits_from
from bot.search.packed import PackedReleases

__all__ = ["CACHE_BITS_MIN", "Postings"]

#: Posting lists at least this long keep their bitset between queries.
CACHE_BITS_MIN = 512


class Postings:
    """Releases by slot and posting lists by key; one lock guards all of the index's state."""

    def __init__(self) -> None:
        # Bumped on every change: caches of query results compare it.
        self._generation = 0
        self._lock = threading.Lock()
        # Releases compressed in blocks (bot.search.packed): a search shows only a page.
        self._releases = PackedReleases()
        self._ids: list[str] = []  # the same strings as _slot_of's keys
        self._dates = array("i")  # date ordinals
        self._sequences: list[bytes] = []  # root codes of title and summary (phrases)
        self._slot_of: dict[str, int] = {}
        # Live slots, newest first, ties by id (see _sortkey). Arrays of ints, not lists: a
        # list holds an int object per slot (four times the memory at 100,000 releases).
        self._by_date = array("i")
        self._live = 0  # bitset of live slots
        # Keys are ``term id * 16 + field class`` for words, ("month"|"place"|"kind"|
        # "country"|"lang", value) for filters, and the 8 bytes of two root codes for pairs of
        # common words that are adjacent (see bot.search.phrases).
        self._slots: dict[object, array[int]] = {}
        self._bits: dict[object, int] = {}
        self._covered: dict[object, int] = {}  # how many leading slots a kept bitset holds
        # Filter values with how many live releases have them.
        self._months: dict[int, int] = {}
        self._places: dict[str, int] = {}
        self._kinds: dict[str, int] = {}
        self._languages: dict[str, int] = {}
        self._counts: dict[str, dict[Any, int]] = {
            "month": self._months,
            "place": self._places,
            "kind": self._kinds,
            "lang": self._languages,
        }

    def __len__(self) -> int:
        return len(self._slot_of)

    def _release(self, slot: int) -> Release:
        release = self._releases[slot]
        assert release is not None, "a live slot lost its release"
        return release

    def _releases_of(self, slots: Sequence[int]) -> list[Release]:
        """The releases of live slots (each compressed block decoded once)."""
        releases = self._releases.many(slots)
        assert None not in releases, "a live slot lost its release"
        return cast(list[Release], releases)

    def _sortkey(self, slot: int) -> tuple[int, str]:
        """A slot's place in the order of results: newest first, then by id. Computed, not
        kept: a tuple per release would cost 9 MB at 100,000 releases."""
        return -self._dates[slot], self._ids[slot]

    def _post(self, key: object, slot: int) -> None:
        """Add a slot to a posting list (its kept bitset, if any, catches up when next read)."""
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = array("i")
        slots.append(slot)

    def _unpost(self, key: object, slot: int) -> None:
        slots = self._slots.get(key)
        if slots is None or slot not in slots:
            return
        kept = key in self._bits
        if kept:
            self._bits_of(key)  # catch up first: afterwards it covers the whole array again
        slots.remove(slot)
        if kept:
            self._bits[key] &= ~(1 << slot)
            self._covered[key] = len(slots)
        if not slots:
            del self._slots[key]
            self._bits.pop(key, None)
            self._covered.pop(key, None)

    def _bits_of(self, key: object) -> int:
        """The bitset of a posting list, kept (and caught up) once the list is long enough.

        Months are always kept, because a date filter ORs many of them.
        """
        slots = self._slots.get(key)
        if not slots:
            return 0
        bits = self._bits.get(key)
        if bits is None:
            bits = bits_from(slots)
            if len(slots) >= CACHE_BITS_MIN or (isinstance(key, tuple) and key[0] == "month"):
                self._bits[key] = bits
                self._covered[key] = len(slots)
            return bits
        covered = self._covered[key]
        if covered < len(slots):
            bits |= bits_from(slots[covered:])
            self._bits[key] = bits
            self._covered[key] = len(slots)
        return bits

    def _warm(self) -> None:
        """Materialize the bitsets of all long posting lists, a few at a time under the lock.

        Run after a bulk load, so that the first searches for common words are as fast as the
        later ones.
        """
        with self._lock:
            keys = [
                key
                for key, slots in self._slots.items()
                if len(slots) >= CACHE_BITS_MIN or (isinstance(key, tuple) and key[0] == "month")
            ]
        done = 0
        while done < len(keys):
            # A few milliseconds of work per lock hold, so searches keep flowing meanwhile.
            deadline = time.perf_counter() + 0.003
            with self._lock:
                while done < len(keys) and time.perf_counter() < deadline:
                    self._bits_of(keys[done])
                    done += 1
            time.sleep(0)
