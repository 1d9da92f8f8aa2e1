"""The one object the bot asks about topics: :class:`TopicMatcher` parses them and decides,
release by release, whether they match (the rules are in :mod:`bot.topics`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from bot.releases import Release
from bot.search.occurrences import Expansion, TermForm
from bot.topics.parser import TopicParser
from bot.topics.prepared import PreparedRelease, occurs, prepare
from bot.topics.synonyms import Synonyms
from bot.topics.taxonomy import TaxonomyEntry, default_taxonomy, load_taxonomy
from bot.topics.terms import alternatives
from bot.topics.topic import Topic, TopicError

__all__ = ["TopicForm", "TopicMatcher"]

# Compiled topics are cleared wholesale beyond this size: topics are few (one per subscription).
_FORM_CACHE_LIMIT = 100_000


#: A topic compiled against a taxonomy (:meth:`TopicMatcher.compile`): per include term, the
#: alternatives that satisfy it; exclusion alternatives. The search index evaluates it.
TopicForm = TermForm


class TopicMatcher:
    """Parses topics and matches them against releases, using a synonym taxonomy.

    One matcher serves the whole bot; it is cheap to query and holds only caches that are safe
    to share (parsing is pure, compiled topics are memoised).
    """

    def __init__(self, taxonomy: Sequence[TaxonomyEntry] = ()) -> None:
        self._synonyms = Synonyms(taxonomy)
        self._parser = TopicParser(self._synonyms)
        self._forms: dict[Topic, TopicForm] = {}
        self._expansions: dict[str, Expansion | None] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TopicMatcher:
        """The matcher over a taxonomy TOML file (see :func:`bot.topics.load_taxonomy`); a
        malformed file raises ValueError naming the file, a missing one OSError."""
        entries = load_taxonomy(path)
        try:
            return cls(entries)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    @classmethod
    def default(cls) -> TopicMatcher:
        """The matcher over the repository's ``data/topics.toml``; an empty taxonomy (with a
        warning) when that file is missing, so the bot still runs without suggestions."""
        path = default_taxonomy()
        return cls() if path is None else cls.from_file(path)

    def taxonomy(self) -> list[TaxonomyEntry]:
        """The suggested topics, in file order (``parse(entry.name)`` gives each one's topic)."""
        return list(self._synonyms.entries)

    def parse(self, text: str) -> Topic:
        """Read what a user typed after ``/subscribe`` into a :class:`Topic`.

        ``"Trafficking  -Football"`` gives ``Topic(("trafficking",), ("football",),
        "trafficking -football")``. Words are folded and deduplicated in order; quoted or
        hyphenated groups are phrases; stopwords between words are dropped; misspelt taxonomy
        terms are corrected. Raises :class:`TopicError` (message for the user) for an empty
        topic, only exclusions, a key over 100 characters, more than 8 words (not counting
        stopwords), a word with no letters or digits, only very common words, or a word both
        wanted and excluded.
        """
        return self._parser.parse(text)

    def prepare(self, release: Release) -> PreparedRelease:
        """Tokenise a release once for many :meth:`matches` calls (memoised for recent ones)."""
        return prepare(release)

    def matches(self, topic: Topic, release: Release | PreparedRelease) -> bool:
        """Whether ``release`` matches ``topic`` (see :mod:`bot.topics` for the rules)."""
        prepared = release if isinstance(release, PreparedRelease) else prepare(release)
        form = self.compile(topic)
        lang = prepared.lang
        if any(alt_lang == lang and prepared.contains(seq, fuzzy=False)
               for alt_lang, seq in form.exclude):
            return False
        return all(any(alt_lang == lang and prepared.contains(seq) for alt_lang, seq in alts)
                   for alts in form.include)

    def synonyms(self, text: str) -> Expansion | None:
        """What ``text``, read as a topic, stands for when it is one taxonomy entry (typos
        corrected as :meth:`parse` does), else None: how search finds exactly what the same
        topic matches (see :mod:`bot.search.occurrences`)."""
        if text in self._expansions:
            return self._expansions[text]
        found = self._expansion(text)
        if len(self._expansions) >= _FORM_CACHE_LIMIT:
            self._expansions.clear()
        self._expansions[text] = found
        return found

    def _expansion(self, text: str) -> Expansion | None:
        try:
            topic = self.parse(text)
        except TopicError:
            return None
        if (len(topic.include) != 1 or topic.exclude
                or self._synonyms.entry_of(topic.include[0]) is None):
            return None
        return Expansion(self.compile(topic), occurs)

    def compile(self, topic: Topic) -> TopicForm:
        """The boolean form a topic is matched by (memoised).

        :meth:`matches` is this form evaluated on one release; the topic index
        (:mod:`bot.topics.percolate`) and the counts (:mod:`bot.topics.count`) evaluate it on
        many.
        """
        form = self._forms.get(topic)
        if form is None:
            include = []
            for term in topic.include:
                index = self._synonyms.entry_of(term)
                include.append(self._synonyms.alternatives(index) if index is not None
                               else alternatives(term))
            exclude = tuple(alt for term in topic.exclude for alt in alternatives(term)
                            if alt[1])
            form = TopicForm(tuple(include), exclude)
            if len(self._forms) >= _FORM_CACHE_LIMIT:
                self._forms.clear()
            self._forms[topic] = form
        return form
