"""The taxonomy compiled for lookups: which entry a term names (in any language, exactly or
within typos), and the alternatives that then stand for it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.text import LANGUAGES, typo_distance
from bot.topics.taxonomy import TaxonomyEntry
from bot.topics.terms import Alt, Seq, content, keys_of, words

__all__ = ["Synonyms"]


class Synonyms:
    """Looks terms up in a taxonomy. Raises ValueError for a term with no words to match on
    or listed under two entries."""

    def __init__(self, taxonomy: Sequence[TaxonomyEntry] = ()) -> None:
        self.entries: tuple[TaxonomyEntry, ...] = tuple(taxonomy)
        # content keys of a term -> entry index; the way topic text finds its entry.
        self._lookup: dict[tuple[str, ...], int] = {}
        # every term as (folded text, language, content seq, entry index), for typo lookup.
        self._terms: list[tuple[str, str, Seq, int]] = []
        alternatives: list[list[Alt]] = []
        for index, entry in enumerate(self.entries):
            alts: list[Alt] = []
            for lang, term in entry.terms_by_language():
                seq = content(term, lang)
                if not seq:
                    raise ValueError(
                        f"topic {entry.name!r}: term {term!r} has no words to match on")
                keys = keys_of(seq)
                owner = self._lookup.setdefault(keys, index)
                if owner != index:
                    raise ValueError(
                        f"term {term!r} is listed under both {self.entries[owner].name!r}"
                        f" and {entry.name!r}")
                if (lang, keys) not in ((a_lang, keys_of(a)) for a_lang, a in alts):
                    alts.append((lang, seq))
                # Every spelling is kept for typo lookup: "minres" is closer to "mines" than
                # to "mine", which stands for it in ``alts``.
                self._terms.append((" ".join(words(term)), lang, seq, index))
            # Single words first: they are the cheapest test and the likeliest to hit.
            alternatives.append(sorted(alts, key=lambda alt: len(alt[1])))
        self._alternatives = tuple(tuple(a) for a in alternatives)
        # Terms (positions in ``_terms``) by what a typed first word must share with theirs to
        # be within a typo of it (see typo_distance): its key, or its first letter.
        self._terms_by_first: dict[tuple[str, int, str], list[int]] = {}
        for position, (_, lang, seq, _) in enumerate(self._terms):
            word, word_key = seq[0]
            for bucket in {("k:" + word_key), ("l:" + word[0])}:
                self._terms_by_first.setdefault((lang, len(seq), bucket), []).append(position)

    def entry_of(self, term: str) -> int | None:
        """The taxonomy entry a term names, in whichever language it is written, else None."""
        for lang in LANGUAGES:
            index = self._lookup.get(keys_of(content(term, lang)))
            if index is not None:
                return index
        return None

    def alternatives(self, index: int) -> tuple[Alt, ...]:
        """What stands for entry ``index``: its terms keyed in their languages, words first."""
        return self._alternatives[index]

    def spelt(self, tokens: list[str]) -> str | None:
        """The taxonomy term ``tokens`` spell, exactly (kept as typed) or within typos
        (replaced by the term's own spelling); None if they spell none."""
        text = " ".join(tokens)
        if self.entry_of(text) is not None:
            return text
        typed = {lang: content(text, lang) for lang in LANGUAGES}
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
            for (word, word_key), (other, other_key) in zip(seq, term_seq, strict=True):
                distance = typo_distance(word, word_key, other, other_key)
                if distance is None:
                    break
                total += distance
            else:
                if best is None or total < best[0]:
                    best = (total, text)
        return best[1] if best else None
