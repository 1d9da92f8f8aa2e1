"""Typo tolerance for word matching: how far a typed word may be from a release's word.

Topic matching uses it word by word (search keeps its own, vocabulary-wide fuzzy lookup
with rapidfuzz, tuned for ranking rather than yes/no).
"""

from __future__ import annotations

from rapidfuzz.distance import OSA, Indel


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
