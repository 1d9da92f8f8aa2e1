"""The bottom layer of the index: releases by slot and the posting lists over slots.

A slot is a release's internal number, given in order of indexing and never reused, so a
bitset of slots stays valid while releases are added. Per slot: the release (compressed,
:mod:`bot.search.packed`), its id, date and word sequence. Per key (a term and field class,
a filter value, a pair of adjacent common words): the slots of its releases.

A short posting list is an int array of slots. A long one (:data:`LONG_LIST` slots, and
every month's, which date filters OR together) is a bitset, which is what queries combine,
plus an array of the slots added since the bitset was last brought up to date (its *tail*,
merged when it grows long, after a bulk load, and on loading a snapshot). A long list is
not kept as an array too: at 100,000 releases that would be 19 MB more. Only writes (under
the index's lock, never during a snapshot) change a list; reads combine bitset and tail.

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
from bot.search.bitsets import bits_from, members
from bot.search.packed import PackedReleases

__all__ = ["LONG_LIST", "Postings"]

#: A posting list this long is kept as a bitset (and a tail), no more as an array.
LONG_LIST = 512


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
        # "country"|"lang"|"topic", value) for filters (and topics' own, see
        # bot.search.occurrences), and the 8 bytes of two root codes for pairs of
        # common words that are adjacent (see bot.search.phrases).
        # Every key with postings is in _slots: its short list, or its long list's tail
        # (often empty). Long lists have their bitset in _bits.
        self._slots: dict[object, array[int]] = {}
        self._bits: dict[object, int] = {}
        # Filter values with how many live releases have them.
        self._months: dict[int, int] = {}
        self._places: dict[str, int] = {}
        self._kinds: dict[str, int] = {}
        self._languages: dict[str, int] = {}
        self._topic_values: dict[str, int] = {}  # the releases' own topics
        self._counts: dict[str, dict[Any, int]] = {
            "month": self._months,
            "place": self._places,
            "kind": self._kinds,
            "lang": self._languages,
            "topic": self._topic_values,
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
        """Add a slot to a posting list."""
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = array("i")
        slots.append(slot)
        if len(slots) >= LONG_LIST:
            self._merge(key, slots)

    def _merge(self, key: object, slots: array[int]) -> None:
        """Make a list long (or bring a long one up to date): its array into its bitset."""
        self._bits[key] = self._bits.get(key, 0) | bits_from(slots)
        del slots[:]

    def _unpost(self, key: object, slot: int) -> None:
        """Take a slot out of a posting list (a list left empty goes)."""
        slots = self._slots.get(key)
        if slots is None:
            return
        bits = self._bits.get(key, 0)
        if slot in slots:
            slots.remove(slot)
        elif bits >> slot & 1:
            bits = self._bits[key] = bits & ~(1 << slot)
        else:
            return
        if not slots and not bits:
            del self._slots[key]
            self._bits.pop(key, None)

    def _bits_of(self, key: object) -> int:
        """The bitset of a posting list (0 for none)."""
        slots = self._slots.get(key)
        if slots is None:
            return 0
        bits = self._bits.get(key)
        if bits is None:
            return bits_from(slots)
        return bits | bits_from(slots) if slots else bits

    def _slot_list(self, key: object) -> list[int] | array[int]:
        """The slots of a posting list, ascending (empty for none)."""
        slots = self._slots.get(key)
        if slots is None:
            return []
        bits = self._bits.get(key)
        return slots if bits is None else [*members(bits), *slots]

    def _settle(self) -> None:
        """Merge the tails of long lists and make every month's list long, a few at a time
        under the lock (searches keep flowing meanwhile). After a bulk load, and on loading
        a snapshot, so that searches find bitsets ready.
        """
        with self._lock:
            keys = [key for key, slots in self._slots.items()
                    if slots and (key in self._bits
                                  or (isinstance(key, tuple) and key[0] == "month"))]
        done = 0
        while done < len(keys):
            deadline = time.perf_counter() + 0.003
            with self._lock:
                while done < len(keys) and time.perf_counter() < deadline:
                    slots = self._slots.get(keys[done])
                    if slots:
                        self._merge(keys[done], slots)
                    done += 1
            time.sleep(0)
