"""The query language: words, ``"quoted phrases"``, ``-excluded`` words and ``key:value``
filters, parsed into a :class:`Query` (see :meth:`bot.search.SearchIndex.search`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from bot.i18n import gettext
from bot.text import ANY_STOPWORDS, LANGUAGES, fold, language_of, split_words, stem

__all__ = ["FILTER_KEYS", "QUERY_TOKEN", "Query", "QueryError", "filter_value", "parse_query",
           "words_of"]

FILTER_KEYS = frozenset({"place", "country", "since", "before", "kind", "lang"})
QUERY_TOKEN = re.compile(
    r'(?P<key>[A-Za-z]+):(?:"(?P<qval>[^"]*)"?|(?P<val>[^\s"]*))'
    r'|"(?P<phrase>[^"]*)"?'
    r'|(?P<word>[^\s"]+)'
)
_DATE_VALUE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


class QueryError(ValueError):
    """A malformed query (a bad filter value); the message is meant for the user."""


@dataclass(slots=True)
class Query:
    """A parsed query: free words, phrases and filters (all folded)."""

    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    #: ``-word``: releases containing it (after stemming, no typos) are left out.
    excluded: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    since: date | None = None
    before: date | None = None
    #: The words and phrases as typed (no filters, no exclusions): read as a topic, what
    #: the query may name in the topic taxonomy.
    topic_text: str = ""

    @property
    def has_filters(self) -> bool:
        """Whether any filter narrows the result."""
        return bool(self.places or self.countries or self.kinds or self.languages
                    or self.since or self.before)

    def terms(self) -> list[str]:
        """The distinct search words (folded, no stop words of any language) of words and
        phrases, in order. Stemming happens per language when they are looked up."""
        seen: dict[str, str] = {}  # English stem -> the first word with it ("worker workers")
        for word in [*self.words, *(w for phrase in self.phrases for w in phrase)]:
            if word not in ANY_STOPWORDS:
                seen.setdefault(stem(word), word)
        return list(seen.values())


def filter_value(match: re.Match[str]) -> str:
    """The folded value of a ``key:value`` token of :data:`QUERY_TOKEN`."""
    value = match.group("qval") if match.group("qval") is not None else match.group("val")
    return " ".join(fold(value or "").split())


def words_of(text: str) -> Iterator[str]:
    """The words of a text, hyphenated ones split in their parts."""
    for word in split_words(text):
        yield from word.split("-")


def _parse_date(key: str, value: str) -> date:
    match = _DATE_VALUE.match(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = (int(g) if g else 1 for g in match.groups())
        return date(year, month, day)
    except ValueError:
        raise QueryError(gettext("{key}: expects a date like 2004-09 or 2004-09-15")
                         .format(key=key)) from None


def parse_query(text: str) -> Query:
    """Split a query into words, quoted phrases and ``key:value`` filters."""
    query = Query()
    typed: list[str] = []
    for match in QUERY_TOKEN.finditer(text):
        key = (match.group("key") or "").lower()
        if key in FILTER_KEYS:
            value = filter_value(match)
            if not value:
                example = {"since": "2004-09", "before": "2004-10-01", "kind": "advisory"}
                raise QueryError(gettext("{key}: needs a value, e.g. {example}").format(
                    key=key, example=f"{key}:{example.get(key, 'geneva')}"))
            if key == "since":
                when = _parse_date(key, value)
                query.since = when if query.since is None else max(query.since, when)
            elif key == "before":
                when = _parse_date(key, value)
                query.before = when if query.before is None else min(query.before, when)
            elif key == "place":
                query.places.append(value)
            elif key == "country":
                query.countries.append(value)
            elif key == "lang":
                lang = language_of(value)
                if lang is None:
                    raise QueryError(gettext("lang: expects one of {languages}, e.g. lang:fr")
                                     .format(languages=", ".join(LANGUAGES)))
                query.languages.append(lang)
            else:
                query.kinds.append(value)
        elif match.group("phrase") is not None:
            typed.append(f'"{match.group("phrase")}"')
            words = list(words_of(match.group("phrase")))
            if len(words) > 1:
                query.phrases.append(words)
            else:
                query.words.extend(words)
        elif match.group(0).startswith("-") and len(match.group(0)) > 1:
            query.excluded.extend(w for word in split_words(match.group(0)[1:])
                                  for w in word.split("-") if w)
        else:
            typed.append(match.group(0))
            for word in split_words(match.group(0)):
                parts = word.split("-")
                query.words.extend(parts)
                if len(parts) > 1:
                    # "low-cost" means the words together, like a quoted phrase.
                    query.phrases.append(parts)
    query.topic_text = " ".join(typed)
    return query
