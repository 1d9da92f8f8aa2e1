"""A topic term as matching sees it: its content words, each with its strict key.

Topics analyse text with :mod:`bot.text` only (the analysis search uses too); this module
just shapes the result into the word sequences that parsing, the taxonomy and matching share.
"""

from __future__ import annotations

from bot.search.occurrences import Alt, Seq
from bot.text import ANY_STOPWORDS, LANGUAGES, match_key
from bot.text import tokenize as words

__all__ = ["STOPWORDS", "Alt", "Seq", "alternatives", "content", "keys_of", "trim_stopwords",
           "words"]

# Topic words and release words drop the stop words of every language alike, so that a
# phrase's words are adjacent on both sides whatever the language ("travail des enfants").
STOPWORDS = ANY_STOPWORDS


def content(text: str, lang: str = "en") -> Seq:
    """The (word, key) pairs of ``text`` that matter for matching (stopwords dropped), keyed
    in ``lang``."""
    return tuple((w, match_key(w, lang)) for w in words(text) if w not in STOPWORDS)


def alternatives(text: str) -> tuple[Alt, ...]:
    """A term typed by a user (language unknown): its content keyed in every language."""
    return tuple((lang, content(text, lang)) for lang in LANGUAGES)


def keys_of(seq: Seq) -> tuple[str, ...]:
    """The keys of a term's words, in order (what two spellings of a term share)."""
    return tuple(s for _, s in seq)


def trim_stopwords(tokens: list[str]) -> list[str]:
    """Drop stopwords at either end of a phrase ("the coal mine" is "coal mine")."""
    start, end = 0, len(tokens)
    while start < end and tokens[start] in STOPWORDS:
        start += 1
    while end > start and tokens[end - 1] in STOPWORDS:
        end -= 1
    return tokens[start:end]
