"""A release read once for matching many topics against it: :class:`PreparedRelease`."""

from __future__ import annotations

from functools import lru_cache

from bot.releases import Release
from bot.text import LANGUAGES, match_key, typo_budget, typo_distance
from bot.topics.terms import STOPWORDS, Seq, words

__all__ = ["PreparedRelease", "occurs", "prepare"]


class PreparedRelease:
    """A release tokenised once, so matching many topics against it is cheap.

    Holds each searchable field (title, summary, place, each of the release's own topics) as a
    sequence of (word, key) pairs, the set of all keys for exact lookups, and an index by
    first letter of the longer words for typo matching. Typo lookups are memoised per word,
    since thousands of subscriptions share few distinct words.
    """

    __slots__ = ("_by_letter", "_fields", "_hits", "_stems", "lang", "release")

    def __init__(self, release: Release) -> None:
        self.release = release
        self.lang = release.language if release.language in LANGUAGES else "en"
        lang = self.lang
        texts = (release.title, release.summary, release.place or "", *release.topics)
        fields = []
        for text in texts:
            every = tuple(words(text))
            # Positions of the content words in ``every``, to quote a match with its stopwords.
            where = tuple(i for i, w in enumerate(every) if w not in STOPWORDS)
            if where:
                fields.append(
                    (tuple((every[i], match_key(every[i], lang)) for i in where), every, where))
        self._fields: tuple[tuple[Seq, tuple[str, ...], tuple[int, ...]], ...] = tuple(fields)
        self._stems = frozenset(s for seq, _, _ in self._fields for _, s in seq)
        by_letter: dict[str, set[tuple[str, str]]] = {}
        for seq, _, _ in self._fields:
            for word, word_stem in seq:
                # Shorter words can never be within a typo of anything (see typo_budget).
                if len(word) >= 5 and word.isalpha():
                    by_letter.setdefault(word[0], set()).add((word, word_stem))
        self._by_letter = {k: tuple(sorted(v)) for k, v in by_letter.items()}
        self._hits: dict[tuple[str, str], frozenset[str]] = {}

    @property
    def keys(self) -> frozenset[str]:
        """Every word key of the release (what an exact topic word must equal)."""
        return self._stems

    def typo_words(self) -> list[tuple[str, str]]:
        """The (word, key) pairs a topic word may be a typo of (five letters or more)."""
        return [pair for pairs in self._by_letter.values() for pair in pairs]

    def hits(self, word: str, word_stem: str) -> frozenset[str]:
        """The release's keys that a topic word matches: its own key, or typos of it."""
        key = (word, word_stem)
        found = self._hits.get(key)
        if found is None:
            matched = {word_stem} if word_stem in self._stems else set()
            if typo_budget(len(word)) and word.isalpha():
                for other, other_stem in self._by_letter.get(word[0], ()):
                    if typo_distance(word, word_stem, other, other_stem) is not None:
                        matched.add(other_stem)
            found = self._hits[key] = frozenset(matched)
        return found

    def find(self, seq: Seq, *, fuzzy: bool = True) -> str | None:
        """The release text where the term ``seq`` occurs (adjacent if several), else None."""
        if fuzzy:
            wanted = [self.hits(w, s) for w, s in seq]
        else:
            wanted = [frozenset({s}) if s in self._stems else frozenset() for _, s in seq]
        if not all(wanted):
            return None
        width = len(wanted)
        for field, every, where in self._fields:
            for start in range(len(field) - width + 1):
                if all(field[start + i][1] in wanted[i] for i in range(width)):
                    return " ".join(every[where[start] : where[start + width - 1] + 1])
        return None

    def contains(self, seq: Seq, *, fuzzy: bool = True) -> bool:
        """Whether the term ``seq`` occurs; single words skip the field scan."""
        if len(seq) == 1:
            word, word_stem = seq[0]
            if word_stem in self._stems:
                return True
            return fuzzy and bool(self.hits(word, word_stem))
        return self.find(seq, fuzzy=fuzzy) is not None


@lru_cache(maxsize=256)
def prepare(release: Release) -> PreparedRelease:
    """The prepared form of ``release``, memoised for recent releases."""
    return PreparedRelease(release)


def occurs(release: Release, seq: Seq, fuzzy: bool) -> bool:
    """Whether the term ``seq`` occurs in ``release`` (:meth:`PreparedRelease.contains`): the
    rule the search index is asked to evaluate on many releases at once
    (:data:`bot.search.occurrences.Contains`)."""
    return prepare(release).contains(seq, fuzzy=fuzzy)
