"""What one release gives the index: its terms by field class, its word sequence, its filter
values. Pure (no index state), so it runs outside the index's lock.

The words themselves come from the one word analysis, :mod:`bot.text`; this module decides
only *where* a term was seen (title, metadata, summary; whole or inside a hyphenated word)
and how much that counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.releases import Release
from bot.text import COUNTRY_NAMES, LANGUAGES, STOPWORDS, countries_in, fold, split_words, stemmer

__all__ = ["CLASS_WEIGHT", "FIELD_WEIGHT", "LANG_BIT", "META", "SUMMARY", "TITLE", "Analysis",
           "analyze"]

# Field classes of a (term, release) pair. A class is field * 4 + part * 2 + multi, where
# "part" means the term occurred only inside a hyphenated word (Inner-Mongolia is not
# Mongolia) and "multi" that it occurred in more than one field (a sign it is central).
TITLE, META, SUMMARY = 0, 1, 2
FIELD_WEIGHT = (90, 75, 60)
_PART_FACTOR = 0.7
_MULTI_BONUS = 10
CLASS_WEIGHT = tuple(
    round(FIELD_WEIGHT[c >> 2] * (_PART_FACTOR if c & 2 else 1.0)) + (_MULTI_BONUS if c & 1 else 0)
    for c in range(12)
)

# A bit per language, for the languages a vocabulary term was seen in.
LANG_BIT = {lang: 1 << i for i, lang in enumerate(LANGUAGES)}


@dataclass(slots=True)
class Analysis:
    """What indexing needs from one release; computed without touching the index."""

    classes: dict[str, int]
    sequence: list[str]
    countries: list[str]
    place: str | None
    kind: str
    lang: str
    #: The release's own topics, folded like ``place`` (each a filter-like key, so that what
    #: a topic term matches in them is settled per distinct value: bot.search.occurrences).
    topics: list[str]
    #: Terms that are joined forms of hyphenated words here ("lowcost" for "low-cost"): no
    #: word of the text itself, which topic counts must know (see bot.topiccount).
    joined: set[str]


# The one-word names ("vietnam", "laos") people type for a country, added to its releases.
_ONE_WORD_NAMES: dict[str, list[str]] = {}
for _name, _country in COUNTRY_NAMES.items():
    if " " not in _name:
        _ONE_WORD_NAMES.setdefault(_country, []).append(_name)


def _field_terms(words: list[str], sequence: list[str] | None, lang: str,
                 joined: set[str] | None = None) -> dict[str, int]:
    """Terms of one field -> 0 if seen as a whole word, 2 if only inside hyphenated words.

    Appends the field's terms, stop words included, to ``sequence`` when one is given, and
    the joined forms of hyphenated words ("lowcost") to ``joined``.
    """
    found: dict[str, int] = {}
    stopwords = STOPWORDS[lang]
    stem_of = stemmer(lang)
    for word in words:
        if "-" not in word:
            term = stem_of(word)
            if sequence is not None:
                sequence.append(term)
            if term not in stopwords:
                found[term] = 0
            continue
        parts = word.split("-")
        for part in parts:
            term = stem_of(part)
            if sequence is not None:
                sequence.append(term)
            if term not in stopwords and term:
                found.setdefault(term, 2)
        # The joined form too, so "innermongolia" or "lowcost" find it.
        found[stem_of("".join(parts))] = 0
        if joined is not None:
            joined.add(stem_of("".join(parts)))
    return found


def analyze(release: Release) -> Analysis:
    lang = release.language if release.language in STOPWORDS else "en"
    title_words = split_words(release.title)
    summary_words = split_words(release.summary)
    meta_words = split_words(" ; ".join([release.place or "", release.kind, *release.topics]))
    countries = countries_in([*title_words, ";", *summary_words, ";", *meta_words])
    for country in countries:
        meta_words.extend(split_words(country))
        meta_words.extend(_ONE_WORD_NAMES.get(country, ()))
    sequence: list[str] = []
    joined: set[str] = set()
    title = _field_terms(title_words, sequence, lang, joined)
    sequence.append("")  # a phrase never runs from the title into the summary
    summary = _field_terms(summary_words, sequence, lang, joined)
    meta = _field_terms(meta_words, None, lang, joined)
    classes: dict[str, int] = {}
    # Best field first: a term keeps the class of the first field it is found in.
    for where, terms in ((TITLE, title), (META, meta), (SUMMARY, summary)):
        for term, part in terms.items():
            if term in classes:
                classes[term] |= 1  # seen in more than one field
            else:
                classes[term] = where * 4 + part
    place = _folded(release.place) if release.place else None
    topics = list(dict.fromkeys(_folded(topic) for topic in release.topics))
    return Analysis(classes, sequence, countries, place, _folded(release.kind), lang, topics,
                    joined)


def _folded(value: str) -> str:
    """A field's value as a filter key: folded, spaces normalised."""
    return " ".join(fold(value).split())
