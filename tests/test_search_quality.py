"""Ranking quality over a labelled query set: MRR and recall@5 may only get better.

The set (tests/data/search_quality/) is the ten shipped releases plus 54 realistic releases
written for it (countries, topics and dates from 1999 to 2024), and queries with the ids a
person would expect: typos, plurals, country names, multi-word, phrases and filters.

The thresholds sit a little under the first honest measurement (MRR 1.000, recall@5 0.981 on
62 queries). Raise them when ranking improves; never lower them to make a change pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.releases import Release
from bot.search import SearchIndex

DATA = Path(__file__).resolve().parent / "data" / "search_quality"
ROOT = Path(__file__).resolve().parents[1]

MRR_THRESHOLD = 0.95
RECALL_AT_5_THRESHOLD = 0.95


@dataclass(frozen=True)
class Judged:
    """One labelled query and how the index did on it."""

    query: str
    relevant: frozenset[str]
    ranked: tuple[str, ...]

    @property
    def reciprocal_rank(self) -> float:
        """1 / rank of the first relevant hit in the top 10, else 0."""
        for rank, rid in enumerate(self.ranked[:10], start=1):
            if rid in self.relevant:
                return 1 / rank
        return 0.0

    @property
    def recall_at_5(self) -> float:
        """Share of the relevant releases in the top 5 (of at most 5 that could be)."""
        found = len(self.relevant & set(self.ranked[:5]))
        return found / min(5, len(self.relevant))


def load_releases() -> list[Release]:
    shipped = ROOT / "data" / "releases.json"
    seed = shipped if shipped.exists() else DATA / "seed_releases.json"
    items = json.loads(seed.read_text(encoding="utf-8"))
    items += json.loads((DATA / "extra_releases.json").read_text(encoding="utf-8"))
    return [Release.from_dict(item) for item in items]


@pytest.fixture(scope="module")
def judged() -> list[Judged]:
    index = SearchIndex(load_releases())
    queries = json.loads((DATA / "queries.json").read_text(encoding="utf-8"))
    out = []
    for item in queries:
        hits = index.search(item["query"], limit=10).hits
        out.append(
            Judged(item["query"], frozenset(item["relevant"]), tuple(h.release.id for h in hits))
        )
    return out


def test_labelled_ids_exist() -> None:
    known = {release.id for release in load_releases()}
    queries = json.loads((DATA / "queries.json").read_text(encoding="utf-8"))
    assert len(queries) >= 40
    for item in queries:
        assert set(item["relevant"]) <= known, item["query"]


def test_mrr_and_recall_at_5_stay_above_thresholds(judged: list[Judged]) -> None:
    mrr = sum(j.reciprocal_rank for j in judged) / len(judged)
    recall = sum(j.recall_at_5 for j in judged) / len(judged)
    print(f"\nsearch quality over {len(judged)} queries: MRR {mrr:.3f}, recall@5 {recall:.3f}")
    for j in judged:
        if j.reciprocal_rank < 1 or j.recall_at_5 < 1:
            print(f"  {j.query!r}: RR {j.reciprocal_rank:.2f}, recall@5 {j.recall_at_5:.2f}")
    assert mrr >= MRR_THRESHOLD
    assert recall >= RECALL_AT_5_THRESHOLD
