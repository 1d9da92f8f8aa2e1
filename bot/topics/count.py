"""How many releases a topic matches, counted on the search index: complete, and equal to
what :class:`bot.topics.TopicMatcher` says release by release.

A topic compiles to a boolean form (:meth:`TopicMatcher.compile`): every include term is
one of a few alternatives (language, words), no exclusion may occur. Each alternative is
evaluated on the index's postings as two bitsets:

* **sure**: releases that certainly contain it. A word's postings are keyed by its light
  stem; the topic key is a function of that stem (``match_key``), so every vocabulary term
  with the wanted key gives its releases, restricted to the alternative's language. Postings
  found in the title or summary are sure; those found only in the "meta" fields (place,
  kind, topics, countries: topics read place and topics, not kind or countries) and joined
  forms of hyphenated words ("lowcost", which topics never see) are not.
* **maybe**: releases it may contain: the rest of those, releases with a typo of a word
  (topics forgive typos; candidates are the vocabulary terms a typo could hide behind), and
  for phrases the releases with every word whose word sequence does not settle adjacency.
  Phrases are settled on the index's word sequences (title and summary) when every word's
  family code stands for the wanted key only and the words between are stop words.

Only "maybe" releases inside the topic's candidates are checked one by one with the matcher
itself (:meth:`PreparedRelease.contains`), so the answer is exact and the cost grows with
the doubtful releases, not with the archive. Results per alternative are cached until the
index changes.

Known approximation, on the side of the matcher's answer being counted late rather than
wrong: French and Spanish typo candidates are found by their stems only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.search import SearchIndex
from bot.search.bitsets import bits_from as _bits_from
from bot.search.bitsets import members as _members
from bot.search.vocabulary import decode_id as _decode_id
from bot.text import ANY_STOPWORDS, LANGUAGES, root, stem, typo_budget, typo_distance
from bot.text.stem import english_forms
from bot.topics.matcher import TopicMatcher
from bot.topics.prepared import PreparedRelease
from bot.topics.terms import Seq
from bot.topics.topic import Topic

# Field classes of a posting (see bot.search): field * 4 + part * 2 + multi; fields are
# title 0, meta 1, summary 2. Meta without "multi" is meta only; title with "multi" may be
# title + meta.
_META_ONLY = frozenset({4, 6})
_MAYBE_META = frozenset({1, 3, 4, 5, 6, 7})
_LANG_BIT = {lang: 1 << i for i, lang in enumerate(LANGUAGES)}



def _key(term: str, lang: str) -> str:
    """The topic key of an indexed term (a light stem in ``lang``)."""
    return root(term, lang, strict=True)


@dataclass(slots=True)
class _Alt:
    """An alternative's releases: sure ones, doubtful ones (checked with the matcher), and
    those it can only be in through place or topics (checked on those fields alone)."""

    sure: int
    maybe: int
    meta: int = 0


class TopicCounter:
    """Counts topics on one search index (thread-safe; call from worker threads)."""

    def __init__(self, index: SearchIndex, matcher: TopicMatcher) -> None:
        self.index = index
        self.matcher = matcher
        self._lock = threading.Lock()
        self._terms_seen: object = None
        self._keyed = 0
        self._en_keys: dict[str, list[int]] = {}
        self._letters: dict[str, list[str]] = {}
        self._letter_keys: dict[str, list[str]] = {}
        self._stop_terms = {lang: frozenset(stem(w, lang) for w in ANY_STOPWORDS)
                            for lang in LANGUAGES}
        self._stop_codes: dict[str, tuple[bytes, bytes]] = {}
        self._generation = -1
        self._alts: dict[tuple[str, Seq, bool], _Alt] = {}
        # (word, key, language) -> (vocabulary size when found, term ids)
        self._typos: dict[tuple[str, str, str], tuple[int, list[int]]] = {}

    # -- public ---------------------------------------------------------------------------

    def counts(self, topics: Sequence[Topic]) -> list[int]:
        """How many indexed releases each topic matches."""
        with self._lock:
            return [self._count(topic) for topic in topics]

    # -- evaluation -----------------------------------------------------------------------

    def _count(self, topic: Topic) -> int:
        index = self.index
        if not topic.include:
            return len(index)
        form = self.matcher.compile(topic)
        with index._lock:
            self._sync()
            include = [[(lang, seq, self._alt(lang, seq, True)) for lang, seq in alts]
                       for alts in form.include]
            exclude = [(lang, seq, self._alt(lang, seq, False)) for lang, seq in form.exclude]
            within = index._live
            for alts in include:
                any_alt = 0
                for _, _, alt in alts:
                    any_alt |= alt.sure | alt.maybe | alt.meta
                within &= any_alt
            for _, _, alt in exclude:
                within &= ~alt.sure
            # The doubtful releases, read under the lock; checked outside it.
            doubts = {
                (lang, seq, fuzzy): (
                    [(slot, index._releases[slot]) for slot in _members(alt.maybe & within)],
                    [(slot, index._releases[slot])
                     for slot in _members(alt.meta & ~alt.maybe & within)])
                for fuzzy, group in ((True, [a for alts in include for a in alts]),
                                     (False, exclude))
                for lang, seq, alt in group if (alt.maybe | alt.meta) & within
            }
        found: dict[tuple[str, Seq, bool], int] = {}
        for (lang, seq, fuzzy), (whole, meta) in doubts.items():
            yes = [slot for slot, release in whole if release is not None
                   and self.matcher.prepare(release).contains(seq, fuzzy=fuzzy)]
            # Not in its title or summary (the index says so): only place and topics are left.
            yes += [slot for slot, release in meta if release is not None
                    and PreparedRelease(replace(release, title="", summary="")).contains(
                        seq, fuzzy=fuzzy)]
            found[(lang, seq, fuzzy)] = _bits_from(yes)
        result = within
        for alts in include:
            any_alt = 0
            for lang, seq, alt in alts:
                any_alt |= alt.sure | found.get((lang, seq, True), 0)
            result &= any_alt
        for lang, seq, alt in exclude:
            result &= ~(alt.sure | found.get((lang, seq, False), 0))
        return result.bit_count()

    def _sync(self) -> None:
        """Catch up with the index's vocabulary (terms are only ever appended)."""
        index = self.index
        if index._terms is not self._terms_seen:  # a restored snapshot: start afresh
            self._terms_seen = index._terms
            self._keyed = 0
            self._en_keys, self._letters, self._letter_keys = {}, {}, {}
            self._typos = {}
        terms = index._terms
        for tid in range(self._keyed, len(terms)):
            term = terms[tid]
            self._en_keys.setdefault(_key(term, "en"), []).append(tid)
            if term.isalpha() and len(term) >= 3:
                self._letters.setdefault(term[0], []).append(term)
                self._letter_keys.setdefault(term[0], []).append(_key(term, "en"))
        self._keyed = len(terms)
        if index._generation != self._generation:
            self._generation = index._generation
            self._alts = {}
            self._stop_codes = {lang: self._stops(lang) for lang in LANGUAGES}

    def _stops(self, lang: str) -> tuple[bytes, bytes]:
        """Regex alternations of the sequence codes of stop words in ``lang``: those that
        are surely stop words, and those that may be."""
        index, stop_terms = self.index, self._stop_terms[lang]
        sure, maybe = set(), set()
        for term in stop_terms:
            code = index._sequence_code(term)
            if code is None:
                continue
            maybe.add(code)
            family = index._family_of(_decode_id(code))
            if all(index._terms[t] in stop_terms for t in family):
                sure.add(code)
        return _alternation(sure), _alternation(maybe)

    def _exact(self, key: str, lang: str) -> list[int]:
        """Term ids whose topic key in ``lang`` is ``key`` (and seen in that language)."""
        index = self.index
        if lang == "en":
            tids = self._en_keys.get(key, [])
        else:
            tid = index._term_id.get(key)
            tids = [] if tid is None else [tid]
        bit = _LANG_BIT[lang]
        return [t for t in tids if index._term_langs[t] & bit and index._df[t]]

    def _typo(self, word: str, key: str, lang: str) -> list[int]:
        """Term ids not of ``key`` that may stand for a release word within a typo of ``word``
        (a superset: what they hold is checked release by release)."""
        cache_key = (word, key, lang)
        cached = self._typos.get(cache_key)
        if cached is not None and cached[0] == self._keyed:
            return cached[1]
        index = self.index
        budget = typo_budget(len(word))
        found: list[int] = []
        if budget and word.isalpha():
            bucket = self._letters.get(word[0], [])
            near = {c for c, _, _ in process.extract(
                word, bucket, scorer=Levenshtein.distance, score_cutoff=2 * budget + 3,
                limit=None)}
            keys = self._letter_keys.get(word[0], []) if lang == "en" else bucket
            near.update(bucket[i] for _, _, i in process.extract(
                key, keys, scorer=Levenshtein.distance, score_cutoff=2 * budget, limit=None))
            exact = set(self._exact(key, lang))
            bit = _LANG_BIT[lang]
            for term in near:
                tid = index._term_id[term]
                if tid in exact or not index._term_langs[tid] & bit or not index._df[tid]:
                    continue
                term_key = _key(term, lang)
                words = english_forms(term) if lang == "en" else (term,)
                if any(len(w) >= 5 and w.isalpha()
                       and typo_distance(word, key, w, term_key) is not None for w in words):
                    found.append(tid)
        self._typos[cache_key] = (self._keyed, found)
        return found

    def _postings(self, tids: list[int], classes: frozenset[int] | None = None) -> int:
        index = self.index
        bits = 0
        for tid in tids:
            mask = index._classes[tid]
            for cls in range(mask.bit_length()):
                if mask >> cls & 1 and (classes is None or cls in classes):
                    bits |= index._bits_of(tid * 16 + cls)
        return bits

    def _alt(self, lang: str, seq: Seq, fuzzy: bool) -> _Alt:
        cache_key = (lang, seq, fuzzy)
        alt = self._alts.get(cache_key)
        if alt is None:
            alt = self._alts[cache_key] = (self._word(lang, seq[0], fuzzy) if len(seq) == 1
                                           else self._phrase(lang, seq, fuzzy))
        return alt

    def _word(self, lang: str, pair: tuple[str, str], fuzzy: bool) -> _Alt:
        index = self.index
        word, key = pair
        sure = maybe = meta = 0
        typos = self._typo(word, key, lang) if fuzzy else []
        sure_typos = {tid for tid in typos if self._typo_sure(word, key, lang, tid)}
        for tid in [*self._exact(key, lang), *typos]:
            mask = index._classes[tid]
            doubtful = tid in index._joined or (tid in typos and tid not in sure_typos)
            for cls in range(mask.bit_length()):
                if mask >> cls & 1:
                    bits = index._bits_of(tid * 16 + cls)
                    if doubtful:
                        maybe |= bits
                    elif cls in _META_ONLY:
                        meta |= bits
                    else:
                        sure |= bits
        in_lang = index._bits_of(("lang", lang))
        sure &= in_lang
        return _Alt(sure, maybe & in_lang & ~sure, meta & in_lang & ~sure)

    def _typo_sure(self, word: str, key: str, lang: str, tid: int) -> bool:
        """Whether every word the term may come from is within a typo of ``word``."""
        if lang != "en":
            return False
        term = self.index._terms[tid]
        return all(len(w) >= 5 and w.isalpha()
                   and typo_distance(word, key, w, _key(term, lang)) is not None
                   for w in english_forms(term))

    def _phrase(self, lang: str, seq: Seq, fuzzy: bool) -> _Alt:
        index = self.index
        in_lang = index._bits_of(("lang", lang))
        exact_all = candidates = in_lang
        meta = in_lang
        impure = 0
        sure_codes: list[bytes] = []
        maybe_codes: list[bytes] = []
        for word, key in seq:
            exact = self._exact(key, lang)
            typos = self._typo(word, key, lang) if fuzzy else []
            exact_bits = self._postings(exact)
            exact_all &= exact_bits
            candidates &= exact_bits | self._postings(typos)
            meta &= self._postings(exact + typos, _MAYBE_META)
            codes, others = self._codes(exact, key, lang)
            # A release with another word of the same family code: the code proves nothing.
            impure |= self._postings(others)
            sure_codes.append(_alternation(codes))
            maybe_codes.append(_alternation(codes | self._codes(typos, key, lang)[0]))
        if not candidates:
            return _Alt(0, 0)
        sure_stops, maybe_stops = self._stop_codes[lang]
        sure_re = _phrase_re(sure_codes, sure_stops)
        maybe_re = _phrase_re(maybe_codes, maybe_stops)
        sequences = index._sequences
        provable = exact_all & ~impure
        sure, maybe, in_meta = [], [], []
        for slot in _members(candidates):
            sequence = sequences[slot]
            if sure_re is not None and provable >> slot & 1 and sure_re.search(sequence):
                sure.append(slot)
            elif maybe_re is not None and maybe_re.search(sequence):
                maybe.append(slot)
            elif meta >> slot & 1:
                in_meta.append(slot)
        return _Alt(_bits_from(sure), _bits_from(maybe), _bits_from(in_meta))

    def _codes(self, tids: list[int], key: str, lang: str) -> tuple[set[bytes], list[int]]:
        """Sequence codes of these terms, and the other terms sharing those codes (another
        key, or a stop word): a release without those has these words where it has a code."""
        index = self.index
        stop_terms = self._stop_terms[lang]
        codes: set[bytes] = set()
        others: list[int] = []
        for tid in tids:
            code = index._sequence_code(index._terms[tid])
            if code is None or code in codes:
                continue
            codes.add(code)
            others.extend(t for t in index._family_of(_decode_id(code))
                          if _key(index._terms[t], lang) != key or index._terms[t] in stop_terms)
        return codes, others


def _alternation(codes: set[bytes]) -> bytes:
    return b"|".join(re.escape(code) for code in sorted(codes))


def _phrase_re(words: list[bytes], stops: bytes) -> re.Pattern[bytes] | None:
    """Words' codes in order with only stop words between; None if a word has no code."""
    if not all(words):
        return None
    gap = b"(?:" + stops + b")*" if stops else b""
    return re.compile(gap.join(b"(?:" + w + b")" for w in words))
