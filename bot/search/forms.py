"""What the search index is asked to evaluate for topics and taxonomy entries (a
:class:`TermForm`, with the rule that decides, release by release, whether a term occurs),
and a form half evaluated (:class:`Plan`, :class:`PhraseScan`), for
:mod:`bot.search.occurrences`.

:meth:`Plan.settle` is the expensive part, the rule checked on each doubtful release, and
:meth:`PhraseScan.run` the next (a phrase's candidates' word sequences): both read only what
they hold, so they run without the index's lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.releases import Release
from bot.search.bitsets import bits_from, members
from bot.search.packed import Detached

__all__ = ["Alt", "AltSets", "Contains", "Expansion", "Key", "PhraseScan", "Plan", "Seq",
           "TermForm", "alt_keys"]

#: A term's content words as (folded word, strict key) pairs, stop words removed.
Seq = tuple[tuple[str, str], ...]
#: A term keyed in one language: it is looked for in releases of that language only.
Alt = tuple[str, Seq]
#: The rule itself, for one release: whether the term ``seq`` occurs in it (``fuzzy``: typos
#: forgiven). The index only narrows down the releases it must be asked about.
Contains = Callable[[Release, Seq, bool], bool]

@dataclass(frozen=True, slots=True)
class TermForm:
    """A boolean form over terms: per include group, the alternatives that satisfy it (one
    must occur, fuzzily, in a release of its language); exclusion alternatives (none may
    occur, exactly). A topic compiles to one (:meth:`bot.topics.TopicMatcher.compile`)."""

    include: tuple[tuple[Alt, ...], ...]
    exclude: tuple[Alt, ...]


class Expansion(NamedTuple):
    """What a query names in the topic taxonomy: the form it stands for and the rule that
    decides, release by release, whether a term occurs."""

    form: TermForm
    contains: Contains


@dataclass(slots=True)
class AltSets:
    """An alternative's releases: sure ones, and doubtful ones (to check with the rule);
    slots from ``upto`` on were added since (see :mod:`bot.search.occurrences`)."""

    sure: int
    maybe: int
    upto: int


#: An alternative as evaluated: (language, words, fuzzy).
Key = tuple[str, Seq, bool]


@dataclass(slots=True)
class Plan:
    """A form half evaluated: the candidates, each alternative's sure releases, and the
    doubtful releases (taken from the index, decoded later) that the rule must settle."""

    within: int
    include: list[list[tuple[Key, int]]]
    exclude: list[tuple[Key, int]]
    #: the cached alternatives, to record the verdicts in
    alts: dict[Key, AltSets]
    #: alternative -> the slots the rule must check
    doubts: dict[Key, list[int]] = field(default_factory=dict)
    releases: Detached | None = None
    #: alternative -> (slots checked, those that hold it), once settled
    verdicts: dict[Key, tuple[int, int]] = field(default_factory=dict)

    def settle(self, contains: Contains) -> int:
        """The releases (a bitset of slots) the form matches. Needs no lock: it reads only
        what :meth:`bot.search.occurrences.Occurrences.plan` took from the index."""
        doubting: dict[int, list[Key]] = {}
        for key, slots in self.doubts.items():
            for slot in slots:
                doubting.setdefault(slot, []).append(key)
        found: dict[Key, list[int]] = {key: [] for key in self.doubts}
        if self.releases is not None:
            # Release by release, so the rule's per-release preparation is done once each.
            for slot, release in zip(self.releases.slots, self.releases.decode(), strict=True):
                assert release is not None, "a live slot lost its release"
                for lang, seq, fuzzy in doubting[slot]:
                    if contains(release, seq, fuzzy):
                        found[(lang, seq, fuzzy)].append(slot)
        self.verdicts = {key: (bits_from(slots), bits_from(found[key]))
                         for key, slots in self.doubts.items()}
        result = self.within
        for alts in self.include:
            any_alt = 0
            for key, sure in alts:
                any_alt |= sure | self._found(key)
            result &= any_alt
        for key, sure in self.exclude:
            result &= ~(sure | self._found(key))
        return result

    def _found(self, key: Key) -> int:
        verdict = self.verdicts.get(key)
        return 0 if verdict is None else verdict[1]


def alt_keys(form: TermForm) -> list[Key]:
    """The form's alternatives, keyed as :class:`bot.search.occurrences.Occurrences` keeps them."""
    return ([(lang, seq, True) for alts in form.include for lang, seq in alts]
            + [(lang, seq, False) for lang, seq in form.exclude])


@dataclass(slots=True)
class PhraseScan:
    """What settles a phrase's candidates: their word sequences (``sequences`` is the
    index's list; a slot's entry never changes but to b"" when its release goes, so this
    reads it without the lock)."""

    candidates: int
    provable: int
    meta: int
    sure_re: re.Pattern[bytes] | None
    maybe_re: re.Pattern[bytes] | None
    sequences: list[bytes]
    #: the slots there were when the scan was made
    upto: int = field(init=False)

    def __post_init__(self) -> None:
        self.upto = len(self.sequences)

    def run(self) -> tuple[int, int, int]:
        """The candidates sure to hold the phrase, those that may, and those with its words
        in a meta field only."""
        sure, maybe, in_meta = [], [], []
        for slot in members(self.candidates):
            sequence = self.sequences[slot]
            if (self.sure_re is not None and self.provable >> slot & 1
                    and self.sure_re.search(sequence)):
                sure.append(slot)
            elif self.maybe_re is not None and self.maybe_re.search(sequence):
                maybe.append(slot)
            elif self.meta >> slot & 1:
                in_meta.append(slot)
        return bits_from(sure), bits_from(maybe), bits_from(in_meta)
