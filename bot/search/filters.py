"""Filters of the query language (``place:``, ``country:``, ``kind:``, ``lang:``, ``since:``,
``before:``): the releases they allow, as a bitset, from the filter keys' posting lists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from rapidfuzz import fuzz, process

from bot.releases import Release
from bot.search.bitsets import bits_from
from bot.search.fields import Analysis
from bot.search.phrases import Phrases
from bot.search.query import Query
from bot.text import COUNTRY_NAMES, country_of

__all__ = ["Filters"]


class Filters(Phrases):
    """Filter keys of a release, and the bitset a query's filters allow."""

    @staticmethod
    def _filter_keys(release: Release, analysis: Analysis) -> list[tuple[str, object]]:
        keys: list[tuple[str, object]] = [
            ("month", release.date.year * 12 + release.date.month - 1),
            ("kind", analysis.kind),
            ("lang", analysis.lang),
        ]
        if analysis.place:
            keys.append(("place", analysis.place))
        keys.extend(("country", country) for country in analysis.countries)
        keys.extend(("topic", topic) for topic in analysis.topics)
        return keys

    def _filter_bits(self, parsed: Query) -> int:
        bits = self._live
        if parsed.since or parsed.before:
            bits &= self._date_bits(parsed.since, parsed.before)
        for values, resolve in (
            (parsed.places, self._place_bits),
            (parsed.countries, self._country_bits),
            (parsed.kinds, self._kind_bits),
            (parsed.languages, lambda lang: self._bits_of(("lang", lang))),
        ):
            if values:
                union = 0
                for value in values:
                    union |= resolve(value)
                bits &= union
        return bits

    def _date_bits(self, since: date | None, before: date | None) -> int:
        low = since or date.min
        high = before or date.max
        if low >= high:
            return 0
        first = low.year * 12 + low.month - 1
        last = high.year * 12 + high.month - 1
        bits = 0
        for month in self._months:
            if first < month < last or (month in (first, last) and low.day == 1 and month != last):
                bits |= self._bits_of(("month", month))
            elif month in (first, last):
                slots = self._slot_list(("month", month))
                low_day, high_day = low.toordinal(), high.toordinal()
                dates = self._dates
                bits |= bits_from([s for s in slots if low_day <= dates[s] < high_day])
        return bits

    def _place_bits(self, value: str) -> int:
        bits = 0
        for place in self._matching_keys(value, self._places):
            bits |= self._bits_of(("place", place))
        return bits

    def _kind_bits(self, value: str) -> int:
        bits = 0
        for kind in self._kinds:
            if value in kind:
                bits |= self._bits_of(("kind", kind))
        return bits

    def _country_bits(self, value: str) -> int:
        country = country_of(value)
        if country is None:
            names = list(COUNTRY_NAMES)
            best = process.extractOne(value, names, scorer=fuzz.ratio, score_cutoff=85)
            country = COUNTRY_NAMES[best[0]] if best else None
        if country is not None:
            return self._bits_of(("country", country))
        # Not a country we know by name: releases that mention the word anywhere.
        bits = 0
        for word in value.split():
            bits |= self._match_term(word).matches
        return bits

    @staticmethod
    def _matching_keys(value: str, keys: Iterable[str]) -> list[str]:
        keys = list(keys)
        found = [key for key in keys if value in key]
        found += [
            choice
            for choice, _, _ in process.extract(
                value, keys, scorer=fuzz.ratio, score_cutoff=80, limit=None
            )
            if choice not in found
        ]
        return found
