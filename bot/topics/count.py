"""How many releases a topic matches (``/subscribe``, ``/topics``), counted on the search
index: complete, and equal to what :class:`bot.topics.TopicMatcher` says release by release.

The index evaluates the topic's compiled form (:meth:`TopicMatcher.compile`) with the topic
rule itself (:func:`bot.topics.prepared.occurs`) for the releases its postings cannot settle;
see :mod:`bot.search.occurrences`, which search's taxonomy expansion uses too, so ``/search
OSH`` finds what the topic "OSH" counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.search import SearchIndex
from bot.topics.matcher import TopicMatcher
from bot.topics.prepared import occurs
from bot.topics.topic import Topic

__all__ = ["TopicCounter"]


class TopicCounter:
    """Counts topics on one search index (thread-safe; call from worker threads)."""

    def __init__(self, index: SearchIndex, matcher: TopicMatcher) -> None:
        self.index = index
        self.matcher = matcher

    def counts(self, topics: Sequence[Topic]) -> list[int]:
        """How many indexed releases each topic matches."""
        return self.index.count_matching([self.matcher.compile(t) for t in topics], occurs)
