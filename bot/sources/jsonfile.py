"""JSON files of releases: one JSON array of objects, or JSON Lines (one object per line)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from bot.releases import Release
from bot.sources.errors import SourceError
from bot.sources.validate import build_release, ensure_unique_ids
from bot.text.languages import DEFAULT_LANGUAGE


def parse_json_array(text: str, path: str, language: str = DEFAULT_LANGUAGE) -> list[Release]:
    """A JSON array of release objects; errors say ``line L, column C`` or ``entry N`` (1-based)."""
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as err:
        raise SourceError(path, f"line {err.lineno}, column {err.colno}", err.msg) from None
    if not isinstance(data, list):
        raise SourceError(
            path, None, f"expected a JSON array of release objects, got {_json_type(data)}"
        )

    def located() -> Iterator[tuple[str, Release]]:
        for index, item in enumerate(data, start=1):
            where = f"entry {index}"
            yield where, build_release(path, where, _require_object(item, path, where), language)

    return ensure_unique_ids(path, located())


def parse_json_lines(text: str, path: str, language: str = DEFAULT_LANGUAGE) -> list[Release]:
    """JSON Lines: one release object per line, blank lines allowed; errors say ``line N``."""

    def located() -> Iterator[tuple[str, Release]]:
        for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise SourceError(path, where, f"{err.msg} (column {err.colno})") from None
            yield where, build_release(path, where, _require_object(item, path, where), language)

    return ensure_unique_ids(path, located())


def _require_object(item: object, path: str, where: str) -> dict[str, object]:
    if not isinstance(item, dict):
        raise SourceError(path, where, f"expected a release object, got {_json_type(item)}")
    return item


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, which is what the file's author wrote."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
