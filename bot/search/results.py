"""What a search returns: a page of hits and how many matched in all."""

from __future__ import annotations

from dataclasses import dataclass

from bot.releases import Release

__all__ = ["Hit", "SearchResult"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the release and its score (0..100, higher is better)."""

    release: Release
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits, how many matched in all, and a "did you mean" text when nothing did
    (or when only some of the words matched)."""

    hits: list[Hit]
    total: int
    suggestion: str | None
    #: True when no release has every word, so these hits have only some of them.
    partial: bool = False
