"""Load a file of releases, choosing the parser by file extension and, failing that, by content."""

from __future__ import annotations

import os
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


def load_file(path: str | os.PathLike[str], language: str = DEFAULT_LANGUAGE) -> list[Release]:
    """Every release in a file, or :class:`SourceError` naming the file, the entry and the problem.

    Formats: ``.json`` (JSON array of objects), ``.jsonl``/``.ndjson`` (JSON Lines),
    ``.xml``/``.rss``/``.atom`` (RSS 2.0 or Atom); any other name is sniffed from its first
    character (``<`` feed, ``[`` JSON array, ``{`` JSON Lines) and otherwise read as the seed's
    plain-text listing. ``language`` is the source's default for releases that do not name
    theirs (a record's ``language``, an id suffix, a feed's ``<language>``).
    All-or-nothing: one bad entry or a duplicate id rejects the whole file,
    feed files included (unlike fetched feeds, which skip bad items).
    """
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as err:
        raise SourceError(name, None, f"cannot read file: {err.strerror or err}") from None

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
