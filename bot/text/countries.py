"""Which countries a text names, from the table in ``countries.toml`` (package data).

The longest name wins (``"Papua New Guinea"`` is not also Guinea), and a name inside a
hyphenated word does not count (``"Inner-Mongolia"`` is not Mongolia).
"""

from __future__ import annotations

import tomllib
from importlib import resources

from bot.text.words import split_words, tokenize


def _country_key(name: str) -> tuple[str, ...]:
    # Compounds stay whole here (unlike tokenize), so "timor-leste" is one key word.
    return tuple(word.replace("-", "") for word in split_words(name))


def _load() -> tuple[tuple[str, ...], dict[tuple[str, ...], str]]:
    data = tomllib.loads(resources.files("bot.text").joinpath("countries.toml").read_text("utf-8"))
    canonical: list[str] = []
    aliases: dict[tuple[str, ...], str] = {}
    for names in data["countries"]:
        canonical.append(names[0])
        for name in names:
            aliases[_country_key(name)] = names[0]
            # People type "Timor Leste" as often as "Timor-Leste".
            aliases.setdefault(tuple(tokenize(name)), names[0])
    return tuple(canonical), aliases


#: Canonical country names, as :func:`find_countries` returns them.
COUNTRIES, _ALIASES = _load()
_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _key in sorted(_ALIASES, key=len, reverse=True):
    _BY_FIRST.setdefault(_key[0], []).append(_key)
#: Every name a country goes by, folded (``"viet nam"``, ``"vietnam"`` ...) -> canonical name.
COUNTRY_NAMES: dict[str, str] = {" ".join(key): name for key, name in _ALIASES.items()}


def find_countries(text: str) -> list[str]:
    """Canonical names of the countries mentioned in ``text``, in order of first mention."""
    return countries_in(split_words(text))


def countries_in(words: list[str]) -> list[str]:
    """:func:`find_countries` over the output of :func:`split_words` (saves splitting twice)."""
    found: dict[str, None] = {}
    starts = [i for i, word in enumerate(words) if word in _BY_FIRST or "-" in word]
    end = 0  # a country name never overlaps the previous one
    for i in starts:
        if i < end:
            continue
        for key in _BY_FIRST.get(words[i].replace("-", ""), ()):
            if tuple(word.replace("-", "") for word in words[i : i + len(key)]) == key:
                found.setdefault(_ALIASES[key], None)
                end = i + len(key)
                break
    return list(found)


def country_of(name: str) -> str | None:
    """The canonical country for a name or alias typed by a person (``"vietnam"``), else None."""
    return _ALIASES.get(_country_key(name)) or _ALIASES.get(tuple(tokenize(name)))
