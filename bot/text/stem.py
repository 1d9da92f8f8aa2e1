"""Stemming per language, in two strengths, for search and topics alike.

- :func:`stem` is the *light* form of a folded word: the term search indexes and a phrase is
  made of. English loses only its plural (``workers`` -> ``worker``); French and Spanish
  words get their Snowball stem (``travailleuses`` -> ``travailleur``, ``ninos`` -> ``nin``).
- :func:`root` is the *family* key of a light stem. Loose (search): ``trafficking``,
  ``traffickers`` -> ``traffick``, ``mine``/``miners``/``mining`` -> ``min``; search ranks a
  family match below an exact one, so an occasional over-merge costs little. Strict (topics,
  whose wrong match is a message pushed to a phone): only ``-ing``/``-ed``/``-er`` and a final
  ``-e`` when four letters remain, so ``mining`` and ``mine`` stay apart (the taxonomy joins
  them on purpose) while ``training``/``trainers`` meet.

Words are folded first, so accents never matter (``securite`` = ``sécurité``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import snowballstemmer

from bot.text.stopwords import STOPWORDS

_SNOWBALL = {"fr": snowballstemmer.stemmer("french"), "es": snowballstemmer.stemmer("spanish")}

_IRREGULAR_PLURALS = {"children": "child", "women": "woman", "men": "man", "people": "people"}
_NO_PLURAL = frozenset({"news", "series", "species", "means", "economics", "politics", "physics",
                        "always", "perhaps"})
# US and UK spellings of one stem, applied to roots so inflected forms meet as well.
_SPELLING = {"labor": "labour", "program": "programm", "organiz": "organis",
             "organization": "organisation"}
# Feminine agent nouns join their masculine form before Snowball, which keeps them apart:
# "travailleuses" is "travailleurs", "directrices" is "directeurs".
_FR_FEMININE = (("euses", "eurs"), ("euse", "eur"), ("trices", "teurs"), ("trice", "teur"))

_LOOSE_SUFFIXES = (("ization", "iz"), ("isation", "is"), ("ment", ""), ("ing", ""), ("ee", ""),
                   ("er", ""), ("ed", ""), ("ly", ""))
_STRICT_SUFFIXES = (("ing", ""), ("ed", ""), ("er", ""))
_KEEP_DOUBLE = frozenset("lsz")


def stem(word: str, lang: str = "en") -> str:
    """The light stem of a folded word in ``lang`` (see the module docstring)."""
    return _STEMMERS.get(lang, _stem_en)(word)


def stemmer(lang: str) -> Callable[[str], str]:
    """:func:`stem` for one language, for loops over many words (one cache per language)."""
    return _STEMMERS.get(lang, _stem_en)


# One single-argument cache per language: the cache key is then the word itself, which keeps
# a large index's caches small and their lookups fast.
@functools.lru_cache(maxsize=1 << 17)
def _stem_en(word: str) -> str:
    if len(word) <= 3 or not word.isalpha() or word in _EN_STOPWORDS:
        return word
    return _english_plural(word)


@functools.lru_cache(maxsize=1 << 16)
def _stem_fr(word: str) -> str:
    if len(word) <= 3 or not word.isalpha() or word in STOPWORDS["fr"]:
        return word
    for suffix, replacement in _FR_FEMININE:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return str(_SNOWBALL["fr"].stemWord(word))


@functools.lru_cache(maxsize=1 << 16)
def _stem_es(word: str) -> str:
    if len(word) <= 3 or not word.isalpha() or word in STOPWORDS["es"]:
        return word
    return str(_SNOWBALL["es"].stemWord(word))


_STEMMERS: dict[str, Callable[[str], str]] = {"en": _stem_en, "fr": _stem_fr, "es": _stem_es}
_EN_STOPWORDS = STOPWORDS["en"]


def _english_plural(word: str) -> str:
    irregular = _IRREGULAR_PLURALS.get(word)
    if irregular is not None:
        return irregular
    if word in _NO_PLURAL:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")) or not word.endswith("s"):
        return word
    return word[:-1]


def english_forms(light_stem: str) -> tuple[str, ...]:
    """The words whose English light stem is ``light_stem``, among itself, its regular plurals
    and an irregular one: :func:`stem` undone, for whoever must find the words behind a stem."""
    irregular = [word for word, single in _IRREGULAR_PLURALS.items()
                 if single == light_stem and word != single]
    out = [light_stem, light_stem + "s", light_stem + "es", *irregular]
    if light_stem.endswith("y"):
        out.append(light_stem[:-1] + "ies")
    return tuple(w for w in out if stem(w, "en") == light_stem)

def root(term: str, lang: str = "en", strict: bool = False) -> str:
    """The word-family key of a light stem (loose for search, ``strict`` for topics).

    French and Spanish stems are already Snowball's families, so they are their own roots.
    """
    if lang != "en":
        return term
    return _root_strict(term) if strict else _root_loose(term)


@functools.lru_cache(maxsize=1 << 17)
def _root_loose(term: str) -> str:
    return _english_root(term, strict=False)


@functools.lru_cache(maxsize=1 << 16)
def _root_strict(term: str) -> str:
    return _english_root(term, strict=True)


def _english_root(term: str, strict: bool) -> str:
    if len(term) <= 3 or not term.isalpha():
        return term
    word = term
    if word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    else:
        suffixes, keep = (_STRICT_SUFFIXES, 4) if strict else (_LOOSE_SUFFIXES, 3)
        for suffix, replacement in suffixes:
            if word.endswith(suffix) and len(word) - len(suffix) >= keep:
                word = word[: -len(suffix)] + replacement
                break
        if word.endswith("e") and len(word) >= (5 if strict else 4):
            word = word[:-1]
    word = _SPELLING.get(word, word)
    if not strict and len(word) > 3 and word[-1] == word[-2] and word[-1] not in _KEEP_DOUBLE:
        word = word[:-1]
    return word


def match_key(word: str, lang: str = "en") -> str:
    """The strict key two words must share to match in topics: ``root(stem(w), strict=True)``."""
    return root(stem(word, lang), lang, strict=True)
