"""What one /metrics scrape and one /healthz check cost the store, with a large outbox.

    .venv/bin/python bench/scrape.py [--pending 100000,1000000] [--postgres]

Fills an outbox with N pending rows (plus as many sent ones, which must not be read) and
times ``Store.outbox_backlog()`` (the scrape's query) and ``Store.ping()`` (the health check).
Prints figures; there is no pass/fail target beyond "well under the 2 s timeout".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bot.store import PENDING, SENT, Store, outbox_table


async def fill(store: Store, pending: int) -> None:
    now = time.time()
    batch = 50_000
    async with store.engine.begin() as conn:
        for status in (SENT, PENDING):
            for start in range(0, pending, batch):
                await conn.execute(outbox_table.insert(), [
                    {"release_id": f"r{status}{i}", "chat_id": i, "thread_id": 0,
                     "topics": "[]", "status": status, "attempts": 0,
                     "next_attempt_at": now, "created_at": now - i}
                    for i in range(start, min(start + batch, pending))])
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("ANALYZE outbox"))


async def timed(call, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def measure(url: str, pending: int, label: str) -> None:
    store = await Store.open(url)
    try:
        await fill(store, pending)
        backlog = await timed(store.outbox_backlog)
        ping = await timed(store.ping)
        count, _ = await store.outbox_backlog()
        assert count == pending
        print(f"{label:10} {pending:>9,} pending: outbox_backlog {backlog:8.1f} ms, "
              f"ping {ping:6.2f} ms")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pending", default="100000,1000000")
    parser.add_argument("--postgres", action="store_true",
                        help="also on a fresh database of the test server (tests/pg.py)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.pending.split(",")]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            await measure(f"sqlite:///{Path(tmp) / 'b.sqlite3'}", size, "SQLite")
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests import pg

        for size in sizes:
            name = await pg.create_database()
            try:
                await measure(pg.database_url(name), size, "PostgreSQL")
            finally:
                await pg.drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
