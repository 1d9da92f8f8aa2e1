"""Which releases a boolean form of terms matches, by the topic rule, evaluated on the index:
complete, and equal to what that rule says release by release.

One rule decides where a term occurs: the topic rule (:mod:`bot.topics`; strict word keys in
the release's language, typos forgiven, title, summary, place and the release's own topics
read, a phrase's words adjacent once stop words are dropped). Topic counts (``/subscribe``,
``/topics``) and search's taxonomy expansion (``/search OSH``) both ask this module, so they
cannot disagree with each other or with the alerts.

A :class:`TermForm` is what a topic compiles to: every include group is a few alternatives
(language, words), one of which must occur; no exclusion may occur (exactly). Each
alternative is evaluated on the index's postings as bitsets:

* **sure**: releases that certainly contain it. A word's postings are keyed by its light
  stem; the topic key is a function of that stem (``root(stem, strict=True)``), so every
  vocabulary term with the wanted key gives its releases, restricted to the alternative's
  language. Postings found in the title or summary are sure; those found only in the "meta"
  fields (place, kind, topics, countries: the rule reads place and topics, not kind or
  countries) and joined forms of hyphenated words ("lowcost", which the rule never sees) are
  not.
* **maybe**: releases it may contain: the rest of those, releases with a typo of a word
  (candidates are the vocabulary terms a typo could hide behind), and for phrases the
  releases with every word whose word sequence does not settle adjacency. Phrases are
  settled on the index's word sequences (title and summary) when every word's family code
  stands for the wanted key only and the words between are stop words.

Only "maybe" releases inside the form's candidates are checked one by one with the rule
itself (a :data:`Contains` the caller gives), so the answer is exact and the cost grows with
the doubtful releases, not with the archive. That check is the expensive part (a third of a
millisecond a release; thousands for a big taxonomy entry at 100,000 releases), so it runs
without the index's lock (:meth:`Plan.settle`) and its verdicts are kept
(:meth:`Occurrences.record`).

Each alternative's sets are kept across index changes: whether a release holds a term
depends on that release alone, and a slot's release never changes (an update takes a new
slot, and slots are never reused). Releases added since an alternative was evaluated are
simply doubtful: the index checks them with the rule right after adding them
(:meth:`Occurrences.catch_up`), or a form does when it needs them; only past
:data:`RECHECK_LIMIT` of them (a bulk load) are the postings read again, for them alone. So
after an ingest, a search or count costs what a repeat does.

Known approximation, on the side of a match being counted late rather than wrong: French and
Spanish typo candidates are found by their stems only.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.releases import Release
from bot.search.bitsets import members
from bot.search.fields import LANG_BIT
from bot.search.filters import Filters
from bot.search.forms import (
    Alt,
    AltSets,
    Contains,
    Expansion,
    Key,
    PhraseScan,
    Plan,
    Seq,
    TermForm,
    alt_keys,
)
from bot.search.vocabulary import decode_id
from bot.text import ANY_STOPWORDS, LANGUAGES, root, stem, typo_budget, typo_distance
from bot.text.stem import english_forms

__all__ = ["RECHECK_LIMIT", "Alt", "Contains", "Expansion", "Occurrences", "Plan", "Seq",
           "TermForm"]

# Field classes of a posting (see bot.search.fields): field * 4 + part * 2 + multi; fields are
# title 0, meta 1, summary 2. Meta without "multi" is meta only; title with "multi" may be
# title + meta.
_META_ONLY = frozenset({4, 6})
_MAYBE_META = frozenset({1, 3, 4, 5, 6, 7})
# A release with nothing but a place or a topic, to ask the rule about those values alone.
_PROBE = Release(id="", kind="", title="", date=date.min, place=None, summary="")

#: New releases since an alternative was evaluated beyond which its postings are read again
#: (for those releases only) rather than each release checked with the rule: reading the
#: postings of one alternative costs milliseconds, the rule a third of one per release.
RECHECK_LIMIT = 256
#: Vocabulary terms keyed per hold of the lock (see :meth:`Occurrences.key_vocabulary`):
#: about 10 ms.
KEY_STEP = 1024
#: Alternatives kept (least recently used dropped first): two bitsets each, at most 25 kB
#: at 100,000 releases. The taxonomy has about 300.
ALT_CACHE_LIMIT = 2048


def strict_key(term: str, lang: str) -> str:
    """The topic key of an indexed term (a light stem in ``lang``)."""
    return root(term, lang, strict=True)


class Occurrences:
    """Evaluates term forms on one index (see the module docstring). Every method but
    :meth:`Plan.settle` must be called with the index's lock held."""

    def __init__(self, index: Filters) -> None:
        self._index = index
        self._terms_seen: object = None
        self._keyed = 0
        self._en_keys: dict[str, list[int]] = {}
        self._letters: dict[str, list[str]] = {}
        self._letter_keys: dict[str, list[str]] = {}
        self._stop_terms = {lang: frozenset(stem(w, lang) for w in ANY_STOPWORDS)
                            for lang in LANGUAGES}
        self._stop_codes: dict[str, tuple[bytes, bytes]] = {}
        self._generation = -1
        self._alts: dict[tuple[Key, Contains], AltSets] = {}
        # (word, key, language) -> (vocabulary size when found, term ids)
        self._typos: dict[tuple[str, str, str], tuple[int, list[int]]] = {}

    def plan(self, form: TermForm, contains: Contains) -> Plan:
        """Evaluate ``form`` as far as the postings and the verdicts kept go (and, for place
        and topics, the rule on their distinct values); :meth:`Plan.settle` finishes."""
        index = self._index
        self._sync()
        keys = [[(lang, seq, True) for lang, seq in alts] for alts in form.include]
        excluded = [(lang, seq, False) for lang, seq in form.exclude]
        alts = {key: self._alt(key, contains) for key in alt_keys(form)}
        within = index._live
        for group in keys:
            any_alt = 0
            for key in group:
                any_alt |= alts[key].sure | alts[key].maybe
            within &= any_alt
        for key in excluded:
            within &= ~alts[key].sure
        plan = Plan(within, [[(key, alts[key].sure) for key in group] for group in keys],
                    [(key, alts[key].sure) for key in excluded], alts)
        doubtful = 0
        for key, alt in alts.items():
            if alt.maybe & within:
                plan.doubts[key] = list(members(alt.maybe & within))
                doubtful |= alt.maybe & within
        if doubtful:
            plan.releases = index._releases.detach(members(doubtful))
        return plan

    def missing(self, form: TermForm, contains: Contains) -> list[Key]:
        """The alternatives of ``form`` whose postings :meth:`plan` would read: call
        :meth:`evaluate` for each first, one per hold of the lock, to keep each hold short."""
        self._sync()
        slots = len(self._index._releases)
        return [key for key in alt_keys(form)
                if (alt := self._alts.get((key, contains))) is None
                or slots - alt.upto > RECHECK_LIMIT]

    def evaluate(self, key: Key, contains: Contains) -> PhraseScan | None:
        """Read one alternative's postings (see :meth:`missing`). For a new phrase, the scan
        of word sequences that remains: run it without the lock, then :meth:`evaluated`."""
        self._sync()
        if (key, contains) in self._alts or len(key[1]) == 1:
            self._alt(key, contains)
            return None
        started = self._start(key)
        if isinstance(started, PhraseScan):
            return started
        self._keep(key, contains, AltSets(*self._finish(key, contains, started),
                                          len(self._index._releases)))
        return None

    def evaluated(self, key: Key, contains: Contains, scan: PhraseScan,
                  found: tuple[int, int, int]) -> None:
        """Keep what :meth:`evaluate`'s scan found (releases added since are caught up with
        as usual), unless the index was restored or another thread kept it meanwhile."""
        if self._index._terms is self._terms_seen and (key, contains) not in self._alts:
            self._keep(key, contains, AltSets(*self._finish(key, contains, found), scan.upto))

    def catch_up(self) -> list[tuple[Contains, Plan]]:
        """Plans (by rule) that check every kept alternative on the releases added since it
        was last brought up to date, unless they are more than :data:`RECHECK_LIMIT`."""
        index = self._index
        if not self._alts or index._terms is not self._terms_seen:
            return []  # nothing kept (or only what a restore made void): nothing to do
        self._sync()
        plans: dict[Contains, Plan] = {}
        for key, contains in list(self._alts):
            upto = self._alts[(key, contains)].upto
            if len(index._releases) - upto > RECHECK_LIMIT:
                continue
            alt = self._alt(key, contains)
            new = alt.maybe & index._live >> upto << upto
            if new:
                plan = plans.setdefault(contains, Plan(0, [], [], {}))
                plan.alts[key] = alt
                plan.doubts[key] = list(members(new))
        for plan in plans.values():
            slots = sorted({slot for doubtful in plan.doubts.values() for slot in doubtful})
            plan.releases = index._releases.detach(slots)
        return list(plans.items())

    @staticmethod
    def record(plan: Plan) -> None:
        """Keep the verdicts of a settled plan, so those releases are not checked again."""
        for key, (checked, found) in plan.verdicts.items():
            alt = plan.alts[key]
            alt.sure |= found
            alt.maybe &= ~checked

    # -- the index's vocabulary, keyed the topic way ------------------------------------------

    def _sync(self, most: int | None = None) -> bool:
        """Catch up with the index's vocabulary (terms are only ever appended), keying at most
        ``most`` more terms; True when every term is keyed."""
        index = self._index
        if index._terms is not self._terms_seen:  # a restored snapshot: start afresh
            self._terms_seen = index._terms
            self._keyed = 0
            self._en_keys, self._letters, self._letter_keys = {}, {}, {}
            self._typos = {}
            self._alts = {}  # other slots: nothing kept holds
            self._generation = -1
        terms = index._terms
        end = len(terms) if most is None else min(len(terms), self._keyed + most)
        for tid in range(self._keyed, end):
            term = terms[tid]
            self._en_keys.setdefault(strict_key(term, "en"), []).append(tid)
            if term.isalpha() and len(term) >= 3:
                self._letters.setdefault(term[0], []).append(term)
                self._letter_keys.setdefault(term[0], []).append(strict_key(term, "en"))
        self._keyed = end
        return end == len(terms)

    def key_vocabulary(self) -> bool:
        """Key up to :data:`KEY_STEP` more vocabulary terms; True when all are. After a load
        the whole vocabulary is new (a second's work at 100,000 releases): called in a loop,
        one hold of the lock each, it keeps every hold short."""
        return self._sync(KEY_STEP)

    def _stops_now(self, lang: str) -> tuple[bytes, bytes]:
        """:meth:`_stops`, worked out again after every change of the index."""
        if self._index._generation != self._generation:
            self._generation = self._index._generation
            self._stop_codes = {}
        codes = self._stop_codes.get(lang)
        if codes is None:
            codes = self._stop_codes[lang] = self._stops(lang)
        return codes

    def _stops(self, lang: str) -> tuple[bytes, bytes]:
        """Regex alternations of the sequence codes of stop words in ``lang``: those that
        are surely stop words, and those that may be."""
        index, stop_terms = self._index, self._stop_terms[lang]
        sure, maybe = set(), set()
        for term in stop_terms:
            code = index._sequence_code(term)
            if code is None:
                continue
            maybe.add(code)
            family = index._family_of(decode_id(code))
            if all(index._terms[t] in stop_terms for t in family):
                sure.add(code)
        return _alternation(sure), _alternation(maybe)

    def _exact(self, key: str, lang: str) -> list[int]:
        """Term ids whose topic key in ``lang`` is ``key`` (and seen in that language)."""
        index = self._index
        if lang == "en":
            tids = self._en_keys.get(key, [])
        else:
            tid = index._term_id.get(key)
            tids = [] if tid is None else [tid]
        bit = LANG_BIT[lang]
        return [t for t in tids if index._term_langs[t] & bit and index._df[t]]

    def _typo(self, word: str, key: str, lang: str) -> list[int]:
        """Term ids not of ``key`` that may stand for a release word within a typo of ``word``
        (a superset: what they hold is checked release by release)."""
        cache_key = (word, key, lang)
        cached = self._typos.get(cache_key)
        if cached is not None and cached[0] == self._keyed:
            return cached[1]
        index = self._index
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
            bit = LANG_BIT[lang]
            for term in near:
                tid = index._term_id[term]
                if tid in exact or not index._term_langs[tid] & bit or not index._df[tid]:
                    continue
                term_key = strict_key(term, lang)
                words = english_forms(term) if lang == "en" else (term,)
                if any(len(w) >= 5 and w.isalpha()
                       and typo_distance(word, key, w, term_key) is not None for w in words):
                    found.append(tid)
        self._typos[cache_key] = (self._keyed, found)
        return found

    def _typo_sure(self, word: str, key: str, lang: str, tid: int) -> bool:
        """Whether every word the term may come from is within a typo of ``word``."""
        if lang != "en":
            return False
        term = self._index._terms[tid]
        return all(len(w) >= 5 and w.isalpha()
                   and typo_distance(word, key, w, strict_key(term, lang)) is not None
                   for w in english_forms(term))

    def _postings(self, tids: list[int], classes: frozenset[int] | None = None) -> int:
        index = self._index
        bits = 0
        for tid in tids:
            mask = index._classes[tid]
            for cls in range(mask.bit_length()):
                if mask >> cls & 1 and (classes is None or cls in classes):
                    bits |= index._bits_of(tid * 16 + cls)
        return bits

    # -- alternatives ----------------------------------------------------------------------

    def _alt(self, key: Key, contains: Contains) -> AltSets:
        """The alternative's sets, brought up to date with the releases added since."""
        index = self._index
        slots = len(index._releases)
        alt = self._alts.pop((key, contains), None)
        if alt is None:
            alt = AltSets(*self._evaluate(key, contains), slots)
        elif alt.upto < slots:
            new = index._live >> alt.upto << alt.upto
            if new.bit_count() > RECHECK_LIMIT:
                sure, maybe = self._evaluate(key, contains)
                alt.sure |= sure & new
                alt.maybe |= maybe & new
            else:
                alt.maybe |= new & index._bits_of(("lang", key[0]))
            alt.upto = slots
        self._keep(key, contains, alt)
        return alt

    def _keep(self, key: Key, contains: Contains, alt: AltSets) -> None:
        self._alts.pop((key, contains), None)
        if len(self._alts) >= ALT_CACHE_LIMIT:
            del self._alts[next(iter(self._alts))]
        self._alts[(key, contains)] = alt  # the most recently used last

    def _evaluate(self, key: Key, contains: Contains) -> tuple[int, int]:
        """The alternative's sure and doubtful releases, from the postings."""
        started = self._start(key)
        return self._finish(key, contains,
                            started.run() if isinstance(started, PhraseScan) else started)

    def _start(self, key: Key) -> PhraseScan | tuple[int, int, int]:
        """The releases sure to hold the alternative, those that may, and those with it in a
        meta field only; for a phrase, the scan that tells."""
        lang, seq, fuzzy = key
        if not self._index._languages.get(lang):
            return 0, 0, 0  # no release in that language: nothing to look up
        if len(seq) == 1:
            return self._word(lang, seq[0], fuzzy)
        return self._phrase(lang, seq, fuzzy)

    def _finish(self, key: Key, contains: Contains, found: tuple[int, int, int]
                ) -> tuple[int, int]:
        # Those with the term only in place, kind, topics or countries: the rule reads place
        # and topics, so ask it about their distinct values.
        lang, seq, fuzzy = key
        sure, maybe, meta = found
        return sure | meta & ~maybe & self._in_values(lang, seq, fuzzy, contains), maybe

    def _in_values(self, lang: str, seq: Seq, fuzzy: bool, contains: Contains) -> int:
        """The releases in ``lang`` whose place, or one of whose own topics, holds the term."""
        index = self._index
        bits = 0
        probe = replace(_PROBE, language=lang)
        for place in index._places:
            if contains(replace(probe, place=place), seq, fuzzy):
                bits |= index._bits_of(("place", place))
        for topic in index._topic_values:
            if contains(replace(probe, topics=(topic,)), seq, fuzzy):
                bits |= index._bits_of(("topic", topic))
        return bits & index._bits_of(("lang", lang))

    def _word(self, lang: str, pair: tuple[str, str], fuzzy: bool) -> tuple[int, int, int]:
        """The releases sure to hold the word, those that may, and those with it only in a
        meta field."""
        index = self._index
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
        return sure, maybe & in_lang & ~sure, meta & in_lang & ~sure

    def _phrase(self, lang: str, seq: Seq, fuzzy: bool) -> PhraseScan | tuple[int, int, int]:
        """As :meth:`_word`, for a phrase (its words adjacent, in order): what remains is a
        scan of the candidates' word sequences, which needs no lock."""
        index = self._index
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
            return 0, 0, 0
        sure_stops, maybe_stops = self._stops_now(lang)
        sure_re = _phrase_re(sure_codes, sure_stops)
        maybe_re = _phrase_re(maybe_codes, maybe_stops)
        return PhraseScan(candidates, exact_all & ~impure, meta, sure_re, maybe_re,
                          index._sequences)

    def _codes(self, tids: list[int], key: str, lang: str) -> tuple[set[bytes], list[int]]:
        """Sequence codes of these terms, and the other terms sharing those codes (another
        key, or a stop word): a release without those has these words where it has a code."""
        index = self._index
        stop_terms = self._stop_terms[lang]
        codes: set[bytes] = set()
        others: list[int] = []
        for tid in tids:
            code = index._sequence_code(index._terms[tid])
            if code is None or code in codes:
                continue
            codes.add(code)
            others.extend(t for t in index._family_of(decode_id(code))
                          if strict_key(index._terms[t], lang) != key
                          or index._terms[t] in stop_terms)
        return codes, others


def _alternation(codes: set[bytes]) -> bytes:
    return b"|".join(re.escape(code) for code in sorted(codes))


def _phrase_re(words: list[bytes], stops: bytes) -> re.Pattern[bytes] | None:
    """Words' codes in order with only stop words between; None if a word has no code."""
    if not all(words):
        return None
    gap = b"(?:" + stops + b")*" if stops else b""
    return re.compile(gap.join(b"(?:" + w + b")" for w in words))
