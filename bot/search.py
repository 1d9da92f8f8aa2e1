"""Typo-tolerant search over releases that stays interactive at 100,000 of them.

How a query is answered (and why it is fast):

1. **Vocabulary first.** Each query word is looked up in the vocabulary of distinct terms
   (light-stemmed words, :mod:`bot.text`): exactly in each language's stem (a release's
   words are stemmed in its own language; a query's, whose language is unknown, in each of
   en/fr/es, an fr/es stem only meeting fr/es releases' terms), then by word family
   (:func:`bot.text.root`, so ``traffickers`` finds ``trafficking``), then by prefix,
   and only when all of that finds
   nothing, fuzzily with rapidfuzz over the few thousand terms of a similar length.
2. **Postings as bitsets.** Every (term, field class) keeps the slots of the releases that
   contain it. Sets of releases are combined as Python ``int`` bitsets, whose ``&``/``|`` run
   in C over 100,000 bits in about a microsecond, so common words cost no more than rare ones.
   Long lists keep their bitset between queries; it catches up with new releases lazily.
3. **Scores as bit planes.** A release's score is the idf-weighted sum, over query words, of
   match quality (exact > family > prefix > fuzzy) times field weight (title > place, topics
   and countries > summary; parts of hyphenated words count less). Scores are small integers
   kept *bit-sliced* (one bitset per bit), added with a ripple-carry adder on bitsets and
   cut to the top *n* with O'Neil's bit-sliced top-k, so no per-release Python loop runs over
   the matches. Only the few releases on the requested page are looked at one by one.

Ties are broken by the reader's language when :meth:`SearchIndex.search` is given one (an
extra lowest bit of the score), then by date (newest first) then id, so results are
deterministic.

Phrases are checked on each release's sequence of word-family codes (a ``bytes in bytes``
test), and for pairs of common words (in :data:`_PAIR_MIN_DF` releases or more, and stop
words) on "pair" posting lists, so that ``"child labour"`` is as fast as ``child labour``.

Memory at 100,000 synthetic releases is about 210 MB in all, releases included (measured
after loading a snapshot; see ``bench/startup.py``): posting arrays 64 MB, kept bitsets 29 MB,
word sequences 25 MB, the releases themselves 25 MB because they are kept compressed
(:mod:`bot.packed`; a search decodes only the page it shows), the vocabulary the rest; per
release bookkeeping (date order, dates) is int arrays, not lists of objects. The postings
are arrays and ints, but arrays are still objects the cyclic garbage collector walks; a
process holding a large index should ``gc.freeze()`` after loading it, or CPython's rare full
collections will pause it for a few hundred milliseconds.

Thread safety: one lock guards all state. ``search``/``latest``/``get`` hold it for the
duration of one query (milliseconds). ``add_many`` tokenizes outside the lock and applies
releases in chunks of :data:`CHUNK_SIZE`, taking the lock once per chunk, so a search that
arrives during a long bulk load waits for one chunk at most, never for the whole load.
"""

from __future__ import annotations

import bisect
import heapq
import math
import operator
import re
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import compress, islice, pairwise, product, repeat
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.i18n import gettext
from bot.packed import PackedReleases
from bot.releases import Release
from bot.text import (
    ANY_STOPWORDS,
    COUNTRY_NAMES,
    LANGUAGES,
    STOPWORDS,
    countries_in,
    country_of,
    fold,
    language_of,
    root,
    split_words,
    stem,
    stemmer,
)

__all__ = ["CHUNK_SIZE", "Hit", "QueryError", "SearchIndex", "SearchResult"]

#: Releases applied per lock acquisition in :meth:`SearchIndex.add_many`.
CHUNK_SIZE = 32

# Field classes of a (term, release) pair. A class is field * 4 + part * 2 + multi, where
# "part" means the term occurred only inside a hyphenated word (Inner-Mongolia is not
# Mongolia) and "multi" that it occurred in more than one field (a sign it is central).
_TITLE, _META, _SUMMARY = 0, 1, 2
_FIELD_WEIGHT = (90, 75, 60)
_PART_FACTOR = 0.7
_MULTI_BONUS = 10
_CLASS_WEIGHT = tuple(
    round(_FIELD_WEIGHT[c >> 2] * (_PART_FACTOR if c & 2 else 1.0)) + (_MULTI_BONUS if c & 1 else 0)
    for c in range(12)
)

# Match quality of a vocabulary term for a query word, in percent.
_EXACT, _FAMILY, _PREFIX = 100, 85, 75
# A fuzzy match's quality is its rapidfuzz ratio (0..100) times this: below prefix matches.
_FUZZY_FACTOR = 0.78
_FUZZY_MARGIN = 4
_FAMILY_OF_FUZZY = 0.85
_MAX_PREFIX_TERMS = 12
_MAX_FUZZY_TERMS = 8
_MAX_PHRASE_PATTERNS = 64
# A release found only through a taxonomy synonym of a query term scores like a prefix match
# in a summary: below every release that has the term itself.
_SYNONYM_WEIGHT = _PREFIX * _FIELD_WEIGHT[_SUMMARY]
# Full score, before dividing by 10 for Hit.score: 1000 keeps integer rounding invisible.
_SCALE = 1000
# Roots in at least this many releases get "pair" posting lists with each other (the releases
# where the two are adjacent), so a quoted phrase of common words needs no per-release check.
_PAIR_MIN_DF = 1000
# Terms up to this length are fuzzy-matched by length alone (see SearchIndex._by_affix).
_SHORT_WORD = 5
# Containers at least this large keep their bitset cached between queries.
_CACHE_BITS_MIN = 512

_FILTER_KEYS = frozenset({"place", "country", "since", "before", "kind", "lang"})
# A bit per language, for the languages a vocabulary term was seen in.
_LANG_BIT = {lang: 1 << i for i, lang in enumerate(LANGUAGES)}
_QUERY_TOKEN = re.compile(
    r'(?P<key>[A-Za-z]+):(?:"(?P<qval>[^"]*)"?|(?P<val>[^\s"]*))'
    r'|"(?P<phrase>[^"]*)"?'
    r'|(?P<word>[^\s"]+)'
)
_DATE_VALUE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


class QueryError(ValueError):
    """A malformed query (a bad filter value); the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the release and its score (0..100, higher is better)."""

    release: Release
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits, how many matched in all, and a "did you mean" text when nothing did
    (or when only some of the words matched)."""

    hits: list[Hit]
    total: int
    suggestion: str | None
    #: True when no release has every word, so these hits have only some of them.
    partial: bool = False


# ---------------------------------------------------------------------------------------------
# Query parsing


@dataclass(slots=True)
class _Query:
    """A parsed query: free words, phrases and filters (all folded)."""

    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    #: ``-word``: releases containing it (after stemming, no typos) are left out.
    excluded: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    since: date | None = None
    before: date | None = None

    @property
    def has_filters(self) -> bool:
        """Whether any filter narrows the result."""
        return bool(self.places or self.countries or self.kinds or self.languages
                    or self.since or self.before)

    def terms(self) -> list[str]:
        """The distinct search words (folded, no stop words of any language) of words and
        phrases, in order. Stemming happens per language when they are looked up."""
        seen: dict[str, str] = {}  # English stem -> the first word with it ("worker workers")
        for word in [*self.words, *(w for phrase in self.phrases for w in phrase)]:
            if word not in ANY_STOPWORDS:
                seen.setdefault(stem(word), word)
        return list(seen.values())


def _parse_date(key: str, value: str) -> date:
    match = _DATE_VALUE.match(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = (int(g) if g else 1 for g in match.groups())
        return date(year, month, day)
    except ValueError:
        raise QueryError(gettext("{key}: expects a date like 2004-09 or 2004-09-15")
                         .format(key=key)) from None


def _parse_query(text: str) -> _Query:
    """Split a query into words, quoted phrases and ``key:value`` filters."""
    query = _Query()
    for match in _QUERY_TOKEN.finditer(text):
        key = (match.group("key") or "").lower()
        if key in _FILTER_KEYS:
            value = match.group("qval") if match.group("qval") is not None else match.group("val")
            value = " ".join(fold(value or "").split())
            if not value:
                example = {"since": "2004-09", "before": "2004-10-01", "kind": "advisory"}
                raise QueryError(gettext("{key}: needs a value, e.g. {example}").format(
                    key=key, example=f"{key}:{example.get(key, 'geneva')}"))
            if key == "since":
                when = _parse_date(key, value)
                query.since = when if query.since is None else max(query.since, when)
            elif key == "before":
                when = _parse_date(key, value)
                query.before = when if query.before is None else min(query.before, when)
            elif key == "place":
                query.places.append(value)
            elif key == "country":
                query.countries.append(value)
            elif key == "lang":
                lang = language_of(value)
                if lang is None:
                    raise QueryError(gettext("lang: expects one of {languages}, e.g. lang:fr")
                                     .format(languages=", ".join(LANGUAGES)))
                query.languages.append(lang)
            else:
                query.kinds.append(value)
        elif match.group("phrase") is not None:
            words = [part for w in split_words(match.group("phrase")) for part in w.split("-")]
            if len(words) > 1:
                query.phrases.append(words)
            else:
                query.words.extend(words)
        elif match.group(0).startswith("-") and len(match.group(0)) > 1:
            query.excluded.extend(w for word in split_words(match.group(0)[1:])
                                  for w in word.split("-") if w)
        else:
            for word in split_words(match.group(0)):
                parts = word.split("-")
                query.words.extend(parts)
                if len(parts) > 1:
                    # "low-cost" means the words together, like a quoted phrase.
                    query.phrases.append(parts)
    return query


# ---------------------------------------------------------------------------------------------
# Release analysis (pure: runs outside the lock)


@dataclass(slots=True)
class _Analysis:
    """What indexing needs from one release; computed without touching the index."""

    classes: dict[str, int]
    sequence: list[str]
    countries: list[str]
    place: str | None
    kind: str
    lang: str
    #: Terms that are joined forms of hyphenated words here ("lowcost" for "low-cost"): no
    #: word of the text itself, which topic counts must know (see bot.topiccount).
    joined: set[str]


# The one-word names ("vietnam", "laos") people type for a country, added to its releases.
_ONE_WORD_NAMES: dict[str, list[str]] = {}
for _name, _country in COUNTRY_NAMES.items():
    if " " not in _name:
        _ONE_WORD_NAMES.setdefault(_country, []).append(_name)


def _field_terms(words: list[str], sequence: list[str] | None, lang: str,
                 joined: set[str] | None = None) -> dict[str, int]:
    """Terms of one field -> 0 if seen as a whole word, 2 if only inside hyphenated words.

    Appends the field's terms, stop words included, to ``sequence`` when one is given, and
    the joined forms of hyphenated words ("lowcost") to ``joined``.
    """
    found: dict[str, int] = {}
    stopwords = STOPWORDS[lang]
    stem_of = stemmer(lang)
    for word in words:
        if "-" not in word:
            term = stem_of(word)
            if sequence is not None:
                sequence.append(term)
            if term not in stopwords:
                found[term] = 0
            continue
        parts = word.split("-")
        for part in parts:
            term = stem_of(part)
            if sequence is not None:
                sequence.append(term)
            if term not in stopwords and term:
                found.setdefault(term, 2)
        # The joined form too, so "innermongolia" or "lowcost" find it.
        found[stem_of("".join(parts))] = 0
        if joined is not None:
            joined.add(stem_of("".join(parts)))
    return found


def _analyze(release: Release) -> _Analysis:
    lang = release.language if release.language in STOPWORDS else "en"
    title_words = split_words(release.title)
    summary_words = split_words(release.summary)
    meta_words = split_words(" ; ".join([release.place or "", release.kind, *release.topics]))
    countries = countries_in([*title_words, ";", *summary_words, ";", *meta_words])
    for country in countries:
        meta_words.extend(split_words(country))
        meta_words.extend(_ONE_WORD_NAMES.get(country, ()))
    sequence: list[str] = []
    joined: set[str] = set()
    title = _field_terms(title_words, sequence, lang, joined)
    sequence.append("")  # a phrase never runs from the title into the summary
    summary = _field_terms(summary_words, sequence, lang, joined)
    meta = _field_terms(meta_words, None, lang, joined)
    classes: dict[str, int] = {}
    # Best field first: a term keeps the class of the first field it is found in.
    for where, terms in ((_TITLE, title), (_META, meta), (_SUMMARY, summary)):
        for term, part in terms.items():
            if term in classes:
                classes[term] |= 1  # seen in more than one field
            else:
                classes[term] = where * 4 + part
    place = " ".join(fold(release.place).split()) if release.place else None
    kind = " ".join(fold(release.kind).split())
    return _Analysis(classes, sequence, countries, place, kind, lang, joined)


# ---------------------------------------------------------------------------------------------
# Bitset helpers


def _bits_from(slots: Iterable[int]) -> int:
    """A bitset with the given bits set (linear in the number of slots)."""
    if not isinstance(slots, array | list):
        slots = list(slots)
    if not slots:
        return 0
    top = max(slots)
    if len(slots) * 64 < top:
        buffer = bytearray((top >> 3) + 1)
        for slot in slots:
            buffer[slot >> 3] |= 1 << (slot & 7)
        return int.from_bytes(buffer, "little")
    # Many slots: mark one byte per slot with C-level iteration, then let int() parse the
    # bytes as binary digits (linear for base 2). No Python-level loop over the slots.
    marks = bytearray(top + 1)
    deque(map(marks.__setitem__, slots, repeat(1)), maxlen=0)
    return int(marks.translate(_TO_DIGITS)[::-1], 2)


_TO_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_FROM_DIGITS = bytes.maketrans(b"01", b"\x00\x01")
_NONZERO_RUN = re.compile(rb"[^\x00]+")
_BYTE_BITS = tuple(tuple(i for i in range(8) if value >> i & 1) for value in range(256))


def _members(bits: int) -> list[int]:
    """The set bits of a bitset, ascending."""
    count = bits.bit_count()
    if count <= 48:
        # Few members: peel them off the top; each step is one C-level op on the int.
        out = []
        while bits:
            top = bits.bit_length() - 1
            out.append(top)
            bits ^= 1 << top
        out.reverse()
        return out
    if count * 24 > bits.bit_length():
        # Dense: binary digits as a 0/1 byte mask, and compress() picks the positions in C.
        mask = bin(bits)[:1:-1].encode().translate(_FROM_DIGITS)
        return list(compress(range(len(mask)), mask))
    data = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
    out = []
    for run in _NONZERO_RUN.finditer(data):
        for offset, value in enumerate(run.group(), run.start()):
            base = offset << 3
            out.extend([base + i for i in _BYTE_BITS[value]])
    return out


def _encode_id(rid: int) -> bytes:
    """A root id as 4 bytes where only the first has its high bit set.

    A phrase is then a plain ``bytes in bytes`` test on a release's word sequence: a match
    can only start at the start of a word, never in the middle of one.
    """
    return bytes((0x80 | (rid >> 21) & 0x7F, (rid >> 14) & 0x7F, (rid >> 7) & 0x7F, rid & 0x7F))


def _decode_id(code: bytes) -> int:
    """The root id of a 4-byte code made by :func:`_encode_id`."""
    return (code[0] & 0x7F) << 21 | code[1] << 14 | code[2] << 7 | code[3]


_SEPARATOR = _encode_id(0)


def _has(data: bytes, slot: int) -> bool:
    index = slot >> 3
    return index < len(data) and bool(data[index] >> (slot & 7) & 1)


# ---------------------------------------------------------------------------------------------
# Bit-sliced scores


def _add_planes(acc: list[int], other: list[int]) -> None:
    """acc += other, per release, where both are scores stored as bit planes (LSB first)."""
    carry = 0
    for j in range(max(len(acc), len(other))):
        if j == len(acc):
            acc.append(0)
        a = acc[j]
        b = other[j] if j < len(other) else 0
        if not b and not carry:
            continue
        acc[j] = a ^ b ^ carry
        carry = (a & b) | (carry & (a ^ b))
    if carry:
        acc.append(carry)


def _top_split(planes: list[int], candidates: int, n: int) -> tuple[int, int]:
    """O'Neil's bit-sliced top-n: (releases scoring above the n-th, those tied with it)."""
    above, tied = 0, candidates
    for plane in reversed(planes):
        with_bit = above | (tied & plane)
        count = with_bit.bit_count()
        if count > n:
            tied &= plane
        elif count == n:
            return with_bit, 0
        else:
            above = with_bit
            tied &= ~plane
    return above, tied


@dataclass(slots=True)
class _TermMatch:
    """One query term resolved against the vocabulary."""

    weighted: list[tuple[int, int]]  # (quality * field weight, bitset)
    matches: int  # bitset of all releases containing a variant
    roots: set[int]  # root ids of its variants, for phrases
    keys: list[int]  # its posting lists


class SearchIndex:
    """An in-memory, incrementally updated, typo-tolerant index of releases.

    See the module docstring for how it works and what it costs; see :meth:`search` for the
    query language.
    """

    def __init__(
        self,
        releases: Iterable[Release] = (),
        synonyms: Callable[[str], Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        """``synonyms`` maps a query term (a word, or all of a query's words) to the
        (language, term) pairs it stands for (the topic taxonomy's,
        :meth:`bot.topics.TopicMatcher.synonyms`): releases
        with any of them match too, ranked below releases with the term itself."""
        self._synonyms = synonyms
        # Synonym matches by query text, valid while the index has not changed (generation).
        self._synonym_cache: dict[str, tuple[int, _TermMatch | None]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        # Per slot (a release's internal number; never reused, so bitsets stay valid).
        # Releases compressed in blocks (bot.packed): a search shows only a page of them.
        self._releases = PackedReleases()
        self._ids: list[str] = []  # the same strings as _slot_of's keys
        self._dates = array("i")  # date ordinals
        self._sequences: list[bytes] = []
        self._slot_of: dict[str, int] = {}
        # Live slots, newest first, ties by id (see _sortkey). Arrays of ints, not lists: a
        # list holds an int object per slot (four times the memory at 100,000 releases).
        self._by_date = array("i")
        self._live = 0  # bitset of live slots
        # Vocabulary.
        self._term_id: dict[str, int] = {}
        self._terms: list[str] = []
        # Per term id, as int arrays (a list would hold an int object for most of them).
        self._term_root = array("i")
        self._df = array("i")
        self._classes = array("i")  # bitmask of the term's field classes with postings
        self._term_langs = array("i")  # bits of the languages it was indexed in
        self._joined: set[int] = set()  # term ids ever indexed as the joined form of a compound
        self._root_id: dict[str, int] = {"": 0}  # root id 0 separates title from summary
        # term -> encoded root id: a memo for the build (see CACHES), not saved.
        self._sequence_id: dict[str, bytes] = {}
        # root id -> its term ids: an int for a root with one term (almost all of them; a
        # 1-tuple each would cost 5 MB at 100,000 releases), else a tuple. See _family_of.
        self._family: dict[int, int | tuple[int, ...]] = {}
        # For fuzzy matching: short terms by length; longer ones by length and first two
        # letters, and by length and last two letters (with a negative length). One typo
        # cannot change both ends of a longer word, so those two buckets hold its candidates.
        self._by_length: dict[int, list[str]] = {}
        self._by_affix: dict[tuple[str, int], list[str]] = {}
        self._by_prefix: dict[str, array[int]] = {}  # first 4 letters -> term ids
        # Posting lists: the slots of the releases under a key, and the bitsets of the lists
        # worth keeping as bitsets. Keys are ``term id * 16 + field class`` for
        # words, ("month"|"place"|"kind"|"country", value) for filters, and the 8 bytes of two
        # root codes for pairs of common words that are adjacent (see _pair_keys). Arrays, ints and
        # tuples of atoms are invisible to the cyclic garbage collector, which keeps its full
        # collections short even with millions of postings.
        self._slots: dict[object, array[int]] = {}
        self._bits: dict[object, int] = {}
        self._covered: dict[object, int] = {}  # how many leading slots a kept bitset holds
        # Filter values with how many live releases have them.
        self._months: dict[int, int] = {}
        self._places: dict[str, int] = {}
        self._kinds: dict[str, int] = {}
        self._languages: dict[str, int] = {}
        self._counts: dict[str, dict[Any, int]] = {
            "month": self._months,
            "place": self._places,
            "kind": self._kinds,
            "lang": self._languages,
        }
        # Phrase support: how many releases each root (by its 4-byte code) appears in, and the
        # roots common enough to have pair lists. Stop words count as common from the start.
        self._root_df: Counter[bytes] = Counter()
        self._frequent: set[bytes] = {_encode_id(self._root_of(word)) for word in ANY_STOPWORDS}
        self.add_many(releases)

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of)

    def frequency(self, term: str) -> int:
        """How many indexed releases hold ``term`` (an analysed term; 0 if none): how rare a
        word is, for whoever must pick the rarest of several (see bot.percolate)."""
        with self._lock:
            tid = self._term_id.get(term)
            return 0 if tid is None else self._df[tid]

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

    def newest(self) -> Sequence[Release]:
        """Every release, newest first, as a view decoded while it is read.

        For a scan that may stop early (``latest(len(index))`` would decode all 100,000 at
        once: 84 MB of objects). The view lists the releases indexed when it was made; one
        removed since is skipped when iterating.
        """
        with self._lock:
            return _NewestView(self, self._by_date[:])

    # -- writing ------------------------------------------------------------------------------

    def add(self, release: Release) -> None:
        """Index one release, replacing an indexed one with the same id."""
        self.add_many((release,))

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
            analysed = [(release, _analyze(release)) for release in latest.values()]
            with self._lock:
                self._apply(analysed)
            added += len(analysed)
            # Let a search that waited for the lock run now: without this the waiting thread
            # also waits for CPython's GIL switch interval (5 ms) while we tokenize on.
            time.sleep(0)
        if added > CHUNK_SIZE:
            # A bulk load: build the bitsets now rather than in the first searches. (After a
            # few releases, searches top the kept ones up themselves, which is cheap.)
            self._warm()

    def remove(self, release_id: str) -> None:
        """Drop a release from the index; unknown ids are ignored."""
        with self._lock:
            self._remove(release_id)

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
        parsed = _parse_query(query)
        if not parsed.terms() and not parsed.has_filters:
            return SearchResult([], 0, None)
        with self._lock:
            ranked, total, partial = self._run(parsed, offset + limit, language_of(language))
            page = ranked[offset:]
            releases = self._releases_of([slot for _, slot in page])
            hits = [Hit(release, score / 10)
                    for release, (score, _) in zip(releases, page, strict=True)]
            suggestion = self._suggest(query, parsed) if total == 0 or partial else None
        return SearchResult(hits, total, suggestion, partial)

    # -- persistence (the file format is bot.snapshot's) -------------------------------------

    #: Caches: the bitsets kept between queries (the only state a search writes) and the
    #: build's memo of word codes. A snapshot leaves them out; :meth:`from_state` starts
    #: them empty and rebuilds the bitsets.
    CACHES = frozenset({"_bits", "_covered", "_sequence_id"})

    def export_state(self) -> dict[str, Any]:
        """The index's state (the live objects, not copies) without its lock and caches.

        For writing it out (see bot.snapshot), which takes seconds at 100,000 releases: call
        it, and write, while nothing *adds or removes* releases (``Ingestor.index_writes``).
        Searches may go on meanwhile: they only touch :data:`CACHES`, which are left out.
        """
        return {name: value for name, value in vars(self).items()
                if name != "_lock" and name not in self.CACHES}

    def restore(self, other: SearchIndex) -> None:
        """Take over ``other``'s state (e.g. a loaded snapshot's); ``other`` is not used again."""
        state = {name: value for name, value in vars(other).items() if name != "_lock"}
        with self._lock:
            vars(self).update(state)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SearchIndex:
        """An index with the state :meth:`export_state` returned (in this or an earlier run)."""
        index = cls.__new__(cls)
        vars(index).update(state)
        index._lock = threading.Lock()
        for name in cls.CACHES:
            setattr(index, name, {})
        index._warm()
        return index

    # -- internals: indexing ------------------------------------------------------------------

    def _release(self, slot: int) -> Release:
        release = self._releases[slot]
        assert release is not None, "a live slot lost its release"
        return release

    def _releases_of(self, slots: list[int]) -> list[Release]:
        """The releases of live slots (each compressed block decoded once)."""
        releases = self._releases.many(slots)
        assert None not in releases, "a live slot lost its release"
        return releases  # type: ignore[return-value]

    def _sequence_code(self, term: str) -> bytes | None:
        """The code ``term`` has in the word sequences (its root's), None for an unknown root.

        Read-only, unlike the build's memo ``_sequence_id`` (not kept in a snapshot)."""
        rid = self._root_id.get(root(term))
        return None if rid is None else _encode_id(rid)

    def _family_of(self, rid: int | None) -> tuple[int, ...]:
        """The term ids of a root (a word family), () for an unknown root."""
        mates = self._family.get(rid, ())  # type: ignore[arg-type]
        return (mates,) if type(mates) is int else mates  # type: ignore[return-value]

    def _sortkey(self, slot: int) -> tuple[int, str]:
        """A slot's place in the order of results: newest first, then by id. Computed, not
        kept: a tuple per release would cost 9 MB at 100,000 releases."""
        return -self._dates[slot], self._ids[slot]

    def _root_of(self, term: str) -> int:
        key = root(term)
        rid = self._root_id.get(key)
        if rid is None:
            rid = self._root_id[key] = len(self._root_id)
        return rid

    def _intern(self, term: str) -> int:
        tid = self._term_id[term] = len(self._terms)
        rid = self._root_of(term)
        self._terms.append(term)
        self._term_root.append(rid)
        self._df.append(0)
        self._classes.append(0)
        self._term_langs.append(0)
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
        return tid

    def _apply(self, analysed: list[tuple[Release, _Analysis]]) -> None:
        # The build's hot path. Kept bitsets are not touched here: _bits_of tops them up from
        # the arrays when next asked, since each "|=" on a 100,000-bit int copies it.
        self._generation += 1
        new_live: list[int] = []
        term_id, df, classes, term_langs = self._term_id, self._df, self._classes, self._term_langs
        all_slots = self._slots
        sequence_id = self._sequence_id
        for release, analysis in analysed:
            lang_bit = _LANG_BIT.get(analysis.lang, 1)
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
            if analysis.joined:
                self._joined.update(term_id[term] for term in analysis.joined)
            codes: list[bytes | None] = list(map(sequence_id.get, analysis.sequence))
            if None in codes:
                for i, term in enumerate(analysis.sequence):
                    if codes[i] is None:
                        codes[i] = sequence_id[term] = _encode_id(self._root_of(term))
            self._sequences.append(b"".join(codes))
            for key in self._pair_keys(slot, codes):
                slots = all_slots.get(key)
                if slots is None:
                    slots = all_slots[key] = array("i")
                slots.append(slot)
            for key in self._filter_keys(release, analysis):
                self._post(key, slot)
                counts = self._counts.get(key[0])
                if counts is not None:
                    counts[key[1]] = counts.get(key[1], 0) + 1
        if new_live:
            base = new_live[0]
            self._live |= _bits_from([s - base for s in new_live]) << base

    def _post(self, key: object, slot: int) -> None:
        """Add a slot to a posting list (its kept bitset, if any, catches up when next read)."""
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = array("i")
        slots.append(slot)

    def _pair_keys(self, slot: int, codes: list[bytes]) -> set[bytes]:
        """Count a new release's roots and return its pair keys (both roots common).

        A root that just became common gets the pairs of the releases indexed before.
        """
        frequent, root_df = self._frequent, self._root_df
        distinct = set(codes)
        root_df.update(distinct)  # a Counter: counts in C
        for code in distinct:
            if code not in frequent and root_df[code] >= _PAIR_MIN_DF and code != _SEPARATOR:
                frequent.add(code)
                self._backfill_pairs(code, slot)
        return {a + b for a, b in pairwise(codes) if a in frequent and b in frequent}

    def _backfill_pairs(self, code: bytes, skip: int) -> None:
        """Post the pairs of a newly common root in the releases already indexed."""
        rid = _decode_id(code)
        holders: set[int] = set()
        for tid in self._family_of(rid):
            classes = self._classes[tid]
            for cls in range(classes.bit_length()):
                if classes >> cls & 1:
                    holders.update(self._slots[tid * 16 + cls])
        holders.discard(skip)
        frequent = self._frequent
        for slot in holders:
            sequence = self._sequences[slot]
            keys: set[bytes] = set()
            at = sequence.find(code)
            while at >= 0:
                before, after = sequence[at - 4 : at] if at else b"", sequence[at + 4 : at + 8]
                if before in frequent:
                    keys.add(before + code)
                if after in frequent:
                    keys.add(code + after)
                at = sequence.find(code, at + 4)
            for key in keys:
                self._post(key, slot)

    @staticmethod
    def _filter_keys(release: Release, analysis: _Analysis) -> list[tuple[str, object]]:
        keys: list[tuple[str, object]] = [
            ("month", release.date.year * 12 + release.date.month - 1),
            ("kind", analysis.kind),
            ("lang", analysis.lang),
        ]
        if analysis.place:
            keys.append(("place", analysis.place))
        keys.extend(("country", country) for country in analysis.countries)
        return keys

    def _unpost(self, key: object, slot: int) -> None:
        slots = self._slots.get(key)
        if slots is None or slot not in slots:
            return
        kept = key in self._bits
        if kept:
            self._bits_of(key)  # catch up first: afterwards it covers the whole array again
        slots.remove(slot)
        if kept:
            self._bits[key] &= ~(1 << slot)
            self._covered[key] = len(slots)
        if not slots:
            del self._slots[key]
            self._bits.pop(key, None)
            self._covered.pop(key, None)

    def _bits_of(self, key: object) -> int:
        """The bitset of a posting list, kept (and caught up) once the list is long enough.

        Months are always kept, because a date filter ORs many of them.
        """
        slots = self._slots.get(key)
        if not slots:
            return 0
        bits = self._bits.get(key)
        if bits is None:
            bits = _bits_from(slots)
            if len(slots) >= _CACHE_BITS_MIN or (isinstance(key, tuple) and key[0] == "month"):
                self._bits[key] = bits
                self._covered[key] = len(slots)
            return bits
        covered = self._covered[key]
        if covered < len(slots):
            bits |= _bits_from(slots[covered:])
            self._bits[key] = bits
            self._covered[key] = len(slots)
        return bits

    def _warm(self) -> None:
        """Materialize the bitsets of all long posting lists, a few at a time under the lock.

        Run after a bulk load, so that the first searches for common words are as fast as the
        later ones.
        """
        with self._lock:
            keys = [
                key
                for key, slots in self._slots.items()
                if len(slots) >= _CACHE_BITS_MIN or (isinstance(key, tuple) and key[0] == "month")
            ]
        done = 0
        while done < len(keys):
            # A few milliseconds of work per lock hold, so searches keep flowing meanwhile.
            deadline = time.perf_counter() + 0.003
            with self._lock:
                while done < len(keys) and time.perf_counter() < deadline:
                    self._bits_of(keys[done])
                    done += 1
            time.sleep(0)

    def _remove(self, release_id: str) -> None:
        slot = self._slot_of.pop(release_id, None)
        if slot is None:
            return
        self._generation += 1
        release = self._release(slot)
        analysis = _analyze(release)  # the same analysis as when it was added
        for term, cls in analysis.classes.items():
            tid = self._term_id[term]
            self._df[tid] -= 1
            self._unpost(tid * 16 + cls, slot)
            if tid * 16 + cls not in self._slots:
                self._classes[tid] &= ~(1 << cls)
        sequence = self._sequences[slot]
        codes = [sequence[i : i + 4] for i in range(0, len(sequence), 4)]
        self._root_df.subtract(set(codes))
        frequent = self._frequent
        for key in {a + b for a, b in pairwise(codes) if a in frequent and b in frequent}:
            self._unpost(key, slot)
        for key in self._filter_keys(release, analysis):
            self._unpost(key, slot)
            counts = self._counts.get(key[0])
            if counts is not None:
                counts[key[1]] -= 1
                if not counts[key[1]]:
                    del counts[key[1]]
        index = bisect.bisect_left(
            self._by_date, self._sortkey(slot), key=self._sortkey
        )
        assert self._by_date[index] == slot, "date order out of step with the slots"
        del self._by_date[index]
        self._live &= ~(1 << slot)
        self._releases.discard(slot)
        self._sequences[slot] = b""

    # -- internals: query evaluation -----------------------------------------------------------

    def _run(
        self, parsed: _Query, n: int, prefer: str | None = None
    ) -> tuple[list[tuple[int, int]], int, bool]:
        """The first ``n`` (score, slot) pairs of the ranking, the number of matches, and
        whether they are partial (no release had every word). Releases in the ``prefer``
        language win ties."""
        allowed = self._filter_bits(parsed)
        for word in parsed.excluded:
            for lang in self._query_languages():
                allowed &= ~self._exact_bits(stem(word, lang))
        matched: dict[str, _TermMatch] = {}
        for term in parsed.terms():
            matched[term] = self._match_term(term)
        phrases = [
            [matched.get(w) or self._match_term(w, for_phrase=True) for w in phrase]
            for phrase in parsed.phrases
        ]
        # A query that names a taxonomy entry as a whole ("child labour", "travail des
        # enfants") also finds the entry's other terms, as the topic would.
        whole = self._synonym_match(" ".join(parsed.words)) if len(parsed.words) > 1 else None
        if self._synonyms is not None:
            for term, match in matched.items():
                extra = self._synonym_match(term)
                if extra is not None:
                    matched[term] = _TermMatch(
                        [*match.weighted, *extra.weighted], match.matches | extra.matches,
                        match.roots, match.keys)
        terms = list(matched.values())
        candidates = allowed
        for match in terms:
            candidates &= match.matches
        candidates = self._apply_phrases(candidates, phrases)
        if whole is not None:
            candidates |= allowed & whole.matches
            terms.append(whole)
        partial = False
        if not candidates and len(terms) > 1:
            # Nothing has every word: fall back to releases with some of them (ranked lower,
            # since the missing words add nothing to their score).
            anyword = 0
            for match in terms:
                anyword |= match.matches
            candidates = self._apply_phrases(allowed & anyword, phrases)
            partial = True
        if not candidates:
            return [], 0, False
        planes = self._score_planes(terms)
        if prefer is None or not terms or prefer not in self._languages:
            return self._rank(planes, candidates, n, parsed.before), candidates.bit_count(), partial
        # The reader's language as a new lowest bit: it decides between equal scores only.
        planes.insert(0, self._bits_of(("lang", prefer)) & candidates)
        ranked = self._rank(planes, candidates, n, parsed.before)
        return [(score >> 1, slot) for score, slot in ranked], candidates.bit_count(), partial

    def _synonym_match(self, text: str) -> _TermMatch | None:
        """The releases with any taxonomy synonym of ``text`` (words exactly, in the synonym's
        language; phrases adjacent), scored at :data:`_SYNONYM_WEIGHT`; None when it names no
        entry. Exact lookups only, and only in languages the index holds, so it stays cheap."""
        if self._synonyms is None or not text:
            return None
        cached = self._synonym_cache.get(text)
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        if len(self._synonym_cache) >= 1024:
            self._synonym_cache.clear()
        found = self._synonyms_uncached(text)
        self._synonym_cache[text] = (self._generation, found)
        return found

    def _synonyms_uncached(self, text: str) -> _TermMatch | None:
        assert self._synonyms is not None
        alternatives = self._synonyms(text)
        if not alternatives:
            return None
        languages = set(self._query_languages())
        bits = 0
        for lang, alternative in alternatives:
            if lang not in languages:
                continue
            words = list(_words_of(alternative))
            phrase = [self._exact_match(w, lang) for w in words]
            if not all(phrase):
                continue  # a word no release in that language has
            if len(phrase) == 1:
                bits |= phrase[0].matches  # type: ignore[union-attr]
            else:
                bits |= self._apply_phrases(self._live, [phrase])  # type: ignore[list-item]
        bits &= self._live
        return _TermMatch([(_SYNONYM_WEIGHT, bits)], bits, set(), [])

    def _exact_match(self, word: str, lang: str) -> _TermMatch | None:
        """A word's own term in ``lang`` (a stop word: its phrase position), or None."""
        if word in ANY_STOPWORDS:
            return self._match_term(word, for_phrase=True)
        tid = self._term_id.get(stem(word, lang))
        if tid is None or not self._df[tid]:
            return None
        keys = [tid * 16 + cls for cls in range(self._classes[tid].bit_length())
                if self._classes[tid] >> cls & 1]
        matches = 0
        for key in keys:
            matches |= self._bits_of(key)
        return _TermMatch([], matches, {self._term_root[tid]}, keys)

    def _query_languages(self) -> list[str]:
        """The languages a query word is stemmed in: English, and those the index holds."""
        return [lang for lang in LANGUAGES if lang == "en" or self._languages.get(lang)]

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

    def _score_planes(self, terms: list[_TermMatch]) -> list[int]:
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
            _add_planes(planes, term_planes)
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
            above, tied = _top_split(planes, candidates, n)
        plane_bytes = [plane.to_bytes((plane.bit_length() + 7) >> 3, "little") for plane in planes]

        def score(slot: int) -> int:
            return sum(1 << j for j, data in enumerate(plane_bytes) if _has(data, slot))

        ranked = sorted(
            ((score(slot), slot) for slot in _members(above)),
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
            return heapq.nsmallest(count, _members(bits), key=self._sortkey)
        start = 0
        if before is not None:  # everything newer is filtered out: start the scan below it
            start = bisect.bisect_left(
                self._by_date, (1 - before.toordinal(), ""), key=self._sortkey
            )
        budget = 8 * count * live // size + 64
        data = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
        out: list[int] = []
        for slot in self._by_date[start : start + budget]:
            if _has(data, slot):
                out.append(slot)
                if len(out) == count:
                    return out
        # The matches cluster in old releases (the scan met too few): sort them all after all.
        return heapq.nsmallest(count, _members(bits), key=self._sortkey)

    # -- internals: vocabulary lookups ---------------------------------------------------------

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
            out[tid] = _EXACT
        for lang in self._query_languages()[1:]:
            other = self._term_id.get(stem(word, lang))
            if other is not None and df[other] and self._term_langs[other] & _LANG_BIT[lang]:
                out[other] = _EXACT
        if family_root is not None:
            for mate in self._family_of(family_root):
                if df[mate] and mate not in out:
                    out[mate] = _FAMILY
        if out or not term.isalpha() or len(term) < 4:
            return list(out.items())
        prefixed = [
            t
            for t in self._by_prefix.get(term[:4], ())
            if df[t] and self._terms[t].startswith(term)
        ]
        if prefixed:
            prefixed.sort(key=lambda t: (-df[t], self._terms[t]))
            return [(t, _PREFIX) for t in prefixed[:_MAX_PREFIX_TERMS]]
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

    def _match_term(self, term: str, for_phrase: bool = False) -> _TermMatch:
        """A query word resolved against the vocabulary (a stop word only as a phrase's
        position)."""
        if for_phrase and term in ANY_STOPWORDS:
            rid = self._root_id.get(root(term))
            return _TermMatch([], 0, {rid} if rid is not None else set(), [])
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
                    weighted.append((quality * _CLASS_WEIGHT[cls], bits))
                    matches |= bits
        return _TermMatch(weighted, matches, roots, keys)

    # -- internals: phrases and filters ----------------------------------------------------------

    def _apply_phrases(self, candidates: int, phrases: list[list[_TermMatch]]) -> int:
        for phrase in phrases:
            if not candidates or not all(word.roots for word in phrase):
                return 0
            words = [word for word in phrase if word.keys]  # stop words have no postings
            for word in words:
                candidates &= word.matches
            found = 0
            combos = product(*(sorted(word.roots) for word in phrase))
            for combo in islice(combos, _MAX_PHRASE_PATTERNS):
                found |= self._phrase_bits([_encode_id(rid) for rid in combo], candidates, words)
            candidates &= found
        return candidates

    def _phrase_bits(self, codes: list[bytes], candidates: int, words: list[_TermMatch]) -> int:
        """The candidates whose title or summary has these roots adjacent, in this order."""
        pattern = b"".join(codes)
        pairs = list(pairwise(codes))
        if all(a in self._frequent and b in self._frequent for a, b in pairs):
            for a, b in pairs:
                candidates &= self._bits_of(a + b)
            if len(codes) == 2 or not candidates:
                return candidates  # a pair list is exactly the two-word phrase
            sources: list[Iterable[int]] = [_members(candidates)]
        else:
            # Some root is uncommon, so its word's posting lists are short: check those
            # releases' word sequences (or the candidates themselves, when fewer).
            rarest = min(words, key=lambda word: word.matches.bit_count(), default=None)
            if rarest is None or candidates.bit_count() * 4 < rarest.matches.bit_count():
                sources = [_members(candidates)]
            else:
                sources = [self._slots[key] for key in rarest.keys]
        kept: list[int] = []
        sequences = self._sequences
        for slots in sources:
            has = map(operator.contains, map(sequences.__getitem__, slots), repeat(pattern))
            kept.extend(compress(slots, has))
        return candidates & _bits_from(kept)

    def _filter_bits(self, parsed: _Query) -> int:
        bits = self._live
        if parsed.since or parsed.before:
            bits &= self._date_bits(parsed.since, parsed.before)
        for values, resolve in (
            (parsed.places, self._place_bits),
            (parsed.countries, self._country_bits),
            (parsed.kinds, self._kind_bits),
            (parsed.languages, lambda lang: self._bits_of(("lang", lang))),
        ):
            if values:
                union = 0
                for value in values:
                    union |= resolve(value)
                bits &= union
        return bits

    def _date_bits(self, since: date | None, before: date | None) -> int:
        low = since or date.min
        high = before or date.max
        if low >= high:
            return 0
        first = low.year * 12 + low.month - 1
        last = high.year * 12 + high.month - 1
        bits = 0
        for month in self._months:
            if first < month < last or (month in (first, last) and low.day == 1 and month != last):
                bits |= self._bits_of(("month", month))
            elif month in (first, last):
                slots = self._slots.get(("month", month), ())
                low_day, high_day = low.toordinal(), high.toordinal()
                dates = self._dates
                bits |= _bits_from([s for s in slots if low_day <= dates[s] < high_day])
        return bits

    def _place_bits(self, value: str) -> int:
        bits = 0
        for place in self._matching_keys(value, self._places):
            bits |= self._bits_of(("place", place))
        return bits

    def _kind_bits(self, value: str) -> int:
        bits = 0
        for kind in self._kinds:
            if value in kind:
                bits |= self._bits_of(("kind", kind))
        return bits

    def _country_bits(self, value: str) -> int:
        country = country_of(value)
        if country is None:
            names = list(COUNTRY_NAMES)
            best = process.extractOne(value, names, scorer=fuzz.ratio, score_cutoff=85)
            country = COUNTRY_NAMES[best[0]] if best else None
        if country is not None:
            return self._bits_of(("country", country))
        # Not a country we know by name: releases that mention the word anywhere.
        bits = 0
        for word in value.split():
            bits |= self._match_term(word).matches
        return bits

    @staticmethod
    def _matching_keys(value: str, keys: Iterable[str]) -> list[str]:
        keys = list(keys)
        found = [key for key in keys if value in key]
        found += [
            choice
            for choice, _, _ in process.extract(
                value, keys, scorer=fuzz.ratio, score_cutoff=80, limit=None
            )
            if choice not in found
        ]
        return found

    # -- internals: did you mean -----------------------------------------------------------------

    def _suggest(self, text: str, parsed: _Query) -> str | None:
        """The query with unknown words (and filter values) replaced by close known ones."""
        fixes: dict[str, str] = {}
        for word in [*parsed.words, *(w for phrase in parsed.phrases for w in phrase)]:
            term = stem(word)
            if word in ANY_STOPWORDS or not word.isalpha() or len(word) < 3 or self._variants(word):
                continue
            loose = 1 if len(term) <= 4 else 2 if len(term) <= 7 else 3
            closest = self._closest(term, loose)
            if closest:
                fixes[word] = self._terms[closest[0][0]]
        filter_fixes: dict[str, str] = {}
        kind_words = sorted({word for kind in self._kinds for word in kind.split()})
        for key, values, known, resolve in (
            ("place", parsed.places, list(self._places), self._place_bits),
            ("kind", parsed.kinds, kind_words, self._kind_bits),
        ):
            for value in values:
                if known and not resolve(value):
                    best = process.extractOne(value, known, scorer=fuzz.ratio, score_cutoff=60)
                    if best:
                        filter_fixes[f"{key}:{value}"] = f"{key}:{best[0]}"
        if not fixes and not filter_fixes:
            return None
        suggestion = self._rewrite(text, fixes, filter_fixes)
        try:
            _, total, partial = self._run(_parse_query(suggestion), 0)
            total = 0 if partial else total  # a suggestion must match every one of its words
        except QueryError:
            return None
        return suggestion if total else None

    @staticmethod
    def _rewrite(text: str, fixes: dict[str, str], filter_fixes: dict[str, str]) -> str:
        out: list[str] = []
        for match in _QUERY_TOKEN.finditer(text):
            token = match.group(0)
            key = (match.group("key") or "").lower()
            if key in _FILTER_KEYS:
                value = (
                    match.group("qval") if match.group("qval") is not None else match.group("val")
                )
                fixed = filter_fixes.get(f"{key}:{' '.join(fold(value or '').split())}")
                if fixed:
                    value = fixed.split(":", 1)[1]
                    token = f'{key}:"{value}"' if " " in value else f"{key}:{value}"
            elif match.group("phrase") is not None:
                words = [fixes.get(w, w) for w in _words_of(match.group("phrase"))]
                if any(w in fixes for w in _words_of(match.group("phrase"))):
                    token = '"' + " ".join(words) + '"'
            else:
                words = list(_words_of(token))
                if any(w in fixes for w in words):
                    token = " ".join(fixes.get(w, w) for w in words)
            out.append(token)
        return " ".join(out)


class _NewestView(Sequence[Release]):
    """Releases of a fixed list of slots, decoded a block of slots at a time."""

    _STEP = 256

    def __init__(self, index: SearchIndex, slots: array[int]) -> None:
        self._index = index
        self._slots = slots

    def __len__(self) -> int:
        return len(self._slots)

    def _decode(self, slots: Sequence[int]) -> list[Release | None]:
        with self._index._lock:
            return self._index._releases.many(slots)

    def __getitem__(self, at: Any) -> Any:
        if isinstance(at, slice):
            return [r for r in self._decode(self._slots[at]) if r is not None]
        release = self._decode([self._slots[at]])[0]
        if release is None:
            raise LookupError("that release was removed from the index")
        return release

    def __iter__(self) -> Iterator[Release]:
        for start in range(0, len(self._slots), self._STEP):
            for release in self._decode(self._slots[start : start + self._STEP]):
                if release is not None:
                    yield release


def _words_of(text: str) -> Iterator[str]:
    for word in split_words(text):
        yield from word.split("-")
