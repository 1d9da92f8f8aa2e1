"""Benchmark: bot.search.SearchIndex against a naive rapidfuzz scan and SQLite FTS5.

    python bench/search.py [--sizes 10000,100000] [--seed 42] [--repeat 3]

For each corpus size (synthetic releases from bench/corpus.py, reproducible by seed) it
prints, side by side: build time and memory; p50/p99 query latency over a fixed mixed query
set (common, mid and rare words, typos, multi-word, phrases, filters); the same for a naive
full-scan ``rapidfuzz.process.extract`` (on a subsample of queries, it is slow) and for SQLite
FTS5; how often each finds what a typo meant; search latency while a bulk ``add_many`` runs in
another thread; and PASS/FAIL against the targets of the search issue.

Latencies are wall-clock on a shared machine: each query runs ``--repeat`` times and its median
counts. Figures vary from run to run; read them as orders of magnitude and ratios.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sqlite3
import statistics
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz, process

from bench.corpus import generate_releases
from bot.releases import Release
from bot.search import SearchIndex
from bot.text import STOPWORDS as STOPWORDS_BY_LANGUAGE
from bot.text import stem, tokenize

STOPWORDS = STOPWORDS_BY_LANGUAGE["en"]

# Targets at 100,000 releases (from the search issue).
P99_TARGET_MS = 10.0
NAIVE_SPEEDUP_TARGET = 100.0
FTS_P50_RATIO_TARGET = 3.0
MEMORY_TARGET_MB = 300.0


@dataclass
class Query:
    """One benchmark query; ``meant`` is the word a typo stands for."""

    text: str
    category: str
    meant: str | None = None


@dataclass
class Figures:
    """What one engine measured on one corpus."""

    latencies_ms: dict[str, list[float]] = field(default_factory=dict)  # category -> per query
    typo_found: int = 0
    typo_total: int = 0

    def all_ms(self) -> list[float]:
        """Every query's latency."""
        return [ms for values in self.latencies_ms.values() for ms in values]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the second largest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall-clock milliseconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


# ---------------------------------------------------------------------------------------------
# Query set


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustrnl") + word[i + 1 :]


def build_queries(releases: Sequence[Release], seed: int) -> list[Query]:
    """A fixed mixed query set drawn from the corpus (same seed, same queries)."""
    rng = random.Random(f"queries-{seed}")
    sample = rng.sample(list(releases), min(len(releases), 20_000))
    df: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for release in sample:
        words = [w for w in tokenize(f"{release.title} {release.summary}") if w.isalpha()]
        for word in words:
            surface.setdefault(stem(word), word)
        df.update({stem(w) for w in words})
    ranked = [t for t, _ in df.most_common() if t not in STOPWORDS and len(t) > 2]
    vocabulary = set(df)
    queries: list[Query] = []
    for term in rng.sample(ranked[:60], 20):
        queries.append(Query(surface[term], "common"))
    for term in rng.sample(ranked[200:3000], 20):
        queries.append(Query(surface[term], "mid"))
    rare = [t for t in ranked if 1 <= df[t] <= 3]
    for term in rng.sample(rare, 20):
        queries.append(Query(surface[term], "rare"))
    typo_pool = [t for t in ranked[:5000] if len(surface[t]) >= 6]
    while sum(q.category == "typo" for q in queries) < 40:
        word = surface[rng.choice(typo_pool)]
        wrong = _typo(word, rng)
        if stem(wrong) not in vocabulary:
            queries.append(Query(wrong, "typo", meant=word))
    titles = [r.title for r in sample if r.kind == "Press release"]
    while sum(q.category == "multi" for q in queries) < 40:
        words = [w for w in tokenize(rng.choice(titles)) if w not in STOPWORDS and w.isalpha()]
        if len(words) >= 2:
            queries.append(Query(" ".join(rng.sample(words, rng.choice((2, 2, 3)))), "multi"))
    while sum(q.category == "phrase" for q in queries) < 10:
        words = [w for w in tokenize(rng.choice(titles)) if w.isalpha()]
        if len(words) >= 3:
            i = rng.randrange(len(words) - 1)
            if words[i] not in STOPWORDS and words[i + 1] not in STOPWORDS:
                queries.append(Query(f'"{words[i]} {words[i + 1]}"', "phrase"))
    filters = [
        "safety since:2015-01",
        "workers before:2000-01-01",
        "country:china",
        "place:geneva training",
        "kind:advisory",
        "child labour since:2010-06 before:2012-01-01",
        "country:vietnam mining",
        "place:bangkok",
        "trafficking since:2020",
        "kind:statement wages",
    ]
    queries.extend(Query(text, "filter") for text in filters)
    return queries


# ---------------------------------------------------------------------------------------------
# Engines


def meant_in_top(releases: Sequence[Release], meant: str) -> bool:
    """Whether the top hit contains the word a typo meant (as a stem)."""
    if not releases:
        return False
    words = {stem(w) for w in tokenize(f"{releases[0].title} {releases[0].summary}")}
    return stem(meant) in words


def run_ours(index: SearchIndex, queries: Sequence[Query], repeat: int) -> Figures:
    """Latency of SearchIndex.search (first page of 5, total included) per query."""
    figures = Figures()
    for query in queries:
        ms = timed(lambda q=query: index.search(q.text, limit=5), repeat)
        figures.latencies_ms.setdefault(query.category, []).append(ms)
        if query.meant:
            figures.typo_total += 1
            hits = index.search(query.text, limit=1).hits
            figures.typo_found += meant_in_top([h.release for h in hits], query.meant)
    return figures


def run_naive(texts: Sequence[str], queries: Sequence[Query], repeat: int) -> Figures:
    """A full scan: rapidfuzz WRatio of the query against every release's text."""
    figures = Figures()
    for query in queries:
        ms = timed(
            lambda q=query: process.extract(q.text, texts, scorer=fuzz.WRatio, limit=5),
            repeat,
        )
        figures.latencies_ms.setdefault(query.category, []).append(ms)
    return figures


class Fts5:
    """The same corpus in an in-memory SQLite FTS5 table (porter stemmer, diacritics off)."""

    def __init__(self, releases: Sequence[Release]) -> None:
        self.releases = list(releases)
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(title, summary, place, topics, kind UNINDEXED,"
            " day UNINDEXED, tokenize='porter unicode61 remove_diacritics 2')"
        )
        self.db.executemany(
            "INSERT INTO docs(rowid, title, summary, place, topics, kind, day)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    i,
                    r.title,
                    r.summary,
                    r.place or "",
                    " ".join(r.topics),
                    r.kind,
                    r.date.isoformat(),
                )
                for i, r in enumerate(self.releases)
            ),
        )
        self.db.commit()

    def sql(self, text: str) -> tuple[str, list[object]]:
        """Our query syntax as an FTS5 MATCH with SQL conditions for the filters."""
        terms = [f'"{phrase}"' for phrase in re.findall(r'"([^"]*)"', text) if phrase.strip()]
        where: list[str] = []
        args: list[object] = []
        for token in re.sub(r'"[^"]*"?', " ", text).split():
            key, _, value = token.partition(":")
            if value and key == "since":
                where.append("day >= ?")
                args.append(value)
            elif value and key == "before":
                where.append("day < ?")
                args.append(value)
            elif value and key == "kind":
                where.append("lower(kind) LIKE ?")
                args.append(f"%{value}%")
            else:
                terms.append('"' + (value if key in ("place", "country") else token) + '"')
        match = " ".join(terms)
        conditions = " AND ".join(["docs MATCH ?", *where]) if terms else " AND ".join(where)
        order = "bm25(docs, 10.0, 5.0, 2.0, 2.0)" if terms else "day DESC"
        params = [match, *args] if terms else args
        return f"SELECT rowid FROM docs WHERE {conditions} ORDER BY {order} LIMIT 5", params

    def search(self, text: str) -> list[Release]:
        """Top 5 releases for a query (no total count, unlike SearchIndex)."""
        statement, params = self.sql(text)
        try:
            rows = self.db.execute(statement, params).fetchall()
        except sqlite3.OperationalError:
            return []
        return [self.releases[row[0]] for row in rows]


def run_fts(fts: Fts5, queries: Sequence[Query], repeat: int) -> Figures:
    """Latency of FTS5 top-5 queries per query, and whether typos find what they meant."""
    figures = Figures()
    for query in queries:
        ms = timed(lambda q=query: fts.search(q.text), repeat)
        figures.latencies_ms.setdefault(query.category, []).append(ms)
        if query.meant:
            figures.typo_total += 1
            figures.typo_found += meant_in_top(fts.search(query.text), query.meant)
    return figures


# ---------------------------------------------------------------------------------------------
# Build measurements


def build_memory_mb(releases: Sequence[Release]) -> tuple[float, float]:
    """(retained, peak) MB of Python allocations made while building an index (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    index = SearchIndex(releases)
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    gc.collect()
    return retained / 2**20, peak / 2**20


def concurrent_latency(
    releases: Sequence[Release], queries: Sequence[Query]
) -> tuple[list[float], float]:
    """Search latencies (ms) while add_many loads ``releases`` in another thread, and the
    longest garbage-collector pause (ms) meanwhile (it stops every thread)."""
    index = SearchIndex()
    loader = threading.Thread(target=index.add_many, args=(releases,))
    latencies: list[float] = []
    pauses: list[float] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((time.perf_counter() - started.pop()) * 1000)

    gc.callbacks.append(on_gc)
    try:
        loader.start()
        i = 0
        while loader.is_alive():
            start = time.perf_counter()
            index.search(queries[i % len(queries)].text)
            latencies.append((time.perf_counter() - start) * 1000)
            i += 1
            time.sleep(0.002)  # like requests arriving, not a busy loop starving the loader
        loader.join()
    finally:
        gc.callbacks.remove(on_gc)
    return latencies, max(pauses, default=0.0)


# ---------------------------------------------------------------------------------------------
# Report


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def bench_size(size: int, seed: int, repeat: int, naive_queries: int) -> dict[str, object]:
    """Measure everything for one corpus size and print its table."""
    print(f"\n=== {size:,} releases (seed {seed}) ===", flush=True)
    start = time.perf_counter()
    releases = generate_releases(size, seed)
    print(f"corpus generated in {time.perf_counter() - start:.1f} s", flush=True)
    queries = build_queries(releases, seed)

    retained_mb, peak_mb = build_memory_mb(releases)
    gc.collect()
    start = time.perf_counter()
    index = SearchIndex(releases)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    fts = Fts5(releases)
    fts_build_s = time.perf_counter() - start
    texts = [f"{r.title} {r.summary}" for r in releases]

    ours = run_ours(index, queries, repeat)
    fts_figures = run_fts(fts, queries, repeat)
    rng = random.Random(f"naive-{seed}")
    subsample = rng.sample(list(queries), min(naive_queries, len(queries)))
    naive = run_naive(texts, subsample, 1)
    ours_sub = run_ours(index, subsample, repeat)
    during_build, gc_pause = concurrent_latency(releases, queries)

    ms = ours.all_ms()
    fts_ms = fts_figures.all_ms()
    p50, p99 = statistics.median(ms), percentile(ms, 99)
    fts_p50, fts_p99 = statistics.median(fts_ms), percentile(fts_ms, 99)
    naive_p50 = statistics.median(naive.all_ms())
    speedup = naive_p50 / statistics.median(ours_sub.all_ms())

    mix = ", ".join(f"{category} {len(v)}" for category, v in ours.latencies_ms.items())
    print(f"queries: {len(queries)} ({mix})")
    print()
    print(f"{'':34}{'SearchIndex':>14}{'naive scan':>14}{'FTS5':>14}")
    print(f"{'build (s)':34}{build_s:>14.2f}{'-':>14}{fts_build_s:>14.2f}")
    print(f"{'index memory, retained MB':34}{retained_mb:>14.1f}{'-':>14}{'-':>14}")
    print(f"{'index memory, peak MB':34}{peak_mb:>14.1f}{'-':>14}{'-':>14}")
    naive_p99 = percentile(naive.all_ms(), 99)
    print(f"{'query p50 (ms)':34}{p50:>14.2f}{naive_p50:>14.1f}{fts_p50:>14.2f}")
    print(f"{'query p99 (ms)':34}{p99:>14.2f}{naive_p99:>14.1f}{fts_p99:>14.2f}")
    print(f"{'query max (ms)':34}{max(ms):>14.2f}{max(naive.all_ms()):>14.1f}{max(fts_ms):>14.2f}")
    typo_ours = f"{ours.typo_found}/{ours.typo_total}"
    typo_fts = f"{fts_figures.typo_found}/{fts_figures.typo_total}"
    print(f"{'typos: top hit has the meant word':34}{typo_ours:>14}{'-':>14}{typo_fts:>14}")
    print()
    print("per category, SearchIndex p50 / p99 ms (FTS5 p50 / p99 ms):")
    for category, values in ours.latencies_ms.items():
        other = fts_figures.latencies_ms[category]
        print(
            f"  {category:8} {statistics.median(values):7.2f} / {percentile(values, 99):6.2f}"
            f"   ({statistics.median(other):6.2f} / {percentile(other, 99):6.2f})"
        )
    print(
        f"naive scan: {len(subsample)} of the queries, run once each; SearchIndex on the same "
        f"ones: p50 {statistics.median(ours_sub.all_ms()):.2f} ms -> speedup {speedup:,.0f}x"
    )
    print(
        f"search while add_many({size:,}) runs in another thread: {len(during_build)} searches,"
        f" p50 {statistics.median(during_build):.2f} ms, p99 {percentile(during_build, 99):.2f} ms,"
        f" max {max(during_build):.2f} ms (longest garbage-collector pause meanwhile:"
        f" {gc_pause:.0f} ms)"
    )
    print(
        "memory: tracemalloc, Python allocations made by SearchIndex(releases); the releases"
        " given existed before and are not counted, but the index's own compressed copy of"
        " them (bot.search.packed) is"
    )
    return {
        "size": size,
        "p50": p50,
        "p99": p99,
        "fts_p50": fts_p50,
        "speedup": speedup,
        "memory": peak_mb,
        "typo": (ours.typo_found, fts_figures.typo_found, ours.typo_total),
        "build": build_s,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for each size and check the targets on the largest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs per query (median counts)")
    parser.add_argument(
        "--naive-queries", type=int, default=12, help="queries in the naive-scan subsample"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    results = [bench_size(size, args.seed, args.repeat, args.naive_queries) for size in sizes]
    largest = results[-1]
    print(f"\n=== targets, checked at {largest['size']:,} releases ===")
    checks = [
        (
            f"p99 <= {P99_TARGET_MS:g} ms",
            f"{largest['p99']:.2f} ms",
            largest["p99"] <= P99_TARGET_MS,
        ),
        (
            f">= {NAIVE_SPEEDUP_TARGET:g}x faster than naive scan",
            f"{largest['speedup']:,.0f}x",
            largest["speedup"] >= NAIVE_SPEEDUP_TARGET,
        ),
        (
            f"p50 within {FTS_P50_RATIO_TARGET:g}x of FTS5 p50",
            f"{largest['p50'] / largest['fts_p50']:.2f}x",
            largest["p50"] <= FTS_P50_RATIO_TARGET * largest["fts_p50"],
        ),
        (
            "finds typos that FTS5 misses",
            f"{largest['typo'][0]} vs {largest['typo'][1]} of {largest['typo'][2]}",
            largest["typo"][0] > largest["typo"][1],
        ),
        (
            f"index memory <= {MEMORY_TARGET_MB:g} MB",
            f"{largest['memory']:.0f} MB peak",
            largest["memory"] <= MEMORY_TARGET_MB,
        ),
    ]
    for name, value, ok in checks:
        print(f"  {verdict(ok)}  {name:42} {value}")
    print(f"\nbench finished in {time.perf_counter() - started:.0f} s")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
