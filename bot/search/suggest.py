""""Did you mean": a query with its unknown words (and filter values) replaced by close
known ones, offered only when that query finds something with every word."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from bot.search.query import (
    FILTER_KEYS,
    QUERY_TOKEN,
    Query,
    QueryError,
    filter_value,
    parse_query,
    words_of,
)
from bot.search.ranking import Ranking
from bot.text import ANY_STOPWORDS, stem

__all__ = ["Suggestions"]


class Suggestions(Ranking):
    """Suggestions for queries that found nothing, or only some of their words."""

    def _suggest(self, text: str, parsed: Query) -> str | None:
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
            _, total, partial = self._run(parse_query(suggestion), 0)
            total = 0 if partial else total  # a suggestion must match every one of its words
        except QueryError:
            return None
        return suggestion if total else None

    @staticmethod
    def _rewrite(text: str, fixes: dict[str, str], filter_fixes: dict[str, str]) -> str:
        out: list[str] = []
        for match in QUERY_TOKEN.finditer(text):
            token = match.group(0)
            key = (match.group("key") or "").lower()
            if key in FILTER_KEYS:
                fixed = filter_fixes.get(f"{key}:{filter_value(match)}")
                if fixed:
                    value = fixed.split(":", 1)[1]
                    token = f'{key}:"{value}"' if " " in value else f"{key}:{value}"
            elif match.group("phrase") is not None:
                words = [fixes.get(w, w) for w in words_of(match.group("phrase"))]
                if any(w in fixes for w in words_of(match.group("phrase"))):
                    token = '"' + " ".join(words) + '"'
            else:
                words = list(words_of(token))
                if any(w in fixes for w in words):
                    token = " ".join(fixes.get(w, w) for w in words)
            out.append(token)
        return " ".join(out)
