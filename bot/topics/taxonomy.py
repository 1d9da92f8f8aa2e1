"""The suggested topics and their synonyms: :class:`TaxonomyEntry` and the TOML file
(``data/topics.toml``) they are read from."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.topics.terms import words

__all__ = ["DEFAULT_TAXONOMY_PATH", "TaxonomyEntry", "default_taxonomy", "load_taxonomy"]

log = logging.getLogger(__name__)

#: Where :func:`default_taxonomy` looks (module attribute so tests can point it elsewhere).
DEFAULT_TAXONOMY_PATH = Path(__file__).resolve().parents[2] / "data" / "topics.toml"


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    """One suggested topic of ``data/topics.toml``: its display name and its synonyms."""

    name: str
    synonyms: tuple[str, ...] = ()
    #: French terms, the first being the entry's French name.
    fr: tuple[str, ...] = ()
    #: Spanish terms, the first being the entry's Spanish name.
    es: tuple[str, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """The English name followed by the English synonyms."""
        return (self.name, *self.synonyms)

    def terms_by_language(self) -> list[tuple[str, str]]:
        """Every (language, text) that stands for this entry, English first."""
        return ([("en", t) for t in self.terms] + [("fr", t) for t in self.fr]
                + [("es", t) for t in self.es])

    def name_in(self, lang: str) -> str:
        """The entry's name in ``lang`` (English when it has none there)."""
        localized = {"fr": self.fr, "es": self.es}.get(lang)
        return localized[0] if localized else self.name


def load_taxonomy(path: str | os.PathLike[str]) -> list[TaxonomyEntry]:
    """Read a taxonomy TOML file: a list of ``[[topic]]`` tables with ``name`` and
    ``synonyms``. A malformed file raises ValueError naming the file and the entry; a missing
    one raises the usual OSError."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"topic"})
    if extra:
        raise ValueError(f"{path}: unknown top-level key(s) {', '.join(extra)}"
                         " (expected only [[topic]] tables)")
    raw = data.get("topic", [])
    if not isinstance(raw, list):
        raise ValueError(f"{path}: 'topic' must be an array of tables ([[topic]])")
    return [_entry_from_toml(item, number, path) for number, item in enumerate(raw, 1)]


def default_taxonomy() -> Path | None:
    """The repository's taxonomy file, or None (with a warning) when it is missing, so the
    bot still runs without suggestions."""
    path = DEFAULT_TAXONOMY_PATH
    if not path.is_file():
        log.warning("topic taxonomy %s not found; topics match on their own words only", path)
        return None
    return path


def _entry_from_toml(item: object, number: int, path: Path) -> TaxonomyEntry:
    """One ``[[topic]]`` table into an entry; errors name the file, the position and the name."""
    where = f"{path}: topic #{number}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a table with 'name' and 'synonyms'")
    name = item.get("name")
    if not isinstance(name, str) or not words(name):
        raise ValueError(f"{where}: 'name' must be a non-empty string of words")
    where = f"{where} ({name!r})"
    extra = sorted(set(item) - {"name", "synonyms", "fr", "es"})
    if extra:
        raise ValueError(f"{where}: unknown key(s) {', '.join(extra)}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("synonyms", "fr", "es"):
        terms = item.get(key, [])
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ValueError(f"{where}: '{key}' must be a list of strings")
        for term in terms:
            if not words(term):
                label = "synonym" if key == "synonyms" else f"{key} term"
                raise ValueError(f"{where}: {label} {term!r} has no words")
        lists[key] = tuple(" ".join(t.split()) for t in terms)
    return TaxonomyEntry(" ".join(name.split()), lists["synonyms"], lists["fr"], lists["es"])
