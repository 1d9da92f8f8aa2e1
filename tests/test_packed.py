"""Releases stored compressed by slot (bot.search.packed): what goes in comes out, by block."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from bot.releases import Release
from bot.search.packed import BLOCK, DICT_BLOCK, PackedReleases

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.corpus import generate_releases
from tests.test_search import drop


def _filled(count: int) -> tuple[PackedReleases, list[Release]]:
    releases = generate_releases(count, seed=11)
    packed = PackedReleases()
    for release in releases:
        packed.append(release)
    return packed, releases


def test_releases_come_back_equal_from_full_blocks_and_the_tail() -> None:
    packed, releases = _filled(3 * BLOCK + 5)
    assert len(packed) == len(releases)
    assert [packed[slot] for slot in range(len(releases))] == releases
    slots = [len(releases) - 1, 0, BLOCK + 3, 1, 2 * BLOCK]
    assert packed.many(slots) == [releases[slot] for slot in slots]
    with pytest.raises(IndexError):
        packed[len(releases) + BLOCK]


def test_every_field_is_kept() -> None:
    release = Release("ilo-1.es", "Comunicado", "Trabajo infantil", generate_releases(1)[0].date,
                      None, "Niños y niñas.", None, ("child labour", "youth"), language="es",
                      group="ilo-1")
    packed = PackedReleases()
    for _ in range(BLOCK):
        packed.append(dataclasses.replace(release, id=f"x{len(packed)}"))
    assert packed[3] == dataclasses.replace(release, id="x3")


def test_a_discarded_slot_reads_none_and_its_neighbours_stay() -> None:
    packed, releases = _filled(2 * BLOCK + 2)
    packed.discard(3)
    packed.discard(2 * BLOCK + 1)  # in the tail
    expected: list[Release | None] = list(releases)
    expected[3] = expected[2 * BLOCK + 1] = None
    assert packed.many(range(len(releases))) == expected
    packed.append(releases[0])  # slots are never reused
    assert packed[len(releases)] == releases[0]


def test_blocks_after_the_first_ones_use_their_dictionary() -> None:
    packed, releases = _filled((DICT_BLOCK + 3) * BLOCK + 2)
    plain = PackedReleases.from_export(*packed.export())
    assert plain.many(range(len(releases))) == releases
    packed.discard((DICT_BLOCK + 1) * BLOCK)  # repacked with the dictionary
    assert packed[(DICT_BLOCK + 1) * BLOCK] is None
    assert packed[(DICT_BLOCK + 1) * BLOCK + 1] == releases[(DICT_BLOCK + 1) * BLOCK + 1]
    blocks, tail, zdict = packed.export()
    assert zdict
    with pytest.raises(ValueError):
        PackedReleases.from_export(blocks, tail)  # without its dictionary


def test_export_round_trips() -> None:
    packed, releases = _filled(BLOCK + 3)
    again = PackedReleases.from_export(*packed.export())
    assert again.many(range(len(releases))) == releases
    with pytest.raises(ValueError):
        PackedReleases.from_export([], [None] * BLOCK)


def test_the_index_lists_every_release_newest_first() -> None:
    from bot.search import SearchIndex

    releases = generate_releases(3 * BLOCK + 7, seed=4)
    index = SearchIndex(releases)
    everything = index.latest(len(releases))
    assert sorted(everything, key=lambda r: (-r.date.toordinal(), r.id)) == everything
    assert sorted(r.id for r in everything) == sorted(r.id for r in releases)
    assert index.latest(3, 2) == everything[2:5]
    drop(index, everything[1].id)  # its block is repacked without it
    assert index.latest(len(releases)) == [everything[0], *everything[2:]]
