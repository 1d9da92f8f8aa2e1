"""Helpers shared by the file parsers: build a release at a named position, reject duplicate ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.releases import Release, ReleaseError
from bot.sources.errors import SourceError
from bot.text.languages import DEFAULT_LANGUAGE


def build_release(
    path: str, where: str, data: Mapping[str, Any], language: str = DEFAULT_LANGUAGE
) -> Release:
    """Validate one record; a :class:`ReleaseError` becomes a :class:`SourceError` at ``where``.

    ``language`` is the source's default for records that do not name theirs.
    """
    try:
        return Release.from_dict(data, default_language=language)
    except ReleaseError as err:
        raise SourceError(path, where, str(err)) from None


def ensure_unique_ids(path: str, located: Iterable[tuple[str, Release]]) -> list[Release]:
    """The releases in order, or a :class:`SourceError` at the second use of an id.

    Two records with one id in the same file are almost always a copy-paste slip; silently keeping
    either would hide it, so files are rejected as a whole.
    """
    first_seen: dict[str, str] = {}
    releases: list[Release] = []
    for where, release in located:
        if release.id in first_seen:
            earlier = first_seen[release.id]
            raise SourceError(path, where, f"duplicate id {release.id!r} (first used at {earlier})")
        first_seen[release.id] = where
        releases.append(release)
    return releases
