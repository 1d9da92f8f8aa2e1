"""Does a release match a subscription topic? Topics, the synonym taxonomy and the matcher.

A *topic* is what a chat subscribes to: ``/subscribe trafficking -football``. It is parsed once
into a :class:`Topic` whose ``key`` is stored in the database and shown back to the user; the
:class:`TopicMatcher` decides, release by release, whether a topic matches.

Matching rules (the tests in ``tests/test_topics.py`` pin each of them):

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

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.i18n import gettext
from bot.releases import Release
from bot.text import ANY_STOPWORDS, LANGUAGES, match_key, typo_budget, typo_distance
from bot.text import tokenize as words

# Topic words and release words drop the stop words of every language alike, so that a
# phrase's words are adjacent on both sides whatever the language ("travail des enfants").
STOPWORDS = ANY_STOPWORDS

log = logging.getLogger(__name__)

#: Longest topic a user may type, in characters and in words.
MAX_TOPIC_CHARS = 100
MAX_TOPIC_WORDS = 8
#: Where :meth:`TopicMatcher.default` looks for the taxonomy (module attribute so tests can
#: point it elsewhere).
DEFAULT_TAXONOMY_PATH = Path(__file__).resolve().parents[1] / "data" / "topics.toml"

# A term's content words as (folded word, stem) pairs, stopwords removed.
_Seq = tuple[tuple[str, str], ...]
# A term keyed in one language: it is looked for in releases of that language only.
_Alt = tuple[str, _Seq]

# One chunk of topic text: optional leading dashes, then a quoted group or a bare word.
_CHUNK = re.compile(r'(?P<neg>-+)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))')
# Phones turn "--" into dashes and quotes into typographic ones; they mean the plain forms.
_PUNCT = str.maketrans({"—": "-", "–": "-", "−": "-", "“": '"', "”": '"', "„": '"', "«": '"',
                        "»": '"'})
# Plan caches are cleared wholesale beyond this size: topics are few (one per subscription).
_PLAN_CACHE_LIMIT = 100_000


class TopicError(ValueError):
    """A topic the user typed cannot be used; the message is written for that user."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed subscription topic.

    ``include`` holds normalised words or phrases (phrases contain spaces) that must all occur;
    ``exclude`` words or phrases that must not. ``key`` is the canonical text stored in the
    database and shown back: ``parse(topic.key) == topic`` for any parsed topic.
    """

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    key: str

    def __str__(self) -> str:
        return self.key


#: The topic of a subscription to every release (stored as the empty key).
ALL = Topic((), (), "")


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    """One suggested topic of ``data/topics.toml``: its display name and its synonyms."""

    name: str
    synonyms: tuple[str, ...] = ()
    #: French terms, the first being the entry's French name.
    fr: tuple[str, ...] = ()
    #: Spanish terms, the first being the entry's Spanish name.
    es: tuple[str, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """The English name followed by the English synonyms."""
        return (self.name, *self.synonyms)

    def terms_by_language(self) -> list[tuple[str, str]]:
        """Every (language, text) that stands for this entry, English first."""
        return ([("en", t) for t in self.terms] + [("fr", t) for t in self.fr]
                + [("es", t) for t in self.es])

    def name_in(self, lang: str) -> str:
        """The entry's name in ``lang`` (English when it has none there)."""
        localized = {"fr": self.fr, "es": self.es}.get(lang)
        return localized[0] if localized else self.name


def _content(text: str, lang: str = "en") -> _Seq:
    """The (word, key) pairs of ``text`` that matter for matching (stopwords dropped), keyed
    in ``lang``."""
    return tuple((w, match_key(w, lang)) for w in words(text) if w not in STOPWORDS)


def _alternatives(text: str) -> tuple[_Alt, ...]:
    """A term typed by a user (language unknown): its content keyed in every language."""
    return tuple((lang, _content(text, lang)) for lang in LANGUAGES)


def _stems(seq: _Seq) -> tuple[str, ...]:
    return tuple(s for _, s in seq)


class PreparedRelease:
    """A release tokenised once, so matching many topics against it is cheap.

    Holds each searchable field (title, summary, place, each of the release's own topics) as a
    sequence of (word, stem) pairs, the set of all stems for exact lookups, and an index by
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
        self._fields: tuple[tuple[_Seq, tuple[str, ...], tuple[int, ...]], ...] = tuple(fields)
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
        """The release's stems that a topic word matches: its own stem, or typos of it."""
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

    def find(self, seq: _Seq, *, fuzzy: bool = True) -> str | None:
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

    def contains(self, seq: _Seq, *, fuzzy: bool = True) -> bool:
        """Whether the term ``seq`` occurs; single words skip the field scan."""
        if len(seq) == 1:
            word, word_stem = seq[0]
            if word_stem in self._stems:
                return True
            return fuzzy and bool(self.hits(word, word_stem))
        return self.find(seq, fuzzy=fuzzy) is not None


@lru_cache(maxsize=4096)
def _prepare_cached(release: Release) -> PreparedRelease:
    return PreparedRelease(release)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A topic compiled against a taxonomy: per include term, the alternatives that satisfy it."""

    include: tuple[tuple[_Alt, ...], ...]
    exclude: tuple[_Alt, ...]


#: What :meth:`TopicMatcher.compile` returns.
TopicForm = _Plan


class TopicMatcher:
    """Parses topics and matches them against releases, using a synonym taxonomy.

    One matcher serves the whole bot; it is cheap to query and holds only caches that are safe
    to share (parsing is pure, compiled topics are memoised).
    """

    def __init__(self, taxonomy: Sequence[TaxonomyEntry] = ()) -> None:
        self._entries: tuple[TaxonomyEntry, ...] = tuple(taxonomy)
        # content stems of a term -> entry index; the way topic text finds its entry.
        self._lookup: dict[tuple[str, ...], int] = {}
        # every term as (folded text, language, content seq, entry index), for typo lookup.
        self._terms: list[tuple[str, str, _Seq, int]] = []
        alternatives: list[list[_Alt]] = []
        for index, entry in enumerate(self._entries):
            alts: list[_Alt] = []
            for lang, term in entry.terms_by_language():
                seq = _content(term, lang)
                if not seq:
                    raise ValueError(
                        f"topic {entry.name!r}: term {term!r} has no words to match on")
                stems = _stems(seq)
                owner = self._lookup.setdefault(stems, index)
                if owner != index:
                    raise ValueError(
                        f"term {term!r} is listed under both {self._entries[owner].name!r}"
                        f" and {entry.name!r}")
                if (lang, stems) not in ((a_lang, _stems(a)) for a_lang, a in alts):
                    alts.append((lang, seq))
                # Every spelling is kept for typo lookup: "minres" is closer to "mines" than
                # to "mine", which stands for it in ``alts``.
                self._terms.append((" ".join(words(term)), lang, seq, index))
            # Single words first: they are the cheapest test and the likeliest to hit.
            alternatives.append(sorted(alts, key=lambda alt: len(alt[1])))
        self._alternatives = tuple(tuple(a) for a in alternatives)
        self._plans: dict[Topic, _Plan] = {}
        # Terms (positions in ``_terms``) by what a typed first word must share with theirs to
        # be within a typo of it (see typo_distance): its key, or its first letter.
        self._terms_by_first: dict[tuple[str, int, str], list[int]] = {}
        for position, (_, lang, seq, _) in enumerate(self._terms):
            word, word_key = seq[0]
            for bucket in {("k:" + word_key), ("l:" + word[0])}:
                self._terms_by_first.setdefault((lang, len(seq), bucket), []).append(position)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TopicMatcher:
        """Load a taxonomy TOML file: a list of ``[[topic]]`` tables with ``name`` and
        ``synonyms``. A malformed file raises ValueError naming the file and the entry;
        a missing one raises the usual OSError."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        extra = sorted(set(data) - {"topic"})
        if extra:
            raise ValueError(f"{path}: unknown top-level key(s) {', '.join(extra)}"
                             " (expected only [[topic]] tables)")
        raw = data.get("topic", [])
        if not isinstance(raw, list):
            raise ValueError(f"{path}: 'topic' must be an array of tables ([[topic]])")
        entries = [_entry_from_toml(item, number, path) for number, item in enumerate(raw, 1)]
        try:
            return cls(entries)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    @classmethod
    def default(cls) -> TopicMatcher:
        """The matcher over the repository's ``data/topics.toml``; an empty taxonomy (with a
        warning) when that file is missing, so the bot still runs without suggestions."""
        path = DEFAULT_TAXONOMY_PATH
        if not path.is_file():
            log.warning("topic taxonomy %s not found; topics match on their own words only", path)
            return cls()
        return cls.from_file(path)

    def taxonomy(self) -> list[TaxonomyEntry]:
        """The suggested topics, in file order (``parse(entry.name)`` gives each one's topic)."""
        return list(self._entries)

    # -- parsing ---------------------------------------------------------------------------

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
        topic = self._parse_once(text)
        # A correction can regroup words ("coal minres" -> "coal mines", itself a taxonomy
        # phrase), so the key is read back until it is stable: parse(key) must give the topic.
        for _ in range(3):
            again = self._parse_once(topic.key)
            if again == topic:
                break
            topic = again
        if len(topic.key) > MAX_TOPIC_CHARS:
            raise TopicError(gettext("A topic may be at most {count} characters long.")
                             .format(count=MAX_TOPIC_CHARS))
        return topic

    def _parse_once(self, text: str) -> Topic:
        text = " ".join(str(text).translate(_PUNCT).split())
        if not text:
            raise TopicError(gettext("The topic is empty: give at least one word, "
                                     "e.g. “trafficking”."))
        # The real limit is on the key (see parse); this only bounds the work on silly input.
        if len(text) > 4 * MAX_TOPIC_CHARS:
            raise TopicError(gettext("A topic may be at most {count} characters long.")
                             .format(count=MAX_TOPIC_CHARS))
        includes: list[str] = []
        excludes: list[str] = []
        # Bare words (a hyphenated word is one group of several), read together so that
        # taxonomy phrases are found across them; quoted phrases stand apart.
        run: list[list[str]] = []
        count = 0
        for match in _CHUNK.finditer(text):
            quoted = match.group("quoted")
            raw = quoted if quoted is not None else match.group("bare")
            tokens = words(raw)
            if not tokens:
                shown = raw or match.group(0)
                raise TopicError(gettext("“{words}” has no letters or digits to look for.")
                                 .format(words=shown))
            count += sum(1 for t in tokens if t not in STOPWORDS)
            if match.group("neg"):
                excludes.append(self._exclusion(tokens))
            elif quoted is None:
                run.append(tokens)
            else:
                trimmed = _trim_stopwords(tokens)
                if not trimmed:
                    raise TopicError(gettext("“{words}” is too common to follow; choose a more "
                                       "specific word.").format(words=quoted))
                if len(trimmed) == 1:
                    # Quotes around a single word mean nothing; it joins the bare words.
                    run.append(trimmed)
                else:
                    includes.extend(self._segment(run))
                    run = []
                    includes.append(self._taxonomy_term(trimmed) or " ".join(trimmed))
        includes.extend(self._segment(run))
        if count > MAX_TOPIC_WORDS:
            raise TopicError(gettext("A topic may have at most {count} words "
                               "(little words like “and” do not count).")
                             .format(count=MAX_TOPIC_WORDS))
        if not includes:
            if excludes:
                raise TopicError(gettext("A topic needs a word to look for, not only words "
                                         "to leave out (like “-football”)."))
            raise TopicError(gettext("That is too common to follow; choose a more specific word."))
        include = tuple(dict.fromkeys(includes))
        exclude = tuple(dict.fromkeys(excludes))
        wanted = {_stems(_content(t)) for t in include}
        for term in exclude:
            if _stems(_content(term)) in wanted:
                raise TopicError(gettext("“{term}” is both wanted and excluded.").format(term=term))
        return Topic(include, exclude, self._key(include, exclude))

    def _exclusion(self, tokens: list[str]) -> str:
        trimmed = _trim_stopwords(tokens)
        if not trimmed:
            raise TopicError(gettext("“{words}” is too common to exclude.")
                             .format(words=" ".join(tokens)))
        return " ".join(trimmed)

    def _segment(self, run: list[list[str]]) -> list[str]:
        """Split groups of bare words into terms: the longest span of whole groups that is a
        taxonomy term first; otherwise a group is one word, or a phrase if hyphenated."""
        terms: list[str] = []
        i = 0
        while i < len(run):
            # Runs hold at most a few words, so trying every span is cheap.
            for j in range(len(run), i, -1):
                tokens = [t for group in run[i:j] for t in group]
                if tokens[0] in STOPWORDS or tokens[-1] in STOPWORDS:
                    continue
                found = self._taxonomy_term(tokens)
                if found:
                    terms.append(found)
                    i = j
                    break
            else:
                tokens = _trim_stopwords(run[i])
                if tokens:
                    terms.append(" ".join(tokens))
                i += 1
        return terms

    def _taxonomy_term(self, tokens: list[str]) -> str | None:
        """The taxonomy term ``tokens`` spell, exactly (kept as typed) or within typos
        (replaced by the term's own spelling); None if they spell none."""
        text = " ".join(tokens)
        if self._entry_of(text) is not None:
            return text
        typed = {lang: _content(text, lang) for lang in LANGUAGES}
        # Only terms whose first word can be within a typo of the typed one, in file order
        # (the first of equally close terms wins).
        positions: set[int] = set()
        for lang, seq in typed.items():
            if seq:
                word, word_key = seq[0]
                for bucket in ("k:" + word_key, "l:" + word[0]):
                    positions.update(self._terms_by_first.get((lang, len(seq), bucket), ()))
        best: tuple[int, str] | None = None
        for position in sorted(positions):
            text, lang, term_seq, _ = self._terms[position]
            seq = typed[lang]
            total = 0
            for (word, word_stem), (other, other_stem) in zip(seq, term_seq, strict=True):
                distance = typo_distance(word, word_stem, other, other_stem)
                if distance is None:
                    break
                total += distance
            else:
                if best is None or total < best[0]:
                    best = (total, text)
        return best[1] if best else None

    def _key(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> str:
        # A lone taxonomy phrase reads back as one term without quotes; any other phrase needs
        # them so that parse(key) groups exactly the same words.
        lone = len(include) == 1 and self._entry_of(include[0]) is not None
        parts = [t if lone or " " not in t else f'"{t}"' for t in include]
        parts += [f'-"{t}"' if " " in t else f"-{t}" for t in exclude]
        return " ".join(parts)

    # -- matching --------------------------------------------------------------------------

    def prepare(self, release: Release) -> PreparedRelease:
        """Tokenise a release once for many :meth:`matches` calls (memoised for recent ones)."""
        return _prepare_cached(release)

    def matches(self, topic: Topic, release: Release | PreparedRelease) -> bool:
        """Whether ``release`` matches ``topic`` (see the module docstring for the rules)."""
        prepared = release if isinstance(release, PreparedRelease) else self.prepare(release)
        plan = self._plan(topic)
        lang = prepared.lang
        if any(alt_lang == lang and prepared.contains(seq, fuzzy=False)
               for alt_lang, seq in plan.exclude):
            return False
        return all(any(alt_lang == lang and prepared.contains(seq) for alt_lang, seq in alts)
                   for alts in plan.include)

    def count(self, topic: Topic, releases: Iterable[Release | PreparedRelease]) -> int:
        """How many of ``releases`` match ``topic``."""
        return sum(1 for release in releases if self.matches(topic, release))

    def describe_match(self, topic: Topic, release: Release | PreparedRelease) -> str | None:
        """Why ``release`` matches, e.g. ``"mining (coal mine)"``; the bare key when the release
        says just what the topic says; None when it does not match."""
        if not self.matches(topic, release):
            return None
        prepared = release if isinstance(release, PreparedRelease) else self.prepare(release)
        found: list[str] = []
        for term, alts in zip(topic.include, self._plan(topic).include, strict=True):
            # The longest alternative that occurs says the most ("safety and health" rather
            # than "osh" would, for "occupational safety and health").
            for alt_lang, alt in reversed(alts):
                if alt_lang != prepared.lang:
                    continue
                said = prepared.find(alt)
                if said is not None:
                    if said != term and said not in found:
                        found.append(said)
                    break
        return f"{topic.key} ({', '.join(found)})" if found else topic.key

    def synonyms(self, text: str) -> list[tuple[str, str]]:
        """Every (language, term) of the taxonomy entry ``text`` names, else []: what search
        adds to a query so that it finds what the same topic matches."""
        index = self._entry_of(" ".join(words(text)))
        if index is None:
            return []
        return self._entries[index].terms_by_language()

    def _entry_of(self, term: str) -> int | None:
        """The taxonomy entry a term names, in whichever language it is written, else None."""
        for lang in LANGUAGES:
            index = self._lookup.get(_stems(_content(term, lang)))
            if index is not None:
                return index
        return None

    def compile(self, topic: Topic) -> TopicForm:
        """The boolean form a topic is matched by: every include term is a tuple of
        alternatives, (language, ((word, key), ...)), one of which must occur (fuzzily) in a
        release of that language; no exclusion alternative may occur (exactly).

        :meth:`matches` is this form evaluated on one release; the topic index
        (:mod:`bot.percolate`) and the counts (:mod:`bot.topiccount`) evaluate it on many.
        """
        return self._plan(topic)

    def _plan(self, topic: Topic) -> _Plan:
        plan = self._plans.get(topic)
        if plan is None:
            include = []
            for term in topic.include:
                index = self._entry_of(term)
                include.append(self._alternatives[index] if index is not None
                               else _alternatives(term))
            exclude = tuple(alt for term in topic.exclude for alt in _alternatives(term)
                            if alt[1])
            plan = _Plan(tuple(include), exclude)
            if len(self._plans) >= _PLAN_CACHE_LIMIT:
                self._plans.clear()
            self._plans[topic] = plan
        return plan


def _trim_stopwords(tokens: list[str]) -> list[str]:
    """Drop stopwords at either end of a phrase ("the coal mine" is "coal mine")."""
    start, end = 0, len(tokens)
    while start < end and tokens[start] in STOPWORDS:
        start += 1
    while end > start and tokens[end - 1] in STOPWORDS:
        end -= 1
    return tokens[start:end]


def _entry_from_toml(item: object, number: int, path: Path) -> TaxonomyEntry:
    """One ``[[topic]]`` table into an entry; errors name the file, the position and the name."""
    where = f"{path}: topic #{number}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a table with 'name' and 'synonyms'")
    name = item.get("name")
    if not isinstance(name, str) or not words(name):
        raise ValueError(f"{where}: 'name' must be a non-empty string of words")
    where = f"{where} ({name!r})"
    extra = sorted(set(item) - {"name", "synonyms", "fr", "es"})
    if extra:
        raise ValueError(f"{where}: unknown key(s) {', '.join(extra)}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("synonyms", "fr", "es"):
        terms = item.get(key, [])
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ValueError(f"{where}: '{key}' must be a list of strings")
        for term in terms:
            if not words(term):
                label = "synonym" if key == "synonyms" else f"{key} term"
                raise ValueError(f"{where}: {label} {term!r} has no words")
        lists[key] = tuple(" ".join(t.split()) for t in terms)
    return TaxonomyEntry(" ".join(name.split()), lists["synonyms"], lists["fr"], lists["es"])
