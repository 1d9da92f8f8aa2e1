"""Percolation: which subscription topics a new release matches, without testing them all.

Distinct topics (not subscriptions: 100,000 subscriptions share a couple of thousand) are
indexed by their required words. A topic's form (:meth:`TopicMatcher.compile`) needs every
include term; one term is picked (the one whose alternatives have the longest, so rarest,
words) and each of its alternatives is posted under one of its words, (language, key). A
release then looks up its own keys, plus the topic words it holds a typo of (found with
rapidfuzz among the topic words of the same first letter, then checked with the matcher's
own rule), and only those candidate topics are matched exactly with
:meth:`TopicMatcher.matches`. So the cost grows with the release's words and the topics it
may match, not with every subscription, and the answer is the matcher's.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.releases import Release
from bot.text import typo_budget
from bot.topics import Topic, TopicError, TopicMatcher

_Pair = tuple[str, str]


class _Letter:
    """Topic words (five letters or more) of one language and first letter, for typos."""

    __slots__ = ("keys", "pairs", "words")

    def __init__(self) -> None:
        self.pairs: list[_Pair] = []
        self.words: list[str] = []
        self.keys: list[str] = []


class TopicIndex:
    """The distinct topics of every subscription, indexed for percolation (not thread-safe
    for writes: add and match from one thread at a time)."""

    def __init__(self, matcher: TopicMatcher) -> None:
        self.matcher = matcher
        self._topics: dict[str, Topic | None] = {}
        self._always: set[str] = set()
        self._by_key: dict[_Pair, set[str]] = {}
        self._typos: dict[_Pair, set[str]] = {}
        self._letters: dict[_Pair, _Letter] = {}

    def __len__(self) -> int:
        return len(self._topics)

    def __contains__(self, key: str) -> bool:
        return key in self._topics

    def add(self, keys: Iterable[str]) -> None:
        """Index these stored topic keys (known ones are skipped)."""
        for key in keys:
            if key not in self._topics:
                self._add(key)

    def _add(self, key: str) -> None:
        try:
            topic = self.matcher.parse(key) if key else None
        except TopicError:
            topic = None  # a key that no longer parses matches nothing (see Ingestor.topic)
            self._topics[key] = None
            return
        self._topics[key] = topic
        if topic is None or not topic.include:
            self._always.add(key)  # "" is every release
            return
        form = self.matcher.compile(topic)
        # The term whose alternatives' words are rarest (longest, as a proxy) is the key.
        def rarity(alts: tuple) -> int:
            return min(max(len(w) for w, _ in seq) for _, seq in alts)
        alts = max(form.include, key=rarity)
        for lang, seq in alts:
            word, word_key = max(seq, key=lambda pair: len(pair[0]))
            self._by_key.setdefault((lang, word_key), set()).add(key)
            if typo_budget(len(word)) and word.isalpha():
                pair = (word, word_key)
                posted = self._typos.setdefault(pair, set())
                if not posted:
                    letter = self._letters.setdefault((lang, word[0]), _Letter())
                    letter.pairs.append(pair)
                    letter.words.append(word)
                    letter.keys.append(word_key)
                posted.add(key)

    def candidates(self, release: Release) -> set[str]:
        """Topic keys that may match ``release`` (a superset of those that do)."""
        prepared = self.matcher.prepare(release)
        lang = prepared.lang
        found = set(self._always)
        for key in prepared.keys:
            found.update(self._by_key.get((lang, key), ()))
        for word, word_key in prepared.typo_words():
            letter = self._letters.get((lang, word[0]))
            if letter is None:
                continue
            budget = 2 * typo_budget(len(word)) + 2
            near = {i for _, _, i in process.extract(
                word, letter.words, scorer=Levenshtein.distance, score_cutoff=budget,
                limit=None)}
            near.update(i for _, _, i in process.extract(
                word_key, letter.keys, scorer=Levenshtein.distance, score_cutoff=budget,
                limit=None))
            for i in near:
                pair = letter.pairs[i]
                if prepared.hits(*pair):
                    found.update(self._typos[pair])
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
