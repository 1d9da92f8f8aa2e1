"""Alert planning at scale: subscriptions x new releases, time and peak memory added.

    python -m bench.plan [--sizes 10000,100000,1000000] [--new 1,100] [--postgres URL]

Subscriptions get topics drawn from ~1,800-10,000 distinct keys (the taxonomy and corpus
words), like real bots. Each row: the time of ``Ingestor.ingest`` (plan + one write
transaction) and the peak Python memory it added (tracemalloc). The outbox-batch row is
owned by the multi-process delivery work: HOOK below (skipped here).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench.corpus import generate_releases
from bot.ingest import Ingestor
from bot.search import SearchIndex
from bot.store import Store, subscriptions_table
from bot.topics import TopicError, TopicMatcher


def topic_keys(matcher: TopicMatcher, distinct: int) -> list[str]:
    rng = random.Random(5)
    words = sorted({w for r in generate_releases(2000, seed=8) for w in r.summary.split()})
    keys = {matcher.parse(e.name).key for e in matcher.taxonomy()}
    while len(keys) < distinct:
        try:
            keys.add(matcher.parse(" ".join(rng.sample(words, rng.choice((1, 2))))).key)
        except TopicError:
            continue
    return sorted(keys)


async def run(url: str, subs: int, new: int, matcher: TopicMatcher) -> tuple[float, float]:
    store = await Store.open(url)
    try:
        keys = topic_keys(matcher, 10_000 if subs >= 1_000_000 else 1_800)
        rng = random.Random(1)
        for start in range(0, subs, 20_000):
            async with store.engine.begin() as conn:
                await conn.execute(subscriptions_table.insert(), [
                    {"chat_id": i, "thread_id": 0, "topic": rng.choice(keys), "created_at": 0.0}
                    for i in range(start, min(subs, start + 20_000))])
        ingestor = Ingestor(store, SearchIndex(), matcher)
        await ingestor.ingest(generate_releases(1, seed=77), "warm", notify=True)
        releases = generate_releases(new, seed=31)
        tracemalloc.start()
        started = time.perf_counter()
        await ingestor.ingest(releases, "bench", notify=True)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        return elapsed, peak
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", default="1,100")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a fresh database)")
    args = parser.parse_args()
    matcher = TopicMatcher.default()
    print("| engine | subscriptions x new | time | peak memory added |")
    print("|---|---|---|---|")
    for subs in map(int, args.sizes.split(",")):
        for new in map(int, args.new.split(",")):
            engines: list[tuple[str, str | None]] = [("SQLite", None)]
            if args.postgres:
                engines.append(("PostgreSQL", args.postgres))
            for name, url in engines:
                if url is None:
                    folder = tempfile.mkdtemp()
                    url = f"sqlite:///{Path(folder) / 'plan.sqlite3'}"
                else:
                    url = await fresh_postgres(url)
                elapsed, peak = await run(url, subs, new, matcher)
                print(f"| {name} | {subs:,} x {new} | {elapsed:.2f} s | {peak:.0f} MB |",
                      flush=True)
    # HOOK (owned by the delivery engineer): outbox batch time at 100k / 1M pending.
    print("| outbox batch at 100k / 1M pending | (see bench of the delivery work) | | |")


async def fresh_postgres(url: str) -> str:
    """A new empty database next to ``url``'s, so every row starts clean."""
    import asyncpg  # the PostgreSQL driver the store uses

    name = f"newsbot_plan_{random.randrange(1 << 30)}"
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
