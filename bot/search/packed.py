"""Releases kept compressed in memory, by slot, for the search index.

Why: at 100,000 releases, :class:`~bot.releases.Release` objects (ten fields, each its own
string or date object) cost 84 MB, the largest single part of the index, although a search
only ever shows a handful of them. Here releases are stored in *blocks* of :data:`BLOCK`
consecutive slots, each block one zlib-compressed ``marshal`` of the releases' fields: about
a third of the size (releases side by side share their kind, topics, URL prefix and words,
which is why a block compresses much better than one release alone). Reading a release
decompresses its block (tens of microseconds); :meth:`PackedReleases.many` decodes each
block once for a whole page or list. :meth:`PackedReleases.detach` takes what decoding needs
(the blocks are immutable bytes) so that the decoding itself can run without the index's
lock.

Blocks from the :data:`DICT_BLOCK`-th on are compressed with a preset dictionary (zlib's
``zdict``): the marshalled releases of the blocks before it. Releases of one store share
much (kinds, topics, URL prefixes, frequent words) that a block of 8 alone cannot exploit:
with it, 177 bytes a release instead of 247 (7 MB less at 100,000), for 8 µs more per
block decoded.

The newest, not yet full, block stays as plain objects (the *tail*), so adding a release
costs one compression per :data:`BLOCK` releases. Slots are never reused (the index's
bitsets rely on that); a removed release's slot reads as ``None`` (its block is repacked
without it, so a replaced release does not linger in memory).
"""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, NamedTuple

from bot.releases import Release

__all__ = ["BLOCK", "DICT_BLOCK", "Detached", "PackedReleases"]

#: Releases per compressed block: larger blocks compress better, smaller ones decode faster.
#: Measured on the synthetic corpus, bytes per release and the time to read a page of 5:
#: 4 -> 280 B, 70 µs; 8 -> 247 B, 105 µs; 16 -> 221 B, 270 µs. 8: 25 MB at 100,000, and a
#: search's page costs a tenth of a millisecond more than with release objects.
BLOCK = 8
#: zlib level: 6 (the default) packs as well as 9 here, and builds 100,000 releases in ~0.5 s.
_LEVEL = 6
#: The first block compressed with the preset dictionary, made of the blocks before it
#: (64 releases: measured, as good as 200 or 4,000 and much better than 8).
DICT_BLOCK = 8
_DICT_BYTES = 32768  # the most zlib uses

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


def _compress(rows: list[_Row], zdict: bytes) -> bytes:
    if not zdict:
        return zlib.compress(marshal.dumps(rows), _LEVEL)
    packer = zlib.compressobj(_LEVEL, zdict=zdict)
    return packer.compress(marshal.dumps(rows)) + packer.flush()


def _unpack(block: bytes, zdict: bytes) -> list[_Row]:
    data = zlib.decompressobj(zdict=zdict).decompress(block) if zdict else zlib.decompress(block)
    rows: list[_Row] = marshal.loads(data)
    return rows


class Detached(NamedTuple):
    """The releases of some slots, not decoded yet: the compressed blocks they are in
    (``(block, dictionary)`` by block number) and those not compressed yet."""

    slots: list[int]
    blocks: dict[int, tuple[bytes, bytes]]
    tail: dict[int, Release | None]

    def decode(self) -> Iterator[Release | None]:
        """The releases of :attr:`slots`, in order, decoding each block once.

        One at a time: a big taxonomy entry doubts tens of thousands of releases, and
        holding them all decoded at once added ~50 MB to the peak at 100,000 releases.
        ``slots`` ascend, so only the block being read is kept decoded."""
        current, rows = -1, []
        for slot in self.slots:
            if slot in self.tail:
                yield self.tail[slot]
                continue
            block, at = divmod(slot, BLOCK)
            if block != current:
                current, rows = block, _unpack(*self.blocks[block])
            yield _release(rows[at])


class PackedReleases:
    """A list of releases by slot (``None`` for a removed one), stored compressed."""

    __slots__ = ("_blocks", "_tail", "_zdict")

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._tail: list[Release | None] = []
        self._zdict = b""  # made when block DICT_BLOCK is packed

    def _dict_for(self, block: int) -> bytes:
        return self._zdict if block >= DICT_BLOCK else b""

    def __len__(self) -> int:
        return len(self._blocks) * BLOCK + len(self._tail)

    def append(self, release: Release) -> None:
        """Store the release of the next slot."""
        self._tail.append(release)
        if len(self._tail) == BLOCK:
            if len(self._blocks) == DICT_BLOCK:
                earlier = [row for at in range(DICT_BLOCK) for row in self._rows(at)]
                self._zdict = marshal.dumps(earlier)[-_DICT_BYTES:]
            self._blocks.append(_compress([_row(r) for r in self._tail],
                                          self._dict_for(len(self._blocks))))
            self._tail = []

    def _rows(self, block: int) -> list[_Row]:
        return _unpack(self._blocks[block], self._dict_for(block))

    def __getitem__(self, slot: int) -> Release | None:
        block, at = divmod(slot, BLOCK)
        if block == len(self._blocks):
            return self._tail[at]
        if not 0 <= block < len(self._blocks):
            raise IndexError(slot)
        return _release(self._rows(block)[at])

    def many(self, slots: Iterable[int]) -> list[Release | None]:
        """The releases of these slots, in order."""
        return list(self.detach(slots).decode())

    def detach(self, slots: Iterable[int]) -> Detached:
        """What decoding these slots' releases needs, taken now: :meth:`Detached.decode`
        then needs no lock, whatever happens to this list meanwhile."""
        wanted = list(slots)
        blocks: dict[int, tuple[bytes, bytes]] = {}
        tail: dict[int, Release | None] = {}
        for slot in wanted:
            block, at = divmod(slot, BLOCK)
            if block == len(self._blocks):
                tail[slot] = self._tail[at]
            elif block not in blocks:
                if not 0 <= block < len(self._blocks):
                    raise IndexError(slot)
                blocks[block] = (self._blocks[block], self._dict_for(block))
        return Detached(wanted, blocks, tail)

    def discard(self, slot: int) -> None:
        """Forget the release of a slot (it reads as ``None`` from now on)."""
        block, at = divmod(slot, BLOCK)
        if block == len(self._blocks):
            self._tail[at] = None
            return
        rows = self._rows(block)
        rows[at] = None
        self._blocks[block] = _compress(rows, self._dict_for(block))

    # -- persistence (bot.search.snapshot): plain data marshal can write --------------------------

    def export(self) -> tuple[list[bytes], list[_Row], bytes]:
        """(the compressed blocks (the live list, not a copy), the tail's rows, the
        compression dictionary)."""
        return self._blocks, [_row(r) for r in self._tail], self._zdict

    @classmethod
    def from_export(cls, blocks: list[bytes], tail: list[_Row], zdict: bytes = b""
                    ) -> PackedReleases:
        """The releases :meth:`export` returned."""
        if (len(tail) >= BLOCK or not all(isinstance(b, bytes) for b in blocks)
                or not isinstance(zdict, bytes) or bool(zdict) != (len(blocks) > DICT_BLOCK)):
            raise ValueError("not an export of PackedReleases")
        packed = cls()
        packed._blocks = blocks
        packed._tail = [_release(row) for row in tail]
        packed._zdict = zdict
        return packed
