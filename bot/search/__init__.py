"""Typo-tolerant search over releases that stays interactive at 100,000 of them.

How a query is answered (and why it is fast):

1. **Query language** (:mod:`~bot.search.query`): words, ``"phrases"``, ``-words`` and
   ``key:value`` filters.
2. **Vocabulary first** (:mod:`~bot.search.vocabulary`): each query word is looked up among
   the distinct terms of the index (words analysed by :mod:`bot.text`, the same analysis
   topics use): exactly, by word family, by prefix, and only then fuzzily.
3. **Postings as bitsets** (:mod:`~bot.search.postings`, :mod:`~bot.search.bitsets`): every
   (term, field class) keeps the slots of the releases that contain it; sets of releases are
   combined as Python ``int`` bitsets, in C.
4. **Scores as bit planes** (:mod:`~bot.search.ranking`): scores are added and cut to the
   top *n* on bitsets; only the releases on the requested page are looked at one by one.
5. **Phrases** (:mod:`~bot.search.phrases`), **filters** (:mod:`~bot.search.filters`) and
   **"did you mean"** (:mod:`~bot.search.suggest`) narrow or repair a query.
6. **Taxonomy entries** (:mod:`~bot.search.occurrences`): a query that names one ("OSH",
   "child labour", "travail des enfants") finds exactly what the topic of the same text
   matches, evaluated on the postings by the topic rule, which topic counts use too.

The index (:class:`SearchIndex`, :mod:`~bot.search.index`) keeps its releases compressed
(:mod:`~bot.search.packed`), is saved to and loaded from a snapshot file
(:mod:`~bot.search.snapshot`), and is loaded, caught up and saved in the background of the
running bot by :mod:`~bot.search.keeper`.
"""

from bot.search.index import CHUNK_SIZE, SearchIndex
from bot.search.query import QueryError
from bot.search.results import Hit, SearchResult

__all__ = ["CHUNK_SIZE", "Hit", "QueryError", "SearchIndex", "SearchResult"]
