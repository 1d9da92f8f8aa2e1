"""Percolation: which subscription topics a new release matches, without testing them all.

Distinct topics (not subscriptions: 100,000 subscriptions share a couple of thousand) are
indexed by their required words. A topic's form (:meth:`TopicMatcher.compile`) needs every
include term; the term that is cheapest to watch (its alternatives' words the rarest: a
document frequency when one is given, else the longest words) is picked, and each of its
alternatives is posted under its rarest word, (language, key).

A release then finds its candidate topics by:

* exact dictionary lookups of its own keys (``(language, key)``), and
* for each of its words of five letters or more, the posted words it may be a typo of. Those
  come from a per-word map, filled the first time a word is seen (rapidfuzz narrows the posted
  words of the same language and first letter to those within two edits, then the matcher's
  own rule, :func:`bot.text.typo_distance`, decides) and kept for later releases; a word
  posted later is tested against the cached words of its letter, so the map stays exact.

Only those candidates are matched exactly with :meth:`TopicMatcher.matches`. So the cost
grows with the release's words and the topics it may match, not with every subscription or
every topic, and the answer is the matcher's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.releases import Release
from bot.text import typo_budget, typo_distance
from bot.topics.matcher import TopicMatcher
from bot.topics.terms import Alt
from bot.topics.topic import Topic, TopicError

_Pair = tuple[str, str]
#: (language, word, key) -> about how many releases hold it; smaller is rarer. None: unknown.
Frequency = Callable[[str, str, str], "int | None"]
#: Release words remembered with their typo neighbours; the map is emptied beyond this.
_TYPO_CACHE_LIMIT = 200_000
#: Every typo the matcher forgives is within this many Levenshtein edits, as written or as
#: keys (one OSA edit is at most two; two dropped or doubled letters are two).
_MAX_EDITS = 2


def _typo_able(word: str) -> bool:
    return bool(typo_budget(len(word))) and word.isalpha()


class _Letter:
    """Posted words (five letters or more) of one language and first letter, for typos."""

    __slots__ = ("keys", "pairs", "words")

    def __init__(self) -> None:
        self.pairs: list[_Pair] = []
        self.words: list[str] = []
        self.keys: list[str] = []


class TopicIndex:
    """The distinct topics of every subscription, indexed for percolation (not thread-safe
    for writes: add and match from one thread at a time)."""

    def __init__(self, matcher: TopicMatcher, frequency: Frequency | None = None,
                 parsed: Mapping[str, Topic | None] | None = None) -> None:
        self.matcher = matcher
        self._frequency = frequency
        #: Parsed topics known from an earlier index (parsing is the costly part of a rebuild).
        self._parsed = parsed or {}
        self._topics: dict[str, Topic | None] = {}
        self._always: set[str] = set()
        # (language, key) -> topic keys posted under it.
        self._by_key: dict[_Pair, set[str]] = {}
        # (language, word, key) of a posted typo-able word -> topic keys posted under it.
        self._typos: dict[tuple[str, str, str], set[str]] = {}
        self._letters: dict[_Pair, _Letter] = {}
        # (language, release word, its key) -> the posted typo-able words it is a typo of;
        # grouped by (language, first letter) so a newly posted word updates only its group.
        self._near: dict[_Pair, dict[_Pair, list[_Pair]]] = {}
        self._near_size = 0

    @property
    def topics(self) -> Mapping[str, Topic | None]:
        """Every indexed key and its parsed topic (None: matches every release or nothing)."""
        return self._topics

    def add(self, keys: Iterable[str]) -> None:
        """Index these stored topic keys (known ones are skipped)."""
        for key in keys:
            if key not in self._topics:
                self._add(key)

    def _parse(self, key: str) -> Topic | None:
        if key in self._parsed:
            return self._parsed[key]
        return self.matcher.parse(key) if key else None

    def _add(self, key: str) -> None:
        try:
            topic = self._parse(key)
        except TopicError:
            # A key that no longer parses matches nothing (see Ingestor.topic).
            self._topics[key] = None
            return
        self._topics[key] = topic
        if topic is None or not topic.include:
            if key == "":
                self._always.add(key)  # every release
            return
        form = self.matcher.compile(topic)
        posts = min((self._posts(alts) for alts in form.include), key=lambda p: p[0])[1]
        for lang, word, word_key in posts:
            self._by_key.setdefault((lang, word_key), set()).add(key)
            if _typo_able(word):
                posted = self._typos.setdefault((lang, word, word_key), set())
                if not posted:
                    self._post_typo(lang, word, word_key)
                posted.add(key)

    def _posts(self, alts: tuple[Alt, ...]) -> tuple[float, list[tuple[str, str, str]]]:
        """For one include term: each alternative's rarest word, and what watching them costs
        (the releases that hold any of them, estimated)."""
        cost = 0.0
        posts: list[tuple[str, str, str]] = []
        for lang, seq in alts:
            word, word_key = min(seq, key=lambda pair: self._rarity(lang, *pair))
            cost += self._rarity(lang, word, word_key)[0]
            posts.append((lang, word, word_key))
        return cost, posts

    def _rarity(self, lang: str, word: str, word_key: str) -> tuple[float, int]:
        known = self._frequency(lang, word, word_key) if self._frequency else None
        if known is None:
            return 1000.0 / max(len(word), 1), -len(word)
        freq = float(known)
        # Typo-able words also draw their near neighbours: count them a little dearer.
        if _typo_able(word):
            freq = freq * 1.1 + 1
        return freq, -len(word)

    def _post_typo(self, lang: str, word: str, word_key: str) -> None:
        """A typo-able word is posted for the first time: remember it for typo lookups, and
        add it to the cached neighbours of the release words it is a typo of."""
        letter = self._letters.setdefault((lang, word[0]), _Letter())
        letter.pairs.append((word, word_key))
        letter.words.append(word)
        letter.keys.append(word_key)
        for (other, other_key), near in self._near.get((lang, word[0]), {}).items():
            if typo_distance(word, word_key, other, other_key) is not None:
                near.append((word, word_key))

    def _typo_neighbours(self, lang: str, word: str, word_key: str) -> list[_Pair]:
        """The posted typo-able words that a release word (of five letters or more) is a typo
        of, exactly as :func:`typo_distance` says (cached per word)."""
        group = self._near.setdefault((lang, word[0]), {})
        near = group.get((word, word_key))
        if near is not None:
            return near
        near = []
        letter = self._letters.get((lang, word[0]))
        if letter is not None:
            seen = {i for _, _, i in process.extract(
                word, letter.words, scorer=Levenshtein.distance, score_cutoff=_MAX_EDITS,
                limit=None)}
            seen.update(i for _, _, i in process.extract(
                word_key, letter.keys, scorer=Levenshtein.distance, score_cutoff=_MAX_EDITS,
                limit=None))
            for i in seen:
                other, other_key = letter.pairs[i]
                if typo_distance(word, word_key, other, other_key) is not None:
                    near.append((other, other_key))
        if self._near_size >= _TYPO_CACHE_LIMIT:
            self._near.clear()
            self._near_size = 0
            group = self._near.setdefault((lang, word[0]), {})
        group[(word, word_key)] = near
        self._near_size += 1
        return near

    def candidates(self, release: Release) -> set[str]:
        """Topic keys that may match ``release`` (a superset of those that do)."""
        prepared = self.matcher.prepare(release)
        lang = prepared.lang
        found = set(self._always)
        by_key, typos = self._by_key, self._typos
        for key in prepared.keys:
            hit = by_key.get((lang, key))
            if hit:
                found.update(hit)
        for word, word_key in prepared.typo_words():
            for other, other_key in self._typo_neighbours(lang, word, word_key):
                found.update(typos[(lang, other, other_key)])
        return found

    def matching(self, release: Release) -> list[str]:
        """The indexed topic keys ``release`` matches, exactly as TopicMatcher says."""
        prepared = self.matcher.prepare(release)
        out = []
        for key in self.candidates(release):
            topic = self._topics.get(key)
            if key == "" or (topic is not None and self.matcher.matches(topic, prepared)):
                out.append(key)
        return sorted(out)
