"""The search index on disk: a snapshot file, so a restart loads it instead of rebuilding it.

Why a file of our own and not ``pickle``: measured at 100,000 releases (145 MB of index),
``pickle.load`` took 1.1 s and left the process at 382 MB, against 0.6 s + 0.5 s of
conversion and 319 MB for ``marshal`` of plain data (tuples, lists, dicts, ints, bytes);
``pickle.dump`` took 2.9 s against 1.6 s. ``marshal.load`` on a file object reads object by
object (6 s), so the snapshot is written as *frames* (length, CRC-32, marshal bytes) of at
most :data:`CHUNK` items each: loading reads one frame at a time, so the file is never held
in memory whole, and a flipped bit or a truncated file is caught by the CRC, not loaded.
Strings are not interned (the table of interned strings would cost the saving process 10 MB
more): instead the tables that share strings with others (terms, release ids) are not saved
but rebuilt on loading (:data:`SearchIndex.DERIVED`), from one copy of each string.

The header says what the snapshot is: :data:`FORMAT`, the Python version (marshal's format
may change with it), a fingerprint of the word analysis (:func:`analysis_fingerprint`: a
snapshot made by another analyser must be rebuilt, not loaded), the store it was made from,
and the store revision it covers. :func:`load` returns ``None`` for a snapshot that does not
fit and raises :class:`SnapshotError` for one that cannot be read; the caller rebuilds.

The index's state is taken generically (:meth:`SearchIndex.export_state`: every attribute
but its caches, what it can rebuild and what belongs to the running process), so new
attributes are saved without changes here: a few types marshal does not know (packed
releases, dates, arrays, counters) are converted, anything else unknown goes through pickle.
A new attribute that *searches* change must be listed in ``SearchIndex.CACHES``, because
the index is written while searches go on.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import marshal
import os
import pickle
import struct
import sys
import tempfile
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path
from typing import IO, Any

from bot.releases import Release
from bot.search.index import SearchIndex
from bot.search.packed import PackedReleases

__all__ = ["FORMAT", "Snapshot", "SnapshotError", "analysis_fingerprint", "load", "save"]

#: Bump when the layout of the file changes.
FORMAT = 3
MAGIC = b"NEWSBOT-INDEX\n"
#: Items per frame, and about the most bytes of posting lists or packed releases in one:
#: these bound the memory a frame costs while saving and loading (the payload, plus its
#: encoded copy). By count alone, the first frame of posting lists (those of the common
#: words) was 25 MB and all the packed releases 22 MB in one frame. Smaller frames cost
#: nothing measurable in time; 16384 items and 2 MB added 4 MB to a cold start's peak.
CHUNK = 4096
FRAME_BYTES = 1 << 20
_FRAME = struct.Struct("<QI")  # payload length, CRC-32

# How an attribute is stored (the tag in its section header).
_PLAIN, _PACKED, _DATES, _ARRAYS, _COUNTER, _ALIAS, _PICKLE, _ARRAY = range(8)


class SnapshotError(Exception):
    """The snapshot file cannot be read (truncated, corrupt, not a snapshot)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A loaded snapshot: the index and the store revision it holds every release up to."""

    index: SearchIndex
    revision: int


# ---------------------------------------------------------------------------------------------
# What a snapshot must match


_SAMPLES = (
    Release("2004-10-18-sample-en", "Press release", "Coal-mine safety: ILO's Beijing talks",
            date(2004, 10, 18), "Beijing", "Miners' unions and employers discussed the "
            "prevention of accidents in China's coal mines, child labour and wages.",
            topics=("occupational safety and health",)),
    Release("2004-09-01-sample-fr", "Communiqué de presse", "Le travail des enfants en Côte "
            "d'Ivoire", date(2004, 9, 1), "Genève", "Les travailleurs migrants et la sécurité "
            "sociale : l'OIT publie un rapport sur les cacaoyères."),
    Release("2004-08-02-sample-es", "Comunicado de prensa", "Trabajo infantil en las minas de "
            "Bolivia", date(2004, 8, 2), None, "La OIT y los sindicatos piden más inspectores "
            "del trabajo; niños y niñas trabajadores."),
)


#: The modules whose code decides what the index holds (besides bot.text, all of it): how a
#: release is analysed and posted. Not the ones that only read the index (query, ranking,
#: suggestions), whose changes need no rebuild; the file layout is :data:`FORMAT`'s.
_SHAPING_MODULES = ("bot.releases", "bot.search.fields", "bot.search.postings",
                    "bot.search.vocabulary", "bot.search.phrases", "bot.search.filters",
                    "bot.search.index", "bot.search.packed")


def analysis_fingerprint() -> str:
    """A digest of how releases are analysed and indexed today.

    It covers the source of the modules that shape the index (so a new newsbot rebuilds)
    and what indexing a few sample releases actually produces (so a changed word list or
    data file does too). Deliberately conservative: any change there costs one rebuild.
    """
    digest = hashlib.sha256(f"{FORMAT}:{sys.version_info[:2]}".encode())
    import bot.text

    text_files = sorted(Path(bot.text.__file__ or "").parent.glob("*.*"))
    sources = [Path(importlib.import_module(name).__file__ or "") for name in _SHAPING_MODULES]
    for path in [*sources, *text_files]:
        with contextlib.suppress(OSError, TypeError):
            digest.update(path.read_bytes())
    # What the analyser made of the samples: the vocabulary in order with each term's field
    # classes and counts, the word families, and the filter keys. (Not the internal ids:
    # those depend on the order of a set and differ from run to run.)
    state = SearchIndex(_SAMPLES).export_state()
    for name in ("_terms", "_classes", "_df", "_places", "_kinds", "_months"):
        digest.update(f"{name}={state.get(name)!r}".encode())
    digest.update(repr(sorted(state.get("_root_id", ()))).encode())
    digest.update(repr(sorted(repr(key) for key in state.get("_slots", ())
                              if isinstance(key, tuple))).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Writing


def save(index: SearchIndex, path: Path, *, store_id: str, revision: int,
         fingerprint: str) -> int:
    """Write ``index`` to ``path`` atomically (a temp file, then a rename); its size in bytes.

    ``revision``: every release stored up to it is in the index (take it *before* the
    index's state is read). Call it while nothing adds to the index (searches may run; see
    :meth:`SearchIndex.export_state`). Each frame is encoded just before it is written, so
    the memory it costs is one frame's, not a copy of the index.
    """
    state = index.export_state()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            _write_frame(out, {"format": FORMAT, "python": list(sys.version_info[:2]),
                               "analysis": fingerprint, "store": store_id,
                               "revision": revision, "releases": len(index),
                               "attributes": len(state)})
            for name, value in state.items():
                _write_attribute(out, name, value, state)
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return size


def _write_frame(out: IO[bytes], value: Any) -> None:
    data = marshal.dumps(value)
    out.write(_FRAME.pack(len(data), zlib.crc32(data)))
    out.write(data)


def _write_attribute(out: IO[bytes], name: str, value: Any, state: dict[str, Any]) -> None:
    tag, count, chunks = _encode(name, value, state)
    _write_frame(out, (name, tag, count))
    written = 0
    for chunk in chunks:
        _write_frame(out, chunk)
        written += 1
    if written != count:
        raise RuntimeError(f"{name} changed while it was written")


def _slices(items: list[Any]) -> tuple[int, Iterator[list[Any]]]:
    """(how many, the chunks of a list), made one at a time."""
    count = max(1, -(-len(items) // CHUNK))
    return count, (items[i * CHUNK:(i + 1) * CHUNK] for i in range(count))


def _runs(sizes: Iterable[int]) -> list[int]:
    """How many items go in each frame: at most :data:`CHUNK`, and no more than
    :data:`FRAME_BYTES` of payload unless one item alone is larger."""
    runs: list[int] = []
    items = total = 0
    for size in sizes:
        if items and (items == CHUNK or total + size > FRAME_BYTES):
            runs.append(items)
            items = total = 0
        items += 1
        total += size
    runs.append(items)  # the last (or the only, maybe empty) frame
    return runs


def _sized_slices(items: list[bytes]) -> tuple[int, Iterator[list[bytes]]]:
    """(how many, the chunks of a list of bytes, each about FRAME_BYTES at most)."""
    runs = _runs(map(len, items))

    def chunks() -> Iterator[list[bytes]]:
        start = 0
        for run in runs:
            yield items[start:start + run]
            start += run

    return len(runs), chunks()


def _dict_slices(value: dict[Any, Any], runs: list[int] | None = None
                 ) -> tuple[int, Iterator[dict[Any, Any]]]:
    """(how many, the chunks of a dict): ``runs`` items each, else :data:`CHUNK`."""
    if runs is None:
        runs = [CHUNK] * max(1, -(-len(value) // CHUNK))

    def chunks() -> Iterator[dict[Any, Any]]:
        items = iter(value.items())  # nothing adds to the index meanwhile (see save)
        for run in runs:
            yield dict(islice(items, run))

    return len(runs), chunks()


def _encode(name: str, value: Any, state: dict[str, Any]
            ) -> tuple[int, int, Iterator[Any]]:
    """(tag, number of frames, the frames) for one attribute of the index."""
    if isinstance(value, PackedReleases):
        # The blocks are compressed already: written as they are (the tail and the
        # compression dictionary first).
        blocks, tail, zdict = value.export()
        count, block_chunks = _sized_slices(blocks)
        return _PACKED, count + 2, itertools.chain([tail, zdict], block_chunks)
    if isinstance(value, array):
        return _ARRAY, 1, iter([(value.typecode, value.tobytes())])
    if isinstance(value, list) and value and all(type(v) is date for v in value[:64]):
        count, date_chunks = _slices(value)
        return _DATES, count, ([d.toordinal() for d in chunk] for chunk in date_chunks)
    if isinstance(value, Counter):
        return (_COUNTER, *_dict_slices(value))
    if isinstance(value, dict) and value and all(isinstance(v, array) for v in value.values()):
        runs = _runs(len(a) * a.itemsize + 16 for a in value.values())  # + key
        count, array_chunks = _dict_slices(value, runs)
        return _ARRAYS, count, ({k: (a.typecode, a.tobytes()) for k, a in chunk.items()}
                                for chunk in array_chunks)
    if isinstance(value, dict) and value:
        # A dict of other attributes (e.g. counts by filter name): keep it pointing at them.
        owners = {id(v): n for n, v in state.items() if n != name}
        if all(id(v) in owners for v in value.values()):
            return _ALIAS, 1, iter([{k: owners[id(v)] for k, v in value.items()}])
    chunks: Iterator[Any]
    if isinstance(value, dict) and value and all(type(v) is int for v in value.values()):
        # e.g. the bitsets of long posting lists: 12.5 KB each at 100,000 releases
        count, chunks = _dict_slices(value, _runs(v.bit_length() // 8 + 16 for v in value.values()))
    elif isinstance(value, list) and value and all(type(v) is bytes for v in value[:64]):
        count, chunks = _sized_slices(value)  # e.g. word sequences: 20 MB at 100,000
    elif isinstance(value, list):
        count, chunks = _slices(value)
    elif isinstance(value, dict):
        count, chunks = _dict_slices(value)
    else:
        count, chunks = 1, iter([value])
    first = next(chunks)
    try:
        marshal.dumps(first)
    except ValueError:  # a type marshal does not know: pickle handles the rest
        return _PICKLE, 1, iter([pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)])
    return _PLAIN, count, itertools.chain([first], chunks)


# ---------------------------------------------------------------------------------------------
# Reading


def load(path: Path, *, store_id: str, fingerprint: str) -> Snapshot | None:
    """The snapshot at ``path`` if it fits this store and this analyser, else ``None``.

    ``None`` also when the file does not exist. Raises :class:`SnapshotError` when the file
    is there but cannot be read; the caller logs that once and rebuilds.
    """
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed below; FileNotFoundError is an answer)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError(f"cannot open {path}: {exc}") from None
    with file:
        try:
            if file.read(len(MAGIC)) != MAGIC:
                raise SnapshotError(f"{path} is not an index snapshot")
            header = _read_frame(file)
            if not isinstance(header, dict):
                raise SnapshotError(f"{path}: unreadable header")
            if (header.get("format") != FORMAT
                    or header.get("python") != list(sys.version_info[:2])
                    or header.get("analysis") != fingerprint
                    or header.get("store") != store_id):
                return None
            state: dict[str, Any] = {}
            aliases: dict[str, dict[Any, str]] = {}
            for _ in range(int(header["attributes"])):
                name, tag, count = _read_frame(file)
                frames = (_read_frame(file) for _ in range(count))
                if tag == _ALIAS:
                    aliases[name] = next(frames)
                else:
                    state[name] = _decode(tag, frames)
            for name, mapping in aliases.items():
                state[name] = {key: state[owner] for key, owner in mapping.items()}
            revision = int(header["revision"])
            index = SearchIndex.from_state(state)
        except SnapshotError:
            raise
        except Exception as exc:  # anything a damaged file can make the decoders raise
            raise SnapshotError(f"{path}: {type(exc).__name__}: {exc}") from None
    if len(index) != header["releases"]:
        raise SnapshotError(f"{path}: holds {len(index)} releases, header says "
                            f"{header['releases']}")
    return Snapshot(index, revision)


def _read_frame(file: IO[bytes]) -> Any:
    head = file.read(_FRAME.size)
    if len(head) != _FRAME.size:
        raise SnapshotError("the file is truncated")
    length, crc = _FRAME.unpack(head)
    data = file.read(length)
    if len(data) != length:
        raise SnapshotError("the file is truncated")
    if zlib.crc32(data) != crc:
        raise SnapshotError("a checksum does not match (the file is damaged)")
    return marshal.loads(data)


def _decode(tag: int, frames: Iterator[Any]) -> Any:
    if tag == _PACKED:
        tail, zdict = next(frames), next(frames)
        return PackedReleases.from_export([block for chunk in frames for block in chunk], tail,
                                          zdict)
    if tag == _ARRAY:
        typecode, data = next(frames)
        values = array(typecode)
        values.frombytes(data)
        return values
    if tag == _DATES:
        from_ordinal = date.fromordinal
        return [from_ordinal(o) for chunk in frames for o in chunk]
    if tag == _COUNTER:
        counter: Counter[Any] = Counter()
        for chunk in frames:
            counter.update(chunk)
        return counter
    if tag == _ARRAYS:
        arrays: dict[Any, array[Any]] = {}
        for chunk in frames:
            for key, (typecode, data) in chunk.items():
                values = arrays[key] = array(typecode)
                values.frombytes(data)
        return arrays
    if tag == _PICKLE:
        return pickle.loads(next(frames))
    if tag == _PLAIN:
        first = next(frames)
        if isinstance(first, list):
            for chunk in frames:
                first.extend(chunk)
        elif isinstance(first, dict):
            for chunk in frames:
                first.update(chunk)
        return first
    raise SnapshotError(f"unknown section tag {tag}")
