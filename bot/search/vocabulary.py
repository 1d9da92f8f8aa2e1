"""The index's vocabulary: the distinct terms, their word families and languages, and how a
query word finds the terms it means.

A query word is looked up exactly in each language's stem (a release's words are stemmed
in its own language; a query's, whose language is unknown, in each of en/fr/es, an fr/es
stem only meeting fr/es releases' terms), then by word family (:func:`bot.text.root`, so
``traffickers`` finds ``trafficking``), then by prefix, and only when all of that finds
nothing, fuzzily with rapidfuzz over the few hundred terms of a similar length (buckets by
length and first or last two letters: one typo cannot change both ends of a longer word).

A word family (a root) has a 4-byte code (:func:`encode_id`); releases' word sequences are
strings of these codes, which is how phrases are checked (:mod:`bot.search.phrases`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.search.fields import CLASS_WEIGHT, LANG_BIT
from bot.search.postings import Postings
from bot.text import ANY_STOPWORDS, LANGUAGES, root, stem

__all__ = ["SEPARATOR", "TermMatch", "Vocabulary", "decode_id", "encode_id"]

# Match quality of a vocabulary term for a query word, in percent.
EXACT, FAMILY, PREFIX = 100, 85, 75
# A fuzzy match's quality is its rapidfuzz ratio (0..100) times this: below prefix matches.
_FUZZY_FACTOR = 0.78
_FUZZY_MARGIN = 4
_FAMILY_OF_FUZZY = 0.85
_MAX_PREFIX_TERMS = 12
_MAX_FUZZY_TERMS = 8
# Terms up to this length are fuzzy-matched by length alone (see Vocabulary._closest).
_SHORT_WORD = 5


def encode_id(rid: int) -> bytes:
    """A root id as 4 bytes where only the first has its high bit set.

    A phrase is then a plain ``bytes in bytes`` test on a release's word sequence: a match
    can only start at the start of a word, never in the middle of one.
    """
    return bytes((0x80 | (rid >> 21) & 0x7F, (rid >> 14) & 0x7F, (rid >> 7) & 0x7F, rid & 0x7F))


def decode_id(code: bytes) -> int:
    """The root id of a 4-byte code made by :func:`encode_id`."""
    return (code[0] & 0x7F) << 21 | code[1] << 14 | code[2] << 7 | code[3]


SEPARATOR = encode_id(0)


@dataclass(slots=True)
class TermMatch:
    """One query term resolved against the vocabulary."""

    weighted: list[tuple[int, int]]  # (quality * field weight, bitset)
    matches: int  # bitset of all releases containing a variant
    roots: set[int]  # root ids of its variants, for phrases
    keys: list[int]  # its posting lists


class Vocabulary(Postings):
    """The terms of the index (see the module docstring), on top of its posting lists."""

    def __init__(self) -> None:
        super().__init__()
        self._term_id: dict[str, int] = {}
        self._terms: list[str] = []
        # Per term id, as int arrays (a list would hold an int object for most of them).
        self._term_root = array("i")
        self._df = array("i")
        self._classes = array("i")  # bitmask of the term's field classes with postings
        self._term_langs = array("i")  # bits of the languages it was indexed in
        self._joined: set[int] = set()  # term ids ever indexed as the joined form of a compound
        self._root_id: dict[str, int] = {"": 0}  # root id 0 separates title from summary
        # Per root id: how many releases have it in their word sequence (see phrases).
        self._root_df = array("i", [0])
        # term -> encoded root id: a memo for the build (see SearchIndex.CACHES), not saved.
        self._sequence_id: dict[str, bytes] = {}
        # root id -> its term ids: an int for a root with one term (almost all of them; a
        # 1-tuple each would cost 5 MB at 100,000 releases), else a tuple. See _family_of.
        self._family: dict[int, int | tuple[int, ...]] = {}
        # For fuzzy matching: short terms by length; longer ones by length and first two
        # letters, and by length and last two letters (with a negative length).
        self._by_length: dict[int, list[str]] = {}
        self._by_affix: dict[tuple[str, int], list[str]] = {}
        self._by_prefix: dict[str, array[int]] = {}  # first 4 letters -> term ids

    # -- growing ---------------------------------------------------------------------------------

    def _root_of(self, term: str) -> int:
        key = root(term)
        rid = self._root_id.get(key)
        if rid is None:
            rid = self._root_id[key] = len(self._root_id)
            self._root_df.append(0)
        return rid

    def _intern(self, term: str) -> int:
        tid = len(self._terms)
        rid = self._root_of(term)
        self._terms.append(term)
        self._term_root.append(rid)
        self._df.append(0)
        self._classes.append(0)
        self._term_langs.append(0)
        self._file_term(tid, term, rid)
        return tid

    def _file_term(self, tid: int, term: str, rid: int) -> None:
        """Enter a term in the lookup tables, which follow from ``_terms`` and
        ``_term_root`` alone (so a snapshot leaves them out: see :meth:`_rebuild_lookups`)."""
        self._term_id[term] = tid
        mates = self._family_of(rid)
        self._family[rid] = (*mates, tid) if mates else tid
        if term.isalpha():
            if len(term) <= _SHORT_WORD:
                self._by_length.setdefault(len(term), []).append(term)
            else:
                self._by_affix.setdefault((term[:2], len(term)), []).append(term)
                self._by_affix.setdefault((term[-2:], -len(term)), []).append(term)
            tids = self._by_prefix.get(term[:4])
            if tids is None:
                tids = self._by_prefix[term[:4]] = array("i")
            tids.append(tid)

    #: The lookup tables :meth:`_rebuild_lookups` makes.
    LOOKUPS = frozenset({"_term_id", "_family", "_by_length", "_by_affix", "_by_prefix"})

    def _rebuild_lookups(self) -> None:
        """Make the lookup tables again from the terms, in the order they were interned (as
        :meth:`_intern` made them). Cheaper in memory than saving them: each term string is
        then one object, shared by every table."""
        self._term_id = {}
        self._family = {}
        self._by_length = {}
        self._by_affix = {}
        self._by_prefix = {}
        for tid, (term, rid) in enumerate(zip(self._terms, self._term_root, strict=True)):
            self._file_term(tid, term, rid)

    # -- reading ---------------------------------------------------------------------------------

    def _sequence_code(self, term: str) -> bytes | None:
        """The code ``term`` has in the word sequences (its root's), None for an unknown root.

        Read-only, unlike the build's memo ``_sequence_id`` (not kept in a snapshot)."""
        rid = self._root_id.get(root(term))
        return None if rid is None else encode_id(rid)

    def _family_of(self, rid: int | None) -> tuple[int, ...]:
        """The term ids of a root (a word family), () for an unknown root."""
        mates = self._family.get(rid, ()) if rid is not None else ()
        return (mates,) if isinstance(mates, int) else mates

    def _query_languages(self) -> list[str]:
        """The languages a query word is stemmed in: English, and those the index holds."""
        return [lang for lang in LANGUAGES if lang == "en" or self._languages.get(lang)]

    def _variants(self, word: str) -> list[tuple[int, int]]:
        """Vocabulary terms that match a query word, as (term id, quality %).

        The word's English stem matches exactly or by family; its French and Spanish stems
        match exactly the terms of releases in those languages. Only when none of that finds
        anything, prefixes and typos of the English stem are tried.
        """
        df = self._df
        term = stem(word)
        tid = self._term_id.get(term)
        family_root = self._root_id.get(root(term))
        out: dict[int, int] = {}
        if tid is not None and df[tid]:
            out[tid] = EXACT
        for lang in self._query_languages()[1:]:
            other = self._term_id.get(stem(word, lang))
            if other is not None and df[other] and self._term_langs[other] & LANG_BIT[lang]:
                out[other] = EXACT
        if family_root is not None:
            for mate in self._family_of(family_root):
                if df[mate] and mate not in out:
                    out[mate] = FAMILY
        if out or not term.isalpha() or len(term) < 4:
            return list(out.items())
        prefixed = [
            t
            for t in self._by_prefix.get(term[:4], ())
            if df[t] and self._terms[t].startswith(term)
        ]
        if prefixed:
            prefixed.sort(key=lambda t: (-df[t], self._terms[t]))
            return [(t, PREFIX) for t in prefixed[:_MAX_PREFIX_TERMS]]
        for found, quality in self._fuzzy(term):
            for mate in self._family_of(self._term_root[found]):
                if df[mate]:
                    mate_quality = quality if mate == found else round(quality * _FAMILY_OF_FUZZY)
                    out[mate] = max(out.get(mate, 0), mate_quality)
        return list(out.items())

    def _fuzzy(self, term: str) -> list[tuple[int, int]]:
        """Terms a typo probably meant, as (term id, quality %): the near-best by similarity.

        Candidates are within 1 edit (2 from 7 letters on); of those, only the ones almost as
        similar as the best are kept, so "trafiking" means "trafficking", not also "training".
        """
        found = self._closest(term, 1 if len(term) <= 6 else 2)
        if not found:
            return []
        similarity = {tid: fuzz.ratio(term, self._terms[tid]) for tid, _ in found}
        best = max(similarity.values())
        kept = [tid for tid, _ in found if similarity[tid] >= best - _FUZZY_MARGIN]
        return [(tid, round(similarity[tid] * _FUZZY_FACTOR)) for tid in kept[:_MAX_FUZZY_TERMS]]

    def _closest(self, term: str, max_distance: int) -> list[tuple[int, int]]:
        """Live vocabulary terms within an edit distance (transpositions count 1), best first.

        Scans only the buckets that can hold them (see ``_by_affix``): a few hundred terms
        instead of the whole vocabulary, which is what keeps a typo under a millisecond.
        """
        buckets: list[list[str]] = []
        for length in range(len(term) - max_distance, len(term) + max_distance + 1):
            if length <= _SHORT_WORD:
                buckets.append(self._by_length.get(length, []))
            else:
                buckets.append(self._by_affix.get((term[:2], length), []))
                buckets.append(self._by_affix.get((term[-2:], -length), []))
        found: dict[int, int] = {}
        for bucket in buckets:
            if not bucket:
                continue
            for choice, distance, _ in process.extract(
                term, bucket, scorer=OSA.distance, score_cutoff=max_distance, limit=None
            ):
                tid = self._term_id[choice]
                if self._df[tid]:
                    found[tid] = int(distance)
        return sorted(
            found.items(), key=lambda pair: (pair[1], -self._df[pair[0]], self._terms[pair[0]])
        )

    def _match_term(self, term: str, for_phrase: bool = False) -> TermMatch:
        """A query word resolved against the vocabulary (a stop word only as a phrase's
        position)."""
        if for_phrase and term in ANY_STOPWORDS:
            rid = self._root_id.get(root(term))
            return TermMatch([], 0, {rid} if rid is not None else set(), [])
        weighted: list[tuple[int, int]] = []
        keys: list[int] = []
        matches = 0
        roots: set[int] = set()
        for tid, quality in self._variants(term):
            roots.add(self._term_root[tid])
            classes = self._classes[tid]
            for cls in range(classes.bit_length()):
                if classes >> cls & 1:
                    keys.append(tid * 16 + cls)
                    bits = self._bits_of(keys[-1])
                    weighted.append((quality * CLASS_WEIGHT[cls], bits))
                    matches |= bits
        return TermMatch(weighted, matches, roots, keys)
