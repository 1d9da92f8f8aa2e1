"""The word rules of topic matching: folding, tokens, a light stemmer and typo distance.

Private to :mod:`bot.topics`. It lives apart so that the rules a user meets ("workers" is
"worker", "Genève" is "geneve", "trafiking" is close to "trafficking") can be read and tested
in one place, and because the search module keeps its own tokenizer: alerts need precision
(a wrong alert is pushed to a phone), search may be looser (a wrong hit is merely ranked low).

The stemmer is applied identically to topics, taxonomy synonyms and release text, so it only
needs to be *consistent*, not linguistically right: "beijing" stems to "beij" and nobody cares,
as long as two unrelated words do not land on the same stem.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import OSA, Indel

from bot.textnorm import fold

#: Words ignored inside multi-word topics and release text. Kept short on purpose: every word
#: here is one a user can never subscribe to.
STOPWORDS = frozenset({
    "a", "an", "and", "or", "of", "the", "in", "on", "for", "to", "at", "by", "with", "from",
    "as", "is", "are", "be", "it", "its",
})

_APOSTROPHES = "'’‘`´ʼ"
# "Mongolia's" and "Children’s" name the same thing as "Mongolia" and "Children".
_POSSESSIVE = re.compile(rf"(?<=[^\W_])[{_APOSTROPHES}]s\b")
# Other apostrophes inside a word join it ("don't" -> "dont") rather than split it.
_INNER_APOSTROPHE = re.compile(rf"(?<=[^\W_])[{_APOSTROPHES}](?=[^\W_])")
_WORD = re.compile(r"[^\W_]+")

# Irregular plurals the suffix rules cannot reach.
_IRREGULAR = {"children": "child", "women": "woman", "men": "man", "people": "person"}
# Words whose final "s" is not a plural; stripping it would merge them with other words.
_INVARIANT = frozenset({"news", "series", "species", "means", "always", "perhaps"})
# US and UK spellings of the same stem, applied last so inflected forms meet as well.
_SPELLING = {"labor": "labour", "program": "programm", "organiz": "organis",
             "organization": "organisation"}


def words(text: str) -> list[str]:
    """The folded words of ``text``, split on anything that is not a letter or digit.

    ``"Inner-Mongolia"`` gives ``["inner", "mongolia"]``; possessive ``'s`` is dropped.
    """
    text = _INNER_APOSTROPHE.sub("", _POSSESSIVE.sub("", fold(text)))
    return _WORD.findall(text)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, conservative stem of one folded word.

    Strips plurals (``workers`` -> ``worker``, ``countries`` -> ``country``), then one of
    ``-ing``/``-ed``/``-er`` and a final ``-e`` only when at least four letters remain, so
    ``trafficking``, ``trafficked`` and ``traffickers`` meet at ``traffick`` and ``training``
    and ``trainers`` at ``train``, while short words keep their identity: ``mining``,
    ``miner`` and ``mine`` stay three different stems (the taxonomy joins them on purpose,
    so that a plain word match never drifts from "mining" to "minister" or "mind").
    Words with digits are returned unchanged.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _INVARIANT:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ied") and len(word) > 4:
        return _SPELLING.get(word[:-3] + "y", word[:-3] + "y")
    elif word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return _SPELLING.get(word, word)


def typo_budget(length: int) -> int:
    """How many edits a word of ``length`` letters may be off: 0 below 5, 1 up to 7, else 2."""
    if length < 5:
        return 0
    return 1 if length < 8 else 2


def _close(a: str, b: str) -> int | None:
    """Edits between two spellings if they are within the typo budget of the shorter one.

    One edit may be anything, a swap of neighbours included ("constructoin"). The second edit
    allowed to words of eight letters or more must be another dropped or doubled letter
    ("trafiking" for "trafficking"): letting it be a change as well would make "trafiking"
    match "training", and typing two wrong letters is rarer than leaving two out.
    """
    budget = typo_budget(min(len(a), len(b)))
    if not budget or abs(len(a) - len(b)) > budget:
        return None
    if (distance := OSA.distance(a, b, score_cutoff=1)) <= 1:
        return distance
    if budget == 2 and Indel.distance(a, b, score_cutoff=2) <= 2:
        return 2
    return None


def typo_distance(word: str, word_stem: str, other: str, other_stem: str) -> int | None:
    """How far apart two words are for matching purposes, or None if they do not match.

    0 when the stems are equal. Otherwise both must be alphabetic, start with the same letter
    (a cheap rule that removes most false friends: "mining" is not "dining") and be close by
    :func:`_close` as written or as stems; so short words ("osh", "lao", "mine") only ever
    match exactly.
    """
    if word_stem == other_stem:
        return 0
    if not word or not other or word[0] != other[0] or not (word.isalpha() and other.isalpha()):
        return None
    found = [d for d in (_close(word, other), _close(word_stem, other_stem)) if d is not None]
    return min(found) if found else None
