"""Load a file of releases, choosing the parser by file extension and, failing that, by content."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from bot.releases import Release
from bot.sources.errors import SourceError
from bot.sources.feeds import parse_feed
from bot.sources.jsonfile import parse_json_array, parse_json_lines
from bot.sources.listing import parse_listing
from bot.text.languages import DEFAULT_LANGUAGE

_TextParser = Callable[[str, str, str], list[Release]]

_BY_EXTENSION: dict[str, _TextParser] = {
    ".json": parse_json_array,
    ".jsonl": parse_json_lines,
    ".ndjson": parse_json_lines,
}
_FEED_EXTENSIONS = frozenset({".xml", ".rss", ".atom"})

#: The default size cap of a release file (``[sources] max_file_bytes``), as for feeds: a file
#: is held in memory several times over while parsed (a 50 MB file once took 1.5 GB).
MAX_FILE_BYTES = 10 * 1024 * 1024


def load_file(path: str | os.PathLike[str], language: str = DEFAULT_LANGUAGE, *,
              max_bytes: int = MAX_FILE_BYTES) -> list[Release]:
    """Every release in a file, or :class:`SourceError` naming the file, the entry and the problem.

    Formats: ``.json`` (JSON array of objects), ``.jsonl``/``.ndjson`` (JSON Lines),
    ``.xml``/``.rss``/``.atom`` (RSS 2.0 or Atom); any other name is sniffed from its first
    character (``<`` feed, ``[`` JSON array, ``{`` JSON Lines) and otherwise read as the seed's
    plain-text listing. ``language`` is the source's default for releases that do not name
    theirs (a record's ``language``, an id suffix, a feed's ``<language>``).
    All-or-nothing: one bad entry or a duplicate id rejects the whole file, feed files
    included (unlike fetched feeds, which skip bad items). A file larger than ``max_bytes`` is
    refused before it is read.
    """
    name = os.fspath(path)
    return parse_file(read_file(name, max_bytes), name, language)


def read_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, or :class:`SourceError` when it cannot be read or is over ``max_bytes``.

    The size is checked before reading (and the read stops past the cap, in case the file
    grows meanwhile), so an oversized file never costs its size in memory.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(name, None, "is a folder, not a file of releases")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            raise SourceError(name, None, "is not a regular file")
        if info.st_size > max_bytes:
            raise _too_big(name, info.st_size, max_bytes)
        with open(name, "rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as err:
        raise SourceError(name, None, f"cannot read file: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise _too_big(name, len(data), max_bytes)
    return data


def _too_big(name: str, size: int, max_bytes: int) -> SourceError:
    return SourceError(name, None, f"file is {_megabytes(size)}, larger than the limit of "
                                   f"{_megabytes(max_bytes)} ([sources] max_file_bytes = "
                                   f"{max_bytes})")


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 102400 else f"{size} bytes"


def parse_file(data: bytes, name: str, language: str = DEFAULT_LANGUAGE) -> list[Release]:
    """The releases in a file's bytes (see :func:`load_file`); ``name`` names it in errors."""
    try:
        return _parse(data, name, language)
    except RecursionError:
        # json and the XML parsers recurse per nesting level; a hostile file can nest deeper
        # than the interpreter allows.
        raise SourceError(name, None, "nested too deeply to be a file of releases") from None


def _parse(data: bytes, name: str, language: str) -> list[Release]:
    suffix = Path(name).suffix.lower()
    if suffix in _FEED_EXTENSIONS:
        return parse_feed(data, name, strict=True, language=language)
    text = _decode(data, name)
    parser = _BY_EXTENSION.get(suffix)
    if parser is None:
        first = text.lstrip("\ufeff \t\r\n")[:1]
        if first == "<":
            return parse_feed(data, name, strict=True, language=language)
        parser = {"[": parse_json_array, "{": parse_json_lines}.get(first, parse_listing)
    return parser(text, name, language)


def _decode(data: bytes, name: str) -> str:
    """UTF-8 text (a leading BOM dropped), or an error naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SourceError(name, f"line {line}", f"not UTF-8 text ({err.reason})") from None
