"""Folding and tokenising: the one way text becomes words, for search and topics alike.

- :func:`fold` lower-cases and strips accents (``"Genève"`` -> ``"geneve"``).
- :func:`split_words` gives folded words with hyphenated compounds kept whole.
- :func:`tokenize` gives folded words, a hyphenated compound yielding its parts.

Apostrophes: an English possessive ``'s`` is dropped (``"Mongolia's"`` -> ``mongolia``); a
French elision is dropped with its apostrophe (``"l'emploi"`` -> ``emploi``, ``"d'enfants"``
-> ``enfants``); any other apostrophe joins the word (``"don't"`` -> ``dont``), since searchers
type neither. The rules do not depend on the text's language, so a query (whose language is
unknown) splits exactly like the releases it should find.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose into a base letter plus marks.
_EXTRA_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ß": "ss"}
)
# Typographic apostrophes and hyphens, so "Children’s" and "Inner‑Mongolia" tokenize like ASCII.
_PUNCT_FOLD = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "‐": "-", "‑": "-"}
)
_POSSESSIVE = re.compile(r"(?<=[^\W_])'s\b")
# French elisions: l', d', j', m', n', s', t', c', qu', jusqu', lorsqu', puisqu' before a word.
_ELISION = re.compile(r"\b(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)'(?=[^\W_])")
# A word, or several joined by hyphens with no spaces ("low-cost", "Inner-Mongolia").
_COMPOUND = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def fold(text: str) -> str:
    """Lower-case, accent-free text: the form every comparison uses."""
    if text.isascii():  # the common case, and ten times faster than decomposing
        return text.lower().replace("`", "'")
    text = unicodedata.normalize("NFKD", text.translate(_PUNCT_FOLD))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold().translate(_EXTRA_FOLD)


def split_words(text: str) -> list[str]:
    """Folded words with hyphenated compounds kept whole (``"inner-mongolia"``)."""
    folded = fold(text)
    if "'" in folded:
        folded = _POSSESSIVE.sub("", folded)
        folded = _ELISION.sub("", folded).replace("'", "")
    return _COMPOUND.findall(folded)


def tokenize(text: str) -> list[str]:
    """Folded word tokens in order; a hyphenated word yields its parts (``low``, ``cost``)."""
    out: list[str] = []
    for word in split_words(text):
        if "-" in word:
            out.extend(word.split("-"))
        else:
            out.append(word)
    return out
