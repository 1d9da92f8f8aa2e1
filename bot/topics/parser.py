"""Reading what a user typed after ``/subscribe`` into a :class:`~bot.topics.topic.Topic`:
chunks, phrases, exclusions, taxonomy phrases and corrected typos, the canonical key."""

from __future__ import annotations

import re

from bot.i18n import gettext
from bot.topics.synonyms import Synonyms
from bot.topics.terms import STOPWORDS, content, keys_of, trim_stopwords, words
from bot.topics.topic import MAX_TOPIC_CHARS, MAX_TOPIC_WORDS, Topic, TopicError

__all__ = ["TopicParser"]

# One chunk of topic text: optional leading dashes, then a quoted group or a bare word.
_CHUNK = re.compile(r'(?P<neg>-+)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))')
# Phones turn "--" into dashes and quotes into typographic ones; they mean the plain forms.
_PUNCT = str.maketrans({"—": "-", "–": "-", "−": "-", "“": '"', "”": '"', "„": '"', "«": '"',
                        "»": '"'})


def _too_long() -> TopicError:
    return TopicError(gettext("A topic may be at most {count} characters long.")
                      .format(count=MAX_TOPIC_CHARS))


class TopicParser:
    """Parses topics against a taxonomy (pure: safe to share)."""

    def __init__(self, synonyms: Synonyms) -> None:
        self._synonyms = synonyms

    def parse(self, text: str) -> Topic:
        """See :meth:`bot.topics.TopicMatcher.parse`."""
        topic = self._parse_once(text)
        # A correction can regroup words ("coal minres" -> "coal mines", itself a taxonomy
        # phrase), so the key is read back until it is stable: parse(key) must give the topic.
        for _ in range(3):
            again = self._parse_once(topic.key)
            if again == topic:
                break
            topic = again
        if len(topic.key) > MAX_TOPIC_CHARS:
            raise _too_long()
        return topic

    def _parse_once(self, text: str) -> Topic:
        text = " ".join(str(text).translate(_PUNCT).split())
        if not text:
            raise TopicError(gettext("The topic is empty: give at least one word, "
                                     "e.g. “trafficking”."))
        # The real limit is on the key (see parse); this only bounds the work on silly input.
        if len(text) > 4 * MAX_TOPIC_CHARS:
            raise _too_long()
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
                trimmed = trim_stopwords(tokens)
                if not trimmed:
                    raise TopicError(gettext("“{words}” is too common to follow; choose a more "
                                       "specific word.").format(words=quoted))
                if len(trimmed) == 1:
                    # Quotes around a single word mean nothing; it joins the bare words.
                    run.append(trimmed)
                else:
                    includes.extend(self._segment(run))
                    run = []
                    includes.append(self._synonyms.spelt(trimmed) or " ".join(trimmed))
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
        wanted = {keys_of(content(t)) for t in include}
        for term in exclude:
            if keys_of(content(term)) in wanted:
                raise TopicError(gettext("“{term}” is both wanted and excluded.").format(term=term))
        return Topic(include, exclude, self._key(include, exclude))

    @staticmethod
    def _exclusion(tokens: list[str]) -> str:
        trimmed = trim_stopwords(tokens)
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
                found = self._synonyms.spelt(tokens)
                if found:
                    terms.append(found)
                    i = j
                    break
            else:
                tokens = trim_stopwords(run[i])
                if tokens:
                    terms.append(" ".join(tokens))
                i += 1
        return terms

    def _key(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> str:
        # A lone taxonomy phrase reads back as one term without quotes; any other phrase needs
        # them so that parse(key) groups exactly the same words.
        lone = len(include) == 1 and self._synonyms.entry_of(include[0]) is not None
        parts = [t if lone or " " not in t else f'"{t}"' for t in include]
        parts += [f'-"{t}"' if " " in t else f"-{t}" for t in exclude]
        return " ".join(parts)
