"""The search index: releases in, ranked pages of hits out, incrementally updated.

:class:`SearchIndex` is built in layers, one module each, each using only those below it:

1. :mod:`~bot.search.postings`: releases by slot, posting lists (arrays, or bitsets when long);
2. :mod:`~bot.search.vocabulary`: the terms, word families and typo-tolerant lookup;
3. :mod:`~bot.search.phrases`: word sequences and pair lists for quoted phrases;
4. :mod:`~bot.search.filters`: ``place:``, ``since:`` and the other filters;
5. :mod:`~bot.search.ranking`: matching, bit-sliced scores, the top *n*;
6. :mod:`~bot.search.suggest`: "did you mean";
7. this module: the public interface, adding and removing releases, persistence.

Memory at 100,000 synthetic releases is about 160 MB of index (measured after loading a
snapshot): short posting lists 43 MB (int arrays), long ones 26 MB (bitsets), word
sequences 25 MB, release ids 18 MB, the releases themselves 18 MB because they are kept
compressed (:mod:`bot.search.packed`; a search decodes only the page it shows), the
vocabulary the rest. ``bench/startup.py`` measures the whole bot's peak RSS. The postings
are arrays and ints, but arrays are still objects the cyclic garbage collector walks; a
process holding a large index should ``gc.freeze()`` after loading it, or CPython's rare
full collections will pause it for a few hundred milliseconds.

Thread safety: one lock guards all state. ``search``/``latest``/``get`` hold it for the
duration of one query (milliseconds). ``add_many`` tokenizes outside the lock and applies
releases in chunks of :data:`CHUNK_SIZE`, taking the lock once per chunk, so a search that
arrives during a long bulk load waits for one chunk at most, never for the whole load. What a
taxonomy entry or a topic matches is checked release by release with the topic rule without
the lock (:mod:`bot.search.occurrences`): a search naming a big entry for the first time
takes a second at 100,000 releases, but other searches do not wait for it.
"""

from __future__ import annotations

import bisect
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from itertools import islice, pairwise
from typing import Any, cast

from bot.releases import Release
from bot.search.bitsets import bits_from
from bot.search.fields import LANG_BIT, Analysis, analyze
from bot.search.memory import release_free_memory
from bot.search.occurrences import Contains, Occurrences, TermForm
from bot.search.postings import LONG_LIST
from bot.search.query import Query, parse_query
from bot.search.ranking import Synonyms
from bot.search.results import Hit, SearchResult
from bot.search.suggest import Suggestions
from bot.search.vocabulary import decode_id, encode_id
from bot.text import language_of

__all__ = ["CHUNK_SIZE", "SearchIndex"]

#: Releases applied per lock acquisition in :meth:`SearchIndex.add_many`.
CHUNK_SIZE = 32


class SearchIndex(Suggestions):
    """An in-memory, incrementally updated, typo-tolerant index of releases.

    See :mod:`bot.search` for how it works and what it costs; see :meth:`search` for the
    query language.
    """

    def __init__(self, releases: Iterable[Release] = (), synonyms: Synonyms | None = None
                 ) -> None:
        """``synonyms`` maps a query text (a word, or all of a query's words and phrases) to
        the taxonomy entry it names (:meth:`bot.topics.TopicMatcher.synonyms`): such a query
        finds exactly what the topic of the same text matches (see
        :mod:`bot.search.occurrences`), releases with the query's own words ranked first."""
        super().__init__(synonyms)
        self.add_many(releases)

    # -- reading ------------------------------------------------------------------------------

    def frequency(self, term: str) -> int:
        """How many indexed releases hold ``term`` (an analysed term; 0 if none): how rare a
        word is, for whoever must pick the rarest of several (see bot.percolate)."""
        with self._lock:
            tid = self._term_id.get(term)
            return 0 if tid is None else self._df[tid]

    def count_matching(self, forms: Sequence[TermForm], contains: Contains) -> list[int]:
        """How many indexed releases each form matches, by the rule ``contains`` (exactly:
        see :mod:`bot.search.occurrences`); a form with no include group matches all.

        The postings are read under the lock, the doubtful releases checked outside it, so
        searches keep running meanwhile. Call it from a worker thread.
        """
        return [self._matching(form, contains).bit_count() if form.include else len(self)
                for form in forms]

    def _matching(self, form: TermForm, contains: Contains) -> int:
        """The releases ``form`` matches: the postings read under the lock, the doubtful
        releases checked with ``contains`` without it, the verdicts kept under it again.
        Each alternative's postings are read in a hold of the lock of its own (milliseconds)."""
        while True:
            with self._lock:
                if self._occurrences.key_vocabulary():
                    break
        with self._lock:
            missing = self._occurrences.missing(form, contains)
        for key in missing:
            with self._lock:
                scan = self._occurrences.evaluate(key, contains)
            if scan is not None:  # a phrase: its word sequences are read without the lock
                scanned = scan.run()
                with self._lock:
                    self._occurrences.evaluated(key, contains, scan, scanned)
        with self._lock:
            plan = self._occurrences.plan(form, contains)
        found = plan.settle(contains)
        if plan.verdicts:
            with self._lock:
                self._occurrences.record(plan)
        return found

    def _presettle(self, parsed: Query) -> None:
        """Check, without the lock, the doubtful releases of the taxonomy entries ``parsed``
        names (the whole query, else each word), as :meth:`_run` will ask for them: it then
        finds only releases added meanwhile to check (under the lock)."""
        if self._synonyms is None:
            return
        whole = self._synonyms(parsed.topic_text) if parsed.topic_text else None
        entries = [whole] if whole is not None else [self._synonyms(t) for t in parsed.terms()]
        for expansion in entries:
            if expansion is not None:
                self._matching(*expansion)

    def get(self, release_id: str) -> Release | None:
        """The indexed release with this id, if any."""
        with self._lock:
            slot = self._slot_of.get(release_id)
            return None if slot is None else self._release(slot)

    def latest(self, limit: int, offset: int = 0) -> list[Release]:
        """Releases newest first (ties by id), for /latest and empty inline queries."""
        with self._lock:
            slots = self._by_date[max(offset, 0) : max(offset, 0) + max(limit, 0)]
            return self._releases_of(slots)

    # -- writing ------------------------------------------------------------------------------

    def add_many(self, releases: Iterable[Release]) -> None:
        """Index many releases (later ones replace earlier ones with the same id).

        Tokenizing happens outside the lock; the lock is taken once per :data:`CHUNK_SIZE`
        releases, so concurrent searches keep running. Run it with ``asyncio.to_thread``
        when it is large: 100,000 releases take seconds.
        """
        iterator = iter(releases)
        added = 0
        while chunk := list(islice(iterator, CHUNK_SIZE)):
            latest = {release.id: release for release in chunk}
            analysed = [(release, analyze(release)) for release in latest.values()]
            with self._lock:
                self._apply(analysed)
            added += len(analysed)
            # Let a search that waited for the lock run now: without this the waiting thread
            # also waits for CPython's GIL switch interval (5 ms) while we tokenize on.
            time.sleep(0)
        if added > CHUNK_SIZE:
            # A bulk load: bring the bitsets up to date now rather than in every search.
            # (After a few releases, the searches' own catching up is cheap.)
            self._settle()
            # The memo of word codes would grow to the whole vocabulary (5 MB at 100,000
            # releases) for little gain once the load is over.
            with self._lock:
                self._sequence_id = {}
            release_free_memory()
        if added:
            self._catch_up()

    def _catch_up(self) -> None:
        """Check the releases just added against the taxonomy entries and topics searched or
        counted before (:meth:`Occurrences.catch_up`), without the lock, so that the next
        search or count finds them settled."""
        with self._lock:
            plans = self._occurrences.catch_up()
        for contains, plan in plans:
            plan.settle(contains)
        if plans:
            with self._lock:
                for _, plan in plans:
                    self._occurrences.record(plan)

    # -- searching ----------------------------------------------------------------------------

    def search(
        self, query: str, limit: int = 5, offset: int = 0, language: str | None = None
    ) -> SearchResult:
        """Find releases for a query; the page ``offset .. offset+limit`` of the ranking.

        The query language: words (typos, plurals and word families are forgiven),
        ``"quoted phrases"`` (words adjacent and in order), and filters ``place:geneva``,
        ``country:china``, ``kind:advisory``, ``since:2004-09`` (inclusive),
        ``before:2004-10-01`` (exclusive), ``lang:fr``. ``language`` is the reader's: among
        equally relevant releases, those in it come first. Releases with all words rank first;
        when none has
        them all, releases with some of them are returned, ranked lower. A query of filters
        only lists the matching releases newest first.

        Raises :class:`QueryError` for a malformed filter.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        parsed = parse_query(query)
        if not parsed.terms() and not parsed.has_filters:
            return SearchResult([], 0, None)
        self._presettle(parsed)
        with self._lock:
            ranked, total, partial = self._run(parsed, offset + limit, language_of(language))
            page = ranked[offset:]
            releases = self._releases_of([slot for _, slot in page])
            hits = [Hit(release, score / 10)
                    for release, (score, _) in zip(releases, page, strict=True)]
            suggestion = self._suggest(query, parsed) if total == 0 or partial else None
        return SearchResult(hits, total, suggestion, partial)

    # -- persistence (the file format is bot.search.snapshot's) ---------------------------

    #: Caches: the build's memo of word codes (``_occurrences`` holds the other, the only
    #: state a search writes). A snapshot leaves them out; :meth:`from_state` starts them
    #: empty.
    CACHES = frozenset({"_sequence_id"})
    #: Not saved either: what follows from the rest (rebuilt on loading, which also makes
    #: equal strings one object again), and what belongs to this process (its lock, the
    #: synonyms of its topics, the topic-rule evaluator bound to it).
    DERIVED = Suggestions.LOOKUPS | {"_slot_of"}
    LOCAL = frozenset({"_lock", "_synonyms", "_occurrences"})

    def export_state(self) -> dict[str, Any]:
        """The index's state (the live objects, not copies) that a snapshot must hold.

        For writing it out (see bot.search.snapshot), which takes seconds at 100,000
        releases: call it, and write, while nothing *adds or removes* releases
        (``Ingestor.index_writes``). Searches may go on meanwhile: they only touch
        :data:`CACHES`, which are left out.
        """
        skip = self.CACHES | self.DERIVED | self.LOCAL
        return {name: value for name, value in vars(self).items() if name not in skip}

    def restore(self, other: SearchIndex) -> None:
        """Take over ``other``'s state (e.g. a loaded snapshot's); ``other`` is not used again."""
        state = {name: value for name, value in vars(other).items() if name not in self.LOCAL}
        with self._lock:
            vars(self).update(state)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SearchIndex:
        """An index with the state :meth:`export_state` returned (in this or an earlier run)."""
        index = cls.__new__(cls)
        vars(index).update(state)
        index._lock = threading.Lock()
        index._synonyms = None
        index._occurrences = Occurrences(index)
        for name in cls.CACHES:
            setattr(index, name, {})
        index._rebuild_lookups()
        index._slot_of = {index._ids[slot]: slot for slot in index._by_date}
        index._settle()
        return index

    # -- internals: adding and removing ----------------------------------------------------

    def _apply(self, analysed: list[tuple[Release, Analysis]]) -> None:
        # The build's hot path: term postings are appended here, not through _post (a call
        # per posting costs seconds at 100,000 releases).
        self._generation += 1
        new_live: list[int] = []
        term_id, df, classes, term_langs = self._term_id, self._df, self._classes, self._term_langs
        all_slots = self._slots
        sequence_id = self._sequence_id
        for release, analysis in analysed:
            lang_bit = LANG_BIT.get(analysis.lang, 1)
            self._remove(release.id)
            slot = len(self._releases)
            self._releases.append(release)
            self._slot_of[release.id] = slot
            self._ids.append(release.id)
            self._dates.append(release.date.toordinal())
            bisect.insort(self._by_date, slot, key=self._sortkey)
            new_live.append(slot)
            for term, cls in analysis.classes.items():
                tid = term_id.get(term)
                if tid is None:
                    tid = self._intern(term)
                df[tid] += 1
                classes[tid] |= 1 << cls
                term_langs[tid] |= lang_bit
                key = tid * 16 + cls
                slots = all_slots.get(key)
                if slots is None:
                    slots = all_slots[key] = array("i")
                slots.append(slot)
                if len(slots) >= LONG_LIST:
                    self._merge(key, slots)
            if analysis.joined:
                self._joined.update(term_id[term] for term in analysis.joined)
            found: list[bytes | None] = list(map(sequence_id.get, analysis.sequence))
            if None in found:
                for i, term in enumerate(analysis.sequence):
                    if found[i] is None:
                        found[i] = sequence_id[term] = encode_id(self._root_of(term))
            codes = cast(list[bytes], found)
            self._sequences.append(b"".join(codes))
            for pair in self._pair_keys(slot, codes):
                self._post(pair, slot)
            for name, value in self._filter_keys(release, analysis):
                self._post((name, value), slot)
                counts = self._counts.get(name)
                if counts is not None:
                    counts[value] = counts.get(value, 0) + 1
        if new_live:
            base = new_live[0]
            self._live |= bits_from([s - base for s in new_live]) << base

    def _remove(self, release_id: str) -> None:
        slot = self._slot_of.pop(release_id, None)
        if slot is None:
            return
        self._generation += 1
        release = self._release(slot)
        analysis = analyze(release)  # the same analysis as when it was added
        for term, cls in analysis.classes.items():
            tid = self._term_id[term]
            self._df[tid] -= 1
            self._unpost(tid * 16 + cls, slot)
            if tid * 16 + cls not in self._slots:
                self._classes[tid] &= ~(1 << cls)
        sequence = self._sequences[slot]
        codes = [sequence[i : i + 4] for i in range(0, len(sequence), 4)]
        for code in set(codes):
            self._root_df[decode_id(code)] -= 1
        frequent = self._frequent
        for pair in {a + b for a, b in pairwise(codes) if a in frequent and b in frequent}:
            self._unpost(pair, slot)
        for name, value in self._filter_keys(release, analysis):
            self._unpost((name, value), slot)
            counts = self._counts.get(name)
            if counts is not None:
                counts[value] -= 1
                if not counts[value]:
                    del counts[value]
        index = bisect.bisect_left(
            self._by_date, self._sortkey(slot), key=self._sortkey
        )
        assert self._by_date[index] == slot, "date order out of step with the slots"
        del self._by_date[index]
        self._live &= ~(1 << slot)
        self._releases.discard(slot)
        self._sequences[slot] = b""
