"""Several processes on one PostgreSQL store: claims, the shared rate, leases, takeover.

Every test here runs on the machine's PostgreSQL (a fresh database each, ``postgres_url``),
except the SQLite guard and the paid-broadcast limits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import telegram
from telegram.request import HTTPXRequest

from bot.cluster import Lease
from bot.config import ConfigError, DeliverySettings, load_settings
from bot.delivery import Deliverer
from bot.delivery.budget import SharedSlots
from bot.delivery.lane import ALERT, ALONE_SHARE, REPLY, Lane
from bot.emulator import Emulator, FloodLimits
from bot.emulator.limits import FloodLimiter
from bot.store import PENDING, SENT, Delivery, Store, StoreUnavailable, outbox_table
from tests.helpers import DATA, eventually
from tests.test_delivery import release, sends

TOKEN = "777002:scale-out-test-token"
ROOT = Path(__file__).resolve().parents[1]
FAST = DeliverySettings(interval_seconds=0.05, backoff_seconds=0.05, max_attempts=3,
                        request_timeout=5.0)
#: Telegram's limits, with no burst for one chat: two messages to a chat within a second
#: (from any process) are a 429.
STRICT = FloodLimits(per_second=30, per_chat_per_second=1, per_group_per_minute=20, burst=1)


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[Store]:
    store = await Store.open(postgres_url)
    yield store
    await store.close()


async def _bot(emulator: Emulator) -> telegram.Bot:
    bot = telegram.Bot(TOKEN, base_url=emulator.base_url,
                       request=HTTPXRequest(connection_pool_size=64, read_timeout=5.0))
    await bot.initialize()
    return bot


async def _queue(store: Store, releases: list[Any], chats: list[int]) -> None:
    async with store.ingest_batch("test") as batch:
        new = (await batch.upsert(releases)).new
        await batch.enqueue([Delivery(r.id, chat, 0, ("",)) for r in new for chat in chats])


async def _bulk_outbox(store: Store, rows: list[tuple[int, float]]) -> None:
    """Pending rows straight into the outbox: (chat_id, next_attempt_at) each."""
    values = [{"release_id": f"r{n}", "release_key": f"k{n}", "chat_id": chat, "thread_id": 0,
               "topics": "[]", "status": PENDING, "attempts": 0, "next_attempt_at": due,
               "created_at": due} for n, (chat, due) in enumerate(rows)]
    async with store.engine.begin() as conn:
        for start in range(0, len(values), 5000):
            await conn.execute(outbox_table.insert(), values[start:start + 5000])


# -- the outbox batch ----------------------------------------------------------------------


async def test_batch_query_returns_the_oldest_row_of_each_chat_at_scale_sqlite(
        tmp_path: Path) -> None:
    await _check_batch(f"sqlite:///{tmp_path / 'b.sqlite3'}")


async def test_batch_query_returns_the_oldest_row_of_each_chat_at_scale_postgres(
        postgres_url: str) -> None:
    await _check_batch(postgres_url)


async def _check_batch(url: str) -> None:
    store = await Store.open(url)
    try:
        now = 1_000_000.0
        # One chat with 3,000 rows at the head of the queue, then 2,000 chats with 1-3 rows,
        # some not yet due.
        rows = [(1, now - 100) for _ in range(3000)]
        rows += [(1000 + n % 2000, now - 50 + (n % 7)) for n in range(5000)]
        rows += [(5000 + n, now + 10) for n in range(100)]  # not due
        await _bulk_outbox(store, rows)
        got = await store.due_deliveries(now, 120, per_chat=1)
        # The reference: every due row ranked in order, the first of each chat, 120 of them.
        ordered = sorted((due, n + 1, chat) for n, (chat, due) in enumerate(rows) if due <= now)
        seen: set[int] = set()
        expected = []
        for _due, row_id, chat in ordered:
            if chat not in seen:
                seen.add(chat)
                expected.append(row_id)
        assert [r.id for r in got] == expected[:120]
        claimed = await store.claim_due("a", now, 50, 30.0)
        assert len({r.chat_id for r in claimed}) == 50
        again = await store.claim_due("b", now, 5000, 30.0)
        assert not {r.chat_id for r in claimed} & {r.chat_id for r in again}
        assert len(again) == len(seen) - 50  # every other due chat, once
    finally:
        await store.close()


async def test_concurrent_claims_never_share_a_row_or_a_chat(pg_store: Store) -> None:
    now = time.time()
    await _bulk_outbox(pg_store, [(n % 300, now - 1) for n in range(1200)])
    batches = await asyncio.gather(*(pg_store.claim_due(f"p{n}", now, 40, 30.0)
                                     for n in range(12)))
    claimed = [r for batch in batches for r in batch]
    assert len(claimed) == 300  # one row for each chat, whoever got it
    assert len({r.id for r in claimed}) == len(claimed)
    assert len({r.chat_id for r in claimed}) == len(claimed)


# -- several deliverers on one store ------------------------------------------------------


async def test_three_deliverers_send_each_row_once_within_the_shared_limits(
        pg_store: Store) -> None:
    async with Emulator(limits=STRICT) as emu:
        emu.add_bot(TOKEN)
        chats = [emu.private_chat(emu.add_user(f"U{n}"))["id"] for n in range(60)]
        await _queue(pg_store, [release(1), release(2)], chats)  # two alerts per chat
        deliverers = []
        for n in range(3):
            d = Deliverer(await _bot(emu), pg_store, FAST, asyncio.Event(),
                          owner=f"otherhost:{n + 1}")
            d.lane.share(SharedSlots(pg_store, d.lane.interval))
            await d.acquire_lock()
            d.start()
            deliverers.append(d)
        try:
            async def all_sent() -> bool:
                return all(r.status == SENT for r in await pg_store.outbox_rows())

            await eventually(all_sent, timeout=60, what="every alert sent")
        finally:
            for d in deliverers:
                await d.stop()
                await d.bot.shutdown()
        requests = sends(emu)
        texts = Counter((int(r.params["chat_id"]), r.params["text"]) for r in requests)
        assert len(texts) == 120 and max(texts.values()) == 1  # nothing twice
        assert emu.stats.flood_429 == 0  # 30/s overall and 1/s per chat, all together
        assert all(d.stats.sent > 0 for d in deliverers)  # every process took part


async def test_rows_of_a_dead_claimer_are_sent_by_another_once_the_lease_ends(
        pg_store: Store) -> None:
    async with Emulator() as emu:
        emu.add_bot(TOKEN)
        chats = [emu.private_chat(emu.add_user(f"U{n}"))["id"] for n in range(4)]
        await _queue(pg_store, [release(1)], chats)
        # A process on another host claimed them all and was killed (it never answers).
        lease = 2.0
        assert len(await pg_store.claim_due("otherhost:9", time.time(), 10, lease)) == 4
        d = Deliverer(await _bot(emu), pg_store, FAST, asyncio.Event(), owner="thishost:1")
        try:
            await d.acquire_lock()
            assert await d.deliver_due() == 0  # leased to the other one: hands off
            claimed_at = time.time()

            async def sent() -> bool:
                await d.deliver_due()
                return all(r.status == SENT for r in await pg_store.outbox_rows())

            await eventually(sent, timeout=20, what="the rows sent after the lease")
            assert time.time() - claimed_at >= lease - 0.5
            assert len(sends(emu)) == 4
        finally:
            await d.bot.shutdown()


async def test_claims_of_a_dead_process_on_this_host_come_back_at_once(
        pg_store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is now free: a process of this host that died
    dead = f"{socket.gethostname()}:{child.pid}"
    async with Emulator() as emu:
        emu.add_bot(TOKEN)
        chat = emu.private_chat(emu.add_user("Ann"))["id"]
        await _queue(pg_store, [release(1)], [chat])
        await pg_store.claim_due(dead, time.time(), 10, 600.0)
        d = Deliverer(await _bot(emu), pg_store, FAST, asyncio.Event(), owner="thishost:1")
        try:
            await d.acquire_lock()
            assert await d.deliver_due() == 1
        finally:
            await d.bot.shutdown()


# -- leases and source polls ----------------------------------------------------------------


async def test_a_lease_is_taken_over_once_its_holder_stops_renewing(pg_store: Store) -> None:
    first = Lease(pg_store, "sources", "hostA:1", ttl=0.5)
    second = Lease(pg_store, "sources", "hostB:2", ttl=0.5)
    assert await first.hold()
    assert not await second.hold()
    assert await first.hold()  # renewed

    async def taken() -> bool:
        return await second.hold()

    await eventually(taken, timeout=10, what="the second process takes the lease over")
    assert not await first.hold()  # the old holder learns it lost it
    await second.release()
    assert await first.hold()  # released: free at once


async def test_a_source_is_polled_once_per_interval_whoever_asks(pg_store: Store) -> None:
    now = time.time()
    assert await pg_store.claim_source_poll("feed", now, 60)
    assert not await pg_store.claim_source_poll("feed", now + 1, 60)  # the other process
    assert await pg_store.claim_source_poll("feed", now + 61, 60)
    results = await asyncio.gather(*(pg_store.claim_source_poll("new", now, 60)
                                     for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]


# -- paid broadcast -----------------------------------------------------------------------


def test_the_emulator_counts_paid_broadcasts_against_1000_per_second() -> None:
    clock = [0.0]
    limiter = FloodLimiter(FloodLimits(), clock=lambda: clock[0])
    assert all(limiter.acquire(n, is_group=False) is None for n in range(30))
    assert limiter.acquire(99, is_group=False) is not None  # the free 30/s are used up
    assert all(limiter.acquire(1000 + n, is_group=False, paid=True) is None
               for n in range(1000))
    assert limiter.acquire(5000, is_group=False, paid=True) is not None
    assert limiter.acquire(1, is_group=False, paid=True) is not None  # 1/s per chat stays


async def test_paid_broadcast_sends_alerts_with_allow_paid_broadcast(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    async with Emulator(limits=FloodLimits()) as emu:
        emu.add_bot(TOKEN)
        chats = [emu.private_chat(emu.add_user(f"U{n}"))["id"] for n in range(80)]
        await _queue(store, [release(1)], chats)
        settings = dataclasses.replace(FAST, paid_broadcast=True, messages_per_second=500)
        d = Deliverer(await _bot(emu), store, settings, asyncio.Event())
        try:
            await d.acquire_lock()
            assert await d.deliver_due() == 80
        finally:
            await d.release_lock()
            await d.bot.shutdown()
            await store.close()
        assert all(r.params.get("allow_paid_broadcast") in (True, "true", "True")
                   for r in sends(emu))
        assert emu.stats.paid_broadcasts == 80 and emu.stats.flood_429 == 0


@pytest.mark.parametrize(("text", "error"), [
    ("messages_per_second = 100\n", "at most 30"),
    ("messages_per_second = 1001\npaid_broadcast = true\n", "at most 1000"),
    ("paid_broadcast = 1\n", "expected bool"),
])
def test_messages_per_second_is_capped_by_telegram(tmp_path: Path, text: str,
                                                   error: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[delivery]\n" + text)
    with pytest.raises(ConfigError, match=error):
        load_settings(config, env={})
    config.write_text("[delivery]\nmessages_per_second = 1000\npaid_broadcast = true\n")
    assert load_settings(config, env={}).delivery.messages_per_second == 1000


# -- real processes -------------------------------------------------------------------------


def _config(tmp_path: Path, emulator: Emulator, database: str, releases: Path) -> Path:
    config = tmp_path / "run.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{emulator.base_url}"\n'
        f'poll_timeout = 1\n[storage]\ndatabase = "{database}"\n'
        f'[sources]\nfiles = ["{releases}"]\npoll_seconds = 1\n'
        f'[delivery]\ninterval_seconds = 0.2\n'
        f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    return config


async def _start(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT), env=os.environ.copy())


async def _holder(store: Store, name: str) -> str | None:
    async with store.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT owner FROM locks WHERE name = :n"),
                                   {"n": name})).scalar()


async def test_two_processes_on_postgres_take_over_from_a_killed_one(
        tmp_path: Path, postgres_url: str) -> None:
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    async with Emulator() as emu:
        emu.add_bot(TOKEN, username="scale_bot")
        config = _config(tmp_path, emu, postgres_url, releases)
        first = await _start(config)
        store = await Store.open(postgres_url)
        second: asyncio.subprocess.Process | None = None
        try:
            async def leader(pid: int) -> bool:
                return (await _holder(store, "sources") or "").endswith(f":{pid}") and (
                    await _holder(store, "updates") or "").endswith(f":{pid}")

            await eventually(lambda: leader(first.pid), timeout=60,
                             what="the first process leads")
            second = await _start(config)
            user = emu.add_user("Ann")
            chat = emu.private_chat(user)
            emu.send_message(chat, "/subscribe coal", from_user=user)
            await emu.wait_for_messages(user["id"], 1, timeout=30)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            killed = time.monotonic()
            await eventually(lambda: leader(second.pid), timeout=30,
                             what="the second process takes over")
            took = time.monotonic() - killed
            assert took < 12, took  # the lease: within 10 s of the death (plus a tick)
            emu.send_message(chat, "/search trafficking", from_user=user)
            await emu.wait_for_messages(user["id"], 2, timeout=30)
            data = json.loads(releases.read_text())
            data.append({"title": "Coal mine safety week", "date": "2004-11-03",
                         "summary": "Mining accidents fall."})
            releases.write_text(json.dumps(data))
            messages = await emu.wait_for_messages(user["id"], 3, timeout=30)
            assert "Coal mine safety week" in messages[2]["text"]
        finally:
            await store.close()
            for proc in (first, second):
                if proc is not None and proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(proc.communicate(), 30)
        assert second is not None and second.returncode == 0


async def test_a_second_process_on_sqlite_is_refused_with_one_line(tmp_path: Path) -> None:
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    async with Emulator() as emu:
        emu.add_bot(TOKEN, username="scale_bot")
        config = _config(tmp_path, emu, "sqlite:///bot.sqlite3", releases)
        first = await _start(config)
        try:
            user = emu.add_user("Ann")
            emu.send_message(emu.private_chat(user), "/start", from_user=user)
            await emu.wait_for_messages(user["id"], 1, timeout=60)  # it is serving
            second = await _start(config)
            _out, err = await asyncio.wait_for(second.communicate(), 60)
            assert second.returncode == 1
            lines = err.decode().strip().splitlines()
            assert len(lines) == 1 and "already delivering" in lines[0], lines
        finally:
            first.send_signal(signal.SIGTERM)
            await asyncio.wait_for(first.communicate(), 30)


# -- the lane on a shared grid (no database: a grid in memory) -------------------------------


class _MemorySlots:
    """The booking rule of bot.delivery.budget.SharedSlots, with the counter in memory."""

    def __init__(self, interval: float, horizon: float = 0.5) -> None:
        self.interval, self.horizon = interval, horizon
        self.next_slot = 0
        self.bookings: list[tuple[int, bool]] = []

    async def book(self, count: int, *, urgent: bool = False) -> list[float]:
        now_slot = math.ceil(time.time() / self.interval)
        limit = now_slot + math.ceil(self.horizon / self.interval) + (count if urgent else 0)
        first = max(self.next_slot, now_slot)
        end = max(first, min(first + count, limit))
        self.next_slot = end
        self.bookings.append((end - first, urgent))
        return [n * self.interval for n in range(first, end)]

    async def pause(self, seconds: float) -> None:
        self.next_slot = max(self.next_slot, math.ceil((time.time() + seconds) / self.interval))


async def test_a_lane_on_a_shared_grid_serves_replies_first_and_keeps_the_pace() -> None:
    lane = Lane(messages_per_second=20, margin=1.0)
    grid = _MemorySlots(lane.interval)
    lane.share(grid)  # type: ignore[arg-type]
    done: list[tuple[str, float]] = []

    def call(tag: str) -> Any:
        async def run() -> str:
            done.append((tag, time.time()))
            return tag
        return run

    alerts = [asyncio.ensure_future(lane.send(call(f"a{n}"), chat_id=n, priority=ALERT))
              for n in range(12)]
    await asyncio.sleep(0.12)  # a span: some alerts go, the rest queue before the reply comes
    reply = asyncio.ensure_future(lane.send(call("reply"), chat_id=999, priority=REPLY))
    await asyncio.gather(reply, *alerts)
    order = [tag for tag, _ in done]
    assert order.index("reply") < 6  # overtook most of the queued alerts
    times = [t for _, t in done]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= lane.interval * 0.5  # never two in one slot
    await lane.shutdown()


async def test_a_reply_books_past_what_other_processes_booked_for_alerts() -> None:
    lane = Lane(messages_per_second=20, margin=1.0)
    grid = _MemorySlots(lane.interval, horizon=0.5)
    lane.share(grid)  # type: ignore[arg-type]
    # Other processes' alerts hold every slot up to the horizon.
    grid.next_slot = math.ceil(time.time() / lane.interval) + math.ceil(0.5 / lane.interval)
    assert await grid.book(1) == []  # an alert would have to wait
    result = await lane.send(lambda: asyncio.sleep(0, "ok"), chat_id=5, priority=REPLY)
    assert result == "ok" and grid.bookings[-1] == (1, True)
    await lane.shutdown()


class _RefusingSlots(_MemorySlots):
    """A grid whose database refuses writes until ``refusing`` is cleared."""

    refusing = True

    async def book(self, count: int, *, urgent: bool = False) -> list[float]:
        if self.refusing:
            raise StoreUnavailable("the database is read-only", writing=True)
        return await super().book(count, urgent=urgent)


async def test_replies_go_out_at_a_share_of_the_rate_while_the_grid_cannot_be_booked() -> None:
    lane = Lane(messages_per_second=20, margin=1.0)
    grid = _RefusingSlots(lane.interval)
    lane.share(grid)  # type: ignore[arg-type]
    sent: list[float] = []

    async def reply() -> None:
        sent.append(time.monotonic())

    async with asyncio.timeout(10):  # before the fix, the replies waited for ever
        await asyncio.gather(*(lane.send(reply, chat_id=n, priority=REPLY) for n in range(5)))
    assert len(sent) == 5  # nobody left without an answer
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= lane.interval * ALONE_SHARE * 0.9  # a share of the rate, not all of it
    grid.refusing = False

    async def booked_again() -> bool:
        await lane.send(reply, chat_id=99, priority=REPLY)
        return bool(grid.bookings)

    await eventually(booked_again, what="slots booked on the grid again")
    await lane.shutdown()


async def test_a_version_1_sqlite_file_gains_claims_and_the_batch_index(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copy(ROOT / "tests" / "fixtures" / "store_v1.sqlite3", path)
    store = await Store.open(f"sqlite:///{path}")
    try:
        [row] = await store.claim_due("me", time.time(), 10, 30.0)
        assert row.chat_id == 1001 and row.claimed_by == "me"
        async with store.engine.connect() as conn:
            indexes = set((await conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'index'"))).scalars())
        assert {"ix_outbox_queue", "ix_outbox_claimed"} <= indexes
        assert "ix_outbox_due" not in indexes
    finally:
        await store.close()


async def test_a_lease_keeps_its_state_while_the_store_fails() -> None:
    class FailingStore:
        fail = False

        async def acquire_lock(self, *_args: Any, **_kwargs: Any) -> str | None:
            if self.fail:
                raise StoreUnavailable("could not save to the database: down", writing=True)
            return None

    store = FailingStore()
    lease = Lease(store, "updates", "me:1")  # type: ignore[arg-type]
    assert await lease.hold()
    store.fail = True
    assert await lease.hold()  # still polling: people get honest answers, not silence
    other = Lease(store, "updates", "other:2")  # type: ignore[arg-type]
    assert not await other.hold()  # and nobody takes over blind
