"""Quoted phrases: words adjacent and in order.

Each release keeps its title and summary as a sequence of root codes
(:func:`bot.search.vocabulary.encode_id`), so a phrase is a ``bytes in bytes`` test on it.
Pairs of common roots (in :data:`PAIR_MIN_DF` releases or more, and stop words) get "pair"
posting lists of the releases where the two are adjacent, so that ``"child labour"`` needs
no per-release check and is as fast as ``child labour``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from itertools import compress, islice, pairwise, product, repeat

from bot.search.bitsets import bits_from, members
from bot.search.vocabulary import SEPARATOR, TermMatch, Vocabulary, decode_id, encode_id
from bot.text import ANY_STOPWORDS

__all__ = ["PAIR_MIN_DF", "Phrases"]

#: Roots in at least this many releases get pair posting lists with each other.
PAIR_MIN_DF = 1000
_MAX_PHRASE_PATTERNS = 64


class Phrases(Vocabulary):
    """Word sequences and pair lists (see the module docstring), on top of the vocabulary."""

    def __init__(self) -> None:
        super().__init__()
        # The roots common enough to have pair lists. Stop words are from the start.
        self._frequent: set[bytes] = {encode_id(self._root_of(word)) for word in ANY_STOPWORDS}

    def _pair_keys(self, slot: int, codes: list[bytes]) -> set[bytes]:
        """Count a new release's roots and return its pair keys (both roots common).

        A root that just became common gets the pairs of the releases indexed before.
        """
        frequent, root_df = self._frequent, self._root_df
        for code in set(codes):
            rid = decode_id(code)
            root_df[rid] += 1
            if code not in frequent and root_df[rid] >= PAIR_MIN_DF and code != SEPARATOR:
                frequent.add(code)
                self._backfill_pairs(code, slot)
        return {a + b for a, b in pairwise(codes) if a in frequent and b in frequent}

    def _backfill_pairs(self, code: bytes, skip: int) -> None:
        """Post the pairs of a newly common root in the releases already indexed."""
        rid = decode_id(code)
        holders: set[int] = set()
        for tid in self._family_of(rid):
            classes = self._classes[tid]
            for cls in range(classes.bit_length()):
                if classes >> cls & 1:
                    holders.update(self._slot_list(tid * 16 + cls))
        holders.discard(skip)
        frequent = self._frequent
        for slot in holders:
            sequence = self._sequences[slot]
            keys: set[bytes] = set()
            at = sequence.find(code)
            while at >= 0:
                before, after = sequence[at - 4 : at] if at else b"", sequence[at + 4 : at + 8]
                if before in frequent:
                    keys.add(before + code)
                if after in frequent:
                    keys.add(code + after)
                at = sequence.find(code, at + 4)
            for key in keys:
                self._post(key, slot)

    def _apply_phrases(self, candidates: int, phrases: list[list[TermMatch]]) -> int:
        for phrase in phrases:
            if not candidates or not all(word.roots for word in phrase):
                return 0
            words = [word for word in phrase if word.keys]  # stop words have no postings
            for word in words:
                candidates &= word.matches
            found = 0
            combos = product(*(sorted(word.roots) for word in phrase))
            for combo in islice(combos, _MAX_PHRASE_PATTERNS):
                found |= self._phrase_bits([encode_id(rid) for rid in combo], candidates, words)
            candidates &= found
        return candidates

    def _phrase_bits(self, codes: list[bytes], candidates: int, words: list[TermMatch]) -> int:
        """The candidates whose title or summary has these roots adjacent, in this order."""
        pattern = b"".join(codes)
        pairs = list(pairwise(codes))
        if all(a in self._frequent and b in self._frequent for a, b in pairs):
            for a, b in pairs:
                candidates &= self._bits_of(a + b)
            if len(codes) == 2 or not candidates:
                return candidates  # a pair list is exactly the two-word phrase
            sources: list[Iterable[int]] = [members(candidates)]
        else:
            # Some root is uncommon, so its word's posting lists are short: check those
            # releases' word sequences (or the candidates themselves, when fewer).
            rarest = min(words, key=lambda word: word.matches.bit_count(), default=None)
            if rarest is None or candidates.bit_count() * 4 < rarest.matches.bit_count():
                sources = [members(candidates)]
            else:
                sources = [self._slot_list(key) for key in rarest.keys]
        kept: list[int] = []
        sequences = self._sequences
        for slots in sources:
            has = map(operator.contains, map(sequences.__getitem__, slots), repeat(pattern))
            kept.extend(compress(slots, has))
        return candidates & bits_from(kept)

