"""Outbox batch benchmark: the time to pick the next batch with 100,000 / 1,000,000 pending.

Fills a fresh SQLite file and a fresh PostgreSQL database with pending outbox rows shaped
like real fan-outs (each release to every chat, release after release), then times:

* ``claim_due``: what every delivering process runs (one row per free chat, claimed);
* ``due_deliveries(per_chat=1)``: the same rows without claiming;
* for comparison, the window query used before schema 6 (ranks every pending row).

    python bench/outbox_batch.py [--sizes 100000,1000000] [--batch 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bot.store import PENDING, Store, outbox_table  # noqa: E402

SERVER = os.environ.get("NEWSBOT_BENCH_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/postgres")
CHATS = 100_000


async def fill(store: Store, size: int) -> None:
    now = time.time() - 60
    chunk = 10_000
    async with store.engine.begin() as conn:
        for start in range(0, size, chunk):
            await conn.execute(outbox_table.insert(), [
                {"release_id": f"r{n // CHATS}", "release_key": f"k{n // CHATS}",
                 "chat_id": n % CHATS, "thread_id": 0, "topics": "[]", "status": PENDING,
                 "attempts": 0, "next_attempt_at": now, "created_at": now}
                for n in range(start, min(size, start + chunk))])
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as conn:
            await conn.execute(sa.text("COMMIT"))
            await conn.execute(sa.text("VACUUM ANALYZE outbox"))
    else:
        async with store.engine.begin() as conn:
            await conn.execute(sa.text("ANALYZE"))


async def old_window(store: Store, limit: int) -> None:
    o = outbox_table.c
    due = sa.and_(o.status == PENDING, o.next_attempt_at <= time.time())
    rank = sa.func.row_number().over(partition_by=o.chat_id,
                                     order_by=(o.next_attempt_at, o.id)).label("rank")
    ranked = sa.select(outbox_table, rank).where(due).subquery()
    query = (sa.select(ranked.c.id).where(ranked.c.rank <= 1)
             .order_by(ranked.c.next_attempt_at, ranked.c.id).limit(limit))
    async with store.engine.connect() as conn:
        (await conn.execute(query)).all()


async def timed(call, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def measure(url: str, size: int, batch: int) -> list[str]:
    store = await Store.open(url)
    try:
        t0 = time.perf_counter()
        await fill(store, size)
        filled = time.perf_counter() - t0
        n = iter(range(10**9))
        claim = await timed(lambda: store.claim_due(f"bench:{next(n)}", time.time(), batch,
                                                    30.0), 10)
        peek = await timed(lambda: store.due_deliveries(time.time(), batch, per_chat=1), 10)
        old = await timed(lambda: old_window(store, batch), 2)
        return [store.engine.dialect.name, f"{size:,}", f"{claim:.1f}", f"{peek:.1f}",
                f"{old:.0f}", f"{filled:.0f}"]
    finally:
        await store.close()


async def main(args: argparse.Namespace) -> None:
    rows = []
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix="newsbot-outbox-"))
        rows.append(await measure(f"sqlite:///{folder / 'o.sqlite3'}", size, args.batch))
        name = f"newsbot_bench_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(SERVER)
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            rows.append(await measure(SERVER.rpartition("/")[0] + "/" + name, size,
                                      args.batch))
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    head = ["engine", "pending", "claim_due ms", "due_deliveries ms", "old window ms",
            "fill s"]
    print(f"\nbatch of {args.batch} rows, {CHATS:,} chats\n")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        type=lambda t: [int(x) for x in t.split(",")])
    parser.add_argument("--batch", type=int, default=60)
    asyncio.run(main(parser.parse_args()))
