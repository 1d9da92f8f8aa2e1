"""Answering a parsed query: the releases that match (every word, else some), their scores
as bit planes, and the top *n* of them in order.

A release's score is the idf-weighted sum, over query words, of match quality (exact >
family > prefix > fuzzy) times field weight (title > place, topics and countries > summary;
parts of hyphenated words count less), kept bit-sliced (:mod:`bot.search.bitsets`), so no
per-release Python loop runs over the matches: only the releases on the requested page are
looked at one by one. Ties are broken by the reader's language when one is given (an extra
lowest bit of the score), then by date (newest first), then id.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable
from datetime import date

from bot.search.bitsets import add_planes, has, members, top_split
from bot.search.fields import FIELD_WEIGHT, SUMMARY
from bot.search.filters import Filters
from bot.search.occurrences import Expansion, Occurrences
from bot.search.query import Query
from bot.search.vocabulary import PREFIX, TermMatch
from bot.text import stem

__all__ = ["Ranking", "Synonyms"]

#: A query text (a word, or all of a query's words and phrases) -> what it stands for in the
#: topic taxonomy (:meth:`bot.topics.TopicMatcher.synonyms`), None when it names no entry.
Synonyms = Callable[[str], Expansion | None]

# A release found only through a taxonomy synonym of a query term scores like a prefix match
# in a summary: below every release that has the term itself.
_SYNONYM_WEIGHT = PREFIX * FIELD_WEIGHT[SUMMARY]
# Full score, before dividing by 10 for Hit.score: 1000 keeps integer rounding invisible.
_SCALE = 1000


class Ranking(Filters):
    """Query evaluation and ranking, on top of filters, phrases and the vocabulary."""

    def __init__(self, synonyms: Synonyms | None = None) -> None:
        super().__init__()
        self._synonyms = synonyms
        self._occurrences = Occurrences(self)

    def _run(
        self, parsed: Query, n: int, prefer: str | None = None
    ) -> tuple[list[tuple[int, int]], int, bool]:
        """The first ``n`` (score, slot) pairs of the ranking, the number of matches, and
        whether they are partial (no release had every word). Releases in the ``prefer``
        language win ties."""
        allowed = self._filter_bits(parsed)
        for word in parsed.excluded:
            for lang in self._query_languages():
                allowed &= ~self._exact_bits(stem(word, lang))
        matched = {term: self._match_term(term) for term in parsed.terms()}
        phrases = [
            [matched.get(w) or self._match_term(w, for_phrase=True) for w in phrase]
            for phrase in parsed.phrases
        ]
        # A query that names a taxonomy entry ("OSH", "child labour", "travail des enfants")
        # finds what the topic of the same text matches, by the same rule; its own words
        # only rank within that.
        whole = self._synonym_match(parsed.topic_text)
        if whole is not None:
            terms = [self._within(match, whole) for match in matched.values()]
            return self._ranked(terms, allowed & whole, n, parsed, prefer, False)
        # Likewise word by word ("mining accidents": the entry "mining", and "accidents").
        for term, match in matched.items():
            entry = self._synonym_match(term)
            if entry is not None:
                matched[term] = self._within(match, entry)
        terms = list(matched.values())
        candidates = allowed
        for match in terms:
            candidates &= match.matches
        candidates = self._apply_phrases(candidates, phrases)
        partial = False
        if not candidates and len(terms) > 1:
            # Nothing has every word: fall back to releases with some of them (ranked lower,
            # since the missing words add nothing to their score).
            anyword = 0
            for match in terms:
                anyword |= match.matches
            candidates = self._apply_phrases(allowed & anyword, phrases)
            partial = True
        return self._ranked(terms, candidates, n, parsed, prefer, partial)

    def _ranked(self, terms: list[TermMatch], candidates: int, n: int, parsed: Query,
                prefer: str | None, partial: bool) -> tuple[list[tuple[int, int]], int, bool]:
        """:meth:`_run`'s answer for these candidates, scored on these terms."""
        if not candidates:
            return [], 0, False
        planes = self._score_planes(terms)
        if prefer is None or not terms or prefer not in self._languages:
            return self._rank(planes, candidates, n, parsed.before), candidates.bit_count(), partial
        # The reader's language as a new lowest bit: it decides between equal scores only.
        planes.insert(0, self._bits_of(("lang", prefer)) & candidates)
        ranked = self._rank(planes, candidates, n, parsed.before)
        return [(score >> 1, slot) for score, slot in ranked], candidates.bit_count(), partial

    def _synonym_match(self, text: str) -> int | None:
        """The releases the taxonomy entry ``text`` names match, by the topic rule (see
        :mod:`bot.search.occurrences`): what the topic ``text`` would match; None when
        ``text`` names no entry.

        Called with the lock held: the doubtful releases are checked here too, so the caller
        should have settled the entry beforehand without the lock (:meth:`_presettle`),
        leaving only what was added since."""
        if self._synonyms is None or not text:
            return None
        expansion = self._synonyms(text)
        if expansion is None:
            return None
        plan = self._occurrences.plan(*expansion)
        found = plan.settle(expansion.contains)
        self._occurrences.record(plan)
        return found

    @staticmethod
    def _within(match: TermMatch, entry: int) -> TermMatch:
        """A query word's match narrowed to a taxonomy entry's releases (``entry``): those with
        the word itself rank first, the others as :data:`_SYNONYM_WEIGHT`."""
        weighted = [(weight, bits & entry) for weight, bits in match.weighted]
        return TermMatch([*weighted, (_SYNONYM_WEIGHT, entry)], entry, match.roots, match.keys)

    def _exact_bits(self, term: str) -> int:
        """Releases containing exactly this term (in any field): for ``-word`` exclusions."""
        tid = self._term_id.get(term)
        if tid is None:
            return 0
        classes = self._classes[tid]
        bits = 0
        for cls in range(classes.bit_length()):
            if classes >> cls & 1:
                bits |= self._bits_of(tid * 16 + cls)
        return bits

    def _score_planes(self, terms: list[TermMatch]) -> list[int]:
        """Each release's score as bit planes: sum of idf share * quality * field weight."""
        live = max(len(self._slot_of), 1)
        idfs = [math.log(1 + live / max(match.matches.bit_count(), 1)) for match in terms]
        total_idf = sum(idfs) or 1.0
        planes: list[int] = []
        for match, idf in zip(terms, idfs, strict=True):
            scale = _SCALE * idf / total_idf / 10_000
            levels: dict[int, int] = {}
            for weight, bits in match.weighted:
                level = round(weight * scale)
                levels[level] = levels.get(level, 0) | bits
            term_planes: list[int] = []
            seen = 0
            # A release scores its best match for the term: hand out levels best first.
            for level in sorted(levels, reverse=True):
                own = levels[level] & ~seen
                seen |= levels[level]
                for j in range(level.bit_length()):
                    if level >> j & 1:
                        while len(term_planes) <= j:
                            term_planes.append(0)
                        term_planes[j] |= own
            add_planes(planes, term_planes)
        return planes

    def _rank(
        self, planes: list[int], candidates: int, n: int, before: date | None
    ) -> list[tuple[int, int]]:
        if n <= 0:
            return []
        total = candidates.bit_count()
        if total <= n:
            above, tied = candidates, 0
        else:
            above, tied = top_split(planes, candidates, n)
        plane_bytes = [plane.to_bytes((plane.bit_length() + 7) >> 3, "little") for plane in planes]

        def score(slot: int) -> int:
            return sum(1 << j for j, data in enumerate(plane_bytes) if has(data, slot))

        ranked = sorted(
            ((score(slot), slot) for slot in members(above)),
            key=lambda pair: (-pair[0], self._sortkey(pair[1])),
        )
        if tied and len(ranked) < n:
            rest = self._newest(tied, n - len(ranked), before)
            level = score(rest[0])
            ranked.extend((level, slot) for slot in rest)
        return ranked

    def _newest(self, bits: int, count: int, before: date | None = None) -> list[int]:
        """The ``count`` newest releases of a bitset (ties by id)."""
        size = bits.bit_count()
        live = max(len(self._slot_of), 1)
        # Sorting all members costs ~size; scanning the date order ~count * live / size.
        if size <= count or size * size * 16 < count * live:
            return heapq.nsmallest(count, members(bits), key=self._sortkey)
        start = 0
        if before is not None:  # everything newer is filtered out: start the scan below it
            start = bisect.bisect_left(
                self._by_date, (1 - before.toordinal(), ""), key=self._sortkey
            )
        budget = 8 * count * live // size + 64
        data = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
        out: list[int] = []
        for slot in self._by_date[start : start + budget]:
            if has(data, slot):
                out.append(slot)
                if len(out) == count:
                    return out
        # The matches cluster in old releases (the scan met too few): sort them all after all.
        return heapq.nsmallest(count, members(bits), key=self._sortkey)
