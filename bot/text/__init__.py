"""One word analysis for search and topics: folding, tokens, stop words, stems, countries.

The pipeline a text goes through, in both the search index and topic matching:

1. :func:`fold` / :func:`tokenize` (:mod:`bot.text.words`): case, accents, apostrophes,
   hyphens; language-independent, so a query splits like the releases it should find.
2. :func:`is_stopword` (:mod:`bot.text.stopwords`): per language (``en``, ``fr``, ``es``).
3. :func:`stem` and :func:`root` (:mod:`bot.text.stem`): light stems and word families per
   language; topics use the strict family (:func:`match_key`), search the loose one.
4. :func:`typo_distance` (:mod:`bot.text.typos`): typo tolerance for topic words.
5. :func:`find_countries` (:mod:`bot.text.countries`, table in ``countries.toml``).
"""

from bot.text.countries import COUNTRIES, COUNTRY_NAMES, countries_in, country_of, find_countries
from bot.text.languages import DEFAULT_LANGUAGE, LANGUAGES, language_of
from bot.text.stem import match_key, root, stem, stemmer
from bot.text.stopwords import ANY_STOPWORDS, STOPWORDS, is_stopword
from bot.text.typos import typo_budget, typo_distance
from bot.text.words import fold, split_words, tokenize

__all__ = [
    "ANY_STOPWORDS",
    "COUNTRIES",
    "COUNTRY_NAMES",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "STOPWORDS",
    "countries_in",
    "country_of",
    "find_countries",
    "fold",
    "is_stopword",
    "language_of",
    "match_key",
    "root",
    "split_words",
    "stem",
    "stemmer",
    "tokenize",
    "typo_budget",
    "typo_distance",
]
