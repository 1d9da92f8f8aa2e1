"""Alert planning at scale: subscriptions x new releases, time and peak memory added.

    python -m bench.plan [--sizes 10000,100000,1000000] [--new 1,100] [--postgres URL]

Subscriptions get topics drawn from ~1,800-10,000 distinct keys (the taxonomy and corpus
words), like real bots. Each row: the time of ``Ingestor.ingest`` (plan + one write
transaction), measured without tracing; the peak Python memory a second such ingest adds
(tracemalloc); and the longest stall of the event loop during the timed one. The time to
pick the next outbox batch at 100k / 1M pending is measured by ``bench/outbox_batch.py``.
PostgreSQL rows run in a database created for the row and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
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


async def run(url: str, subs: int, new: int, matcher: TopicMatcher
              ) -> tuple[float, float, float, int]:
    """Time one ingest of ``new`` releases (no tracing: tracemalloc slows Python down
    several times), then the peak memory of a second, like ingest under tracemalloc.
    Also the longest the event loop went without running a ready task (what a command
    would have waited) during the timed ingest, and the deliveries it planned."""
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
        releases = generate_releases(2 * new, seed=31)
        lag = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal lag
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                lag = max(lag, now - last - 0.005)
                last = now

        ticking = asyncio.ensure_future(ticker())
        started = time.perf_counter()
        result = await ingestor.ingest(releases[:new], "bench", notify=True)
        elapsed = time.perf_counter() - started
        done.set()
        await ticking
        tracemalloc.start()
        await ingestor.ingest(releases[new:], "bench", notify=True)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        return elapsed, peak, lag, result.deliveries
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", default="1,100")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a fresh database)")
    args = parser.parse_args()
    matcher = TopicMatcher.default()
    print("| engine | subscriptions x new | deliveries | time | peak memory added"
          " | longest event-loop stall |")
    print("|---|---|---|---|---|---|")
    for subs in map(int, args.sizes.split(",")):
        for new in map(int, args.new.split(",")):
            engines: list[tuple[str, str | None]] = [("SQLite", None)]
            if args.postgres:
                engines.append(("PostgreSQL", args.postgres))
            for name, url in engines:
                if url is None:
                    folder = tempfile.mkdtemp()
                    elapsed, peak, lag, count = await run(
                        f"sqlite:///{Path(folder) / 'plan.sqlite3'}", subs, new, matcher)
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    fresh = await create_database(url)
                    try:
                        elapsed, peak, lag, count = await run(fresh, subs, new, matcher)
                    finally:
                        await drop_database(url, fresh)
                print(f"| {name} | {subs:,} x {new} | {count:,} | {elapsed:.2f} s"
                      f" | {peak:.0f} MB | {lag * 1000:.0f} ms |", flush=True)
    print("(outbox batch at 100k / 1M pending: python bench/outbox_batch.py)")


def _admin_dsn(url: str) -> str:
    """The asyncpg form of a SQLAlchemy PostgreSQL URL."""
    return url.replace("postgresql+asyncpg", "postgresql")


async def create_database(url: str) -> str:
    """A new empty database next to ``url``'s, so every row starts clean."""
    import asyncpg  # the PostgreSQL driver the store uses

    name = f"newsbot_plan_{random.randrange(1 << 30)}"
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str, fresh: str) -> None:
    """Drop the database :func:`create_database` made (connected through ``url``'s)."""
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {fresh.rsplit('/', 1)[1]}")
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
