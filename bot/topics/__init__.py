"""Subscription topics: what a chat follows, and which releases that matches.

The modules, in the order data flows through them:

* :mod:`~bot.topics.topic`: :class:`Topic` and :class:`TopicError`;
* :mod:`~bot.topics.taxonomy`: :class:`TaxonomyEntry` and the TOML file of suggested topics;
* :mod:`~bot.topics.terms`, :mod:`~bot.topics.synonyms`: words as matching sees them (via
  :mod:`bot.text`, the analysis search uses too) and the taxonomy compiled for lookups;
* :mod:`~bot.topics.parser`, :mod:`~bot.topics.prepared`, :mod:`~bot.topics.matcher`: parsing,
  releases read once, and :class:`TopicMatcher`, which answers "does it match?";
* :mod:`~bot.topics.count`: how many indexed releases a topic matches (``/subscribe``,
  ``/topics``), evaluated by the search index (:mod:`bot.search.occurrences`, which also
  makes ``/search OSH`` find exactly what the topic "OSH" matches);
* :mod:`~bot.topics.percolate`: which stored topics a new release matches (alerts);
* :mod:`~bot.topics.rules`: the rules of subscribing (duplicates, limits, suggestions).

A *topic* is what a chat subscribes to: ``/subscribe trafficking -football``. It is parsed once
into a :class:`Topic` whose ``key`` is stored in the database and shown back to the user; the
:class:`TopicMatcher` decides, release by release, whether a topic matches.

Matching rules (``tests/test_topics.py`` pins each of them):

* **Words.** Text is case-folded, accents are stripped ("Genève" = "geneve") and split on
  anything that is not a letter or digit, so "Inner-Mongolia" is the two words "inner" and
  "mongolia"; a possessive "'s" is dropped ("Mongolia's" = "mongolia"). Words are compared by a
  strict key of the shared word analysis (:func:`bot.text.match_key`), in the release's
  language: English plurals and -ing/-ed/-er endings of longer words, so "workers" = "worker"
  and "traffickers" = "trafficking", but "mining" is not "mine"; French and Spanish Snowball
  stems ("travailleuses" = "travailleurs", "niños" = "niño").
* **Languages.** A release's words are keyed in its own language; a topic term is keyed in
  each language and each key meets only releases in that language, so an English word
  never matches a Spanish release through a Spanish stem it merely looks like.
* **Where.** A release's title, summary, place and each of its own topics are searched; a
  phrase must lie inside one of them.
* **Several words** must all occur, anywhere in the release; stopwords of any language ("and",
  "of", "des", "de", ...) are ignored. A quoted or hyphenated group (``"coal miners"``,
  ``inner-mongolia``) must occur as adjacent words, in that order (stopwords between them do
  not count).
* **Taxonomy.** ``data/topics.toml`` lists entries with synonyms, in English, French and
  Spanish. A topic word or phrase that *is* an entry's name or synonym in any of them (after
  stemming) stands for the whole entry: it matches when any of the entry's terms occurs, in the
  release's language, so "travail des enfants" matches an English release on child labour.
  So "mining" also matches "coal mine" and "miners", and
  "OSH" matches "safety and health". The longest taxonomy phrase wins when reading a topic,
  so "safety and health" is one term, not three words. A word that is in no entry matches on
  its own.
* **Typos.** A word of five letters or more matches a word within one edit (5-7 letters) or two
  (8 or more), counted on the shorter of the two, if both start with the same letter; one edit
  may be a swap of neighbours, a second must be a dropped or doubled letter, which keeps
  "trafiking" off "training" (see :func:`bot.text.typo_distance`). Parsing
  also corrects a misspelt taxonomy term and the key shows the correction ("trafiking" becomes
  "trafficking"), so the user sees at once what they subscribed to. Shorter words ("osh",
  "lao") only match exactly.
* **Exclusions** (``-football``, ``-"world cup"``) are exact (after stemming): no synonyms, no
  typos. A release containing one never matches.

"All releases" is not a parsed topic: callers store the empty key for it, and :data:`ALL` is the
topic that matches everything.
"""

from bot.topics.matcher import TopicForm, TopicMatcher
from bot.topics.prepared import PreparedRelease
from bot.topics.taxonomy import TaxonomyEntry, load_taxonomy
from bot.topics.topic import ALL, MAX_TOPIC_CHARS, MAX_TOPIC_WORDS, Topic, TopicError

__all__ = [
    "ALL",
    "MAX_TOPIC_CHARS",
    "MAX_TOPIC_WORDS",
    "PreparedRelease",
    "TaxonomyEntry",
    "Topic",
    "TopicError",
    "TopicForm",
    "TopicMatcher",
    "load_taxonomy",
]
