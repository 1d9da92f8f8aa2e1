"""Stop words per language: function words that are not indexed or matched as terms.

They still count as positions, so a quoted phrase like "safety and health" works. The lists
are folded (no accents) because they are compared with folded words. Words that are also
ordinary English words ("son", "sin") are left out of the French and Spanish lists, since a
query's language is unknown and a query drops the stop words of every language.
"""

from __future__ import annotations

from bot.text.languages import LANGUAGES

_LISTS = {
    "en": """
        a an the of to in on at by for from with as into onto about over under and or but
        nor is are was were be been being am has have had do does did its it this that these
        those their there then than so such also both either neither any all each other s
    """,
    "fr": """
        le la les l un une des du de d et ou au aux en dans par pour sur avec sans ce ces cet
        cette se sa ses leur leurs qui que qu ne pas est sont ete etre il elle ils elles nous
        vous on y lui dont entre chez aussi ont
    """,
    "es": """
        el la los las un una unos unas de del al y o u e en con por para sobre entre que se
        su sus es fue lo le les como mas pero este esta estos estas ese esa han ha sido ser
        muy tambien cual
    """,
}

#: Stop words of each language.
STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(_LISTS[lang].split()) for lang in LANGUAGES
}
#: Stop words of any language: what a query (language unknown) leaves out.
ANY_STOPWORDS: frozenset[str] = frozenset().union(*STOPWORDS.values())


def is_stopword(word: str, lang: str | None = None) -> bool:
    """Whether a folded word is a stop word in ``lang`` (in any language when None)."""
    if lang is None:
        return word in ANY_STOPWORDS
    return word in STOPWORDS.get(lang, ANY_STOPWORDS)
