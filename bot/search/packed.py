"""Releases kept compressed in memory, by slot, for the search index.

Why: at 100,000 releases, :class:`~bot.releases.Release` objects (ten fields, each its own
string or date object) cost 84 MB, the largest single part of the index, although a search
only ever shows a handful of them. Here releases are stored in *blocks* of :data:`BLOCK`
consecutive slots, each block one zlib-compressed ``marshal`` of the releases' fields: about
a third of the size (releases side by side share their kind, topics, URL prefix and words,
which is why a block compresses much better than one release alone). Reading a release
decompresses its block (tens of microseconds); :meth:`PackedReleases.many` decodes each
block once for a whole page or list.

The newest, not yet full, block stays as plain objects (the *tail*), so adding a release
costs one compression per :data:`BLOCK` releases. Slots are never reused (the index's
bitsets rely on that); a removed release's slot reads as ``None`` (its block is repacked
without it, so a replaced release does not linger in memory).
"""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Iterable
from datetime import date
from typing import Any

from bot.releases import Release

__all__ = ["BLOCK", "PackedReleases"]

#: Releases per compressed block: larger blocks compress better, smaller ones decode faster.
#: Measured on the synthetic corpus, bytes per release and the time to read a page of 5:
#: 4 -> 280 B, 70 µs; 8 -> 247 B, 105 µs; 16 -> 221 B, 270 µs. 8: 25 MB at 100,000, and a
#: search's page costs a tenth of a millisecond more than with release objects.
BLOCK = 8
#: zlib level: 6 (the default) packs as well as 9 here, and builds 100,000 releases in ~0.5 s.
_LEVEL = 6

_Row = tuple[Any, ...] | None


def _row(release: Release | None) -> _Row:
    if release is None:
        return None
    return (release.id, release.kind, release.title, release.date.toordinal(), release.place,
            release.summary, release.url, release.topics, release.language, release.group)


def _release(row: _Row) -> Release | None:
    if row is None:
        return None
    return Release(row[0], row[1], row[2], date.fromordinal(row[3]), row[4], row[5], row[6],
                   tuple(row[7]), row[8], row[9])


def _pack(releases: Iterable[Release | None]) -> bytes:
    return zlib.compress(marshal.dumps([_row(r) for r in releases]), _LEVEL)


def _unpack(block: bytes) -> list[_Row]:
    rows: list[_Row] = marshal.loads(zlib.decompress(block))
    return rows


class PackedReleases:
    """A list of releases by slot (``None`` for a removed one), stored compressed."""

    __slots__ = ("_blocks", "_tail")

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._tail: list[Release | None] = []

    def __len__(self) -> int:
        return len(self._blocks) * BLOCK + len(self._tail)

    def append(self, release: Release) -> None:
        """Store the release of the next slot."""
        self._tail.append(release)
        if len(self._tail) == BLOCK:
            self._blocks.append(_pack(self._tail))
            self._tail = []

    def __getitem__(self, slot: int) -> Release | None:
        block, at = divmod(slot, BLOCK)
        if block == len(self._blocks):
            return self._tail[at]
        if not 0 <= block < len(self._blocks):
            raise IndexError(slot)
        return _release(_unpack(self._blocks[block])[at])

    def many(self, slots: Iterable[int]) -> list[Release | None]:
        """The releases of these slots, in order, decoding each block once."""
        decoded: dict[int, list[_Row]] = {}
        out: list[Release | None] = []
        for slot in slots:
            block, at = divmod(slot, BLOCK)
            if block == len(self._blocks):
                out.append(self._tail[at])
                continue
            rows = decoded.get(block)
            if rows is None:
                if not 0 <= block < len(self._blocks):
                    raise IndexError(slot)
                rows = decoded[block] = _unpack(self._blocks[block])
            out.append(_release(rows[at]))
        return out

    def discard(self, slot: int) -> None:
        """Forget the release of a slot (it reads as ``None`` from now on)."""
        block, at = divmod(slot, BLOCK)
        if block == len(self._blocks):
            self._tail[at] = None
            return
        rows = _unpack(self._blocks[block])
        rows[at] = None
        self._blocks[block] = zlib.compress(marshal.dumps(rows), _LEVEL)

    # -- persistence (bot.search.snapshot): plain data marshal can write --------------------------

    def export(self) -> tuple[list[bytes], list[_Row]]:
        """(the compressed blocks, the tail's rows): the live list, not a copy."""
        return self._blocks, [_row(r) for r in self._tail]

    @classmethod
    def from_export(cls, blocks: list[bytes], tail: list[_Row]) -> PackedReleases:
        """The releases :meth:`export` returned."""
        if len(tail) >= BLOCK or not all(isinstance(b, bytes) for b in blocks):
            raise ValueError("not an export of PackedReleases")
        packed = cls()
        packed._blocks = blocks
        packed._tail = [_release(row) for row in tail]
        return packed
