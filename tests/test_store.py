"""The store on SQLite and on PostgreSQL (a fresh database per test, see ``tests/pg.py``)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.releases import Release
from bot.store import (
    ENDED,
    PENDING,
    SCHEMA_VERSION,
    Delivery,
    SourceState,
    Store,
    StoreError,
    saved_queries_table,
)
from bot.store.queries import QUERY_LIFETIME
from tests import pg
from tests.helpers import ROOT, BotHarness


async def queue(store: Store, releases: list[Release],
                plan: Callable[[list[Release]], list[Delivery]]) -> None:
    """Store ``releases`` and, in the same batch, the outbox rows ``plan`` gives the new ones."""
    async with store.ingest_batch("test") as batch:
        new = (await batch.upsert(releases)).new
        await batch.enqueue(plan(new))


async def count_releases(store: Store) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM releases"))).scalar_one())


def release(n: int, **changes: object) -> Release:
    base = {"id": f"r{n}", "kind": "Press release", "title": f"Release {n}",
            "date": date(2004, 1, n), "place": None, "summary": f"Summary {n}"}
    return Release(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = await Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        yield s
        await s.close()
        return
    async for url in pg.fresh_database():
        s = await Store.open(url)
        yield s
        await s.close()


async def test_schema_is_versioned(store: Store) -> None:
    assert await store.schema_version() == SCHEMA_VERSION


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'future.sqlite3'}"
    s = await Store.open(url)
    async with s.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE meta SET value = '999' WHERE key = 'schema_version'"))
    await s.close()
    with pytest.raises(StoreError, match="newer"):
        await Store.open(url)


async def test_reopening_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keep.sqlite3'}"
    s = await Store.open(url)
    await s.upsert_releases([release(1)])
    await s.close()
    s = await Store.open(url)
    assert [r.id for r in await s.latest_releases(10)] == ["r1"]
    await s.close()


async def test_upsert_counts_and_round_trips(store: Store) -> None:
    first = await store.upsert_releases([release(1), release(2, topics=("a", "b"))])
    assert (len(first.new), len(first.updated), first.unchanged) == (2, 0, 0)
    again = await store.upsert_releases([release(1), release(2, topics=("a", "b", "c"))])
    assert (len(again.new), len(again.updated), again.unchanged) == (0, 1, 1)
    assert await store.get_release("r2") == release(2, topics=("a", "b", "c"))
    assert [r.id for r in await store.latest_releases(5)] == ["r2", "r1"]


async def test_outbox_rows_written_with_new_releases_only(store: Store) -> None:
    def plan(releases: list[Release]) -> list[Delivery]:
        return [Delivery(r.id, 10, 0, ("",)) for r in releases]

    await queue(store, [release(1)], plan)
    await queue(store, [release(1, summary="changed"), release(2)], plan)
    rows = await store.outbox_rows()
    assert [(r.release_id, r.chat_id, r.status) for r in rows] == [
        ("r1", 10, PENDING), ("r2", 10, PENDING)]


async def test_a_failed_batch_stores_neither_releases_nor_alerts(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.ingest_batch("test") as batch:
            await batch.upsert([release(1)])
            await batch.enqueue([Delivery("r1", 10, 0, ("",))])
            raise RuntimeError("boom")  # e.g. the process dies before the commit
    assert await count_releases(store) == 0
    assert await store.outbox_rows() == []


async def test_subscriptions_no_duplicates_and_removal(store: Store) -> None:
    assert await store.add_subscription(1, 0, "mining")
    assert not await store.add_subscription(1, 0, "mining")
    assert await store.add_subscription(1, 7, "mining")  # another forum thread
    assert len(await store.subscriptions(1)) == 2
    assert await store.remove_subscription(1, 0, "mining")
    assert not await store.remove_subscription(1, 0, "mining")
    [left] = await store.subscriptions(1)
    assert await store.remove_subscription_by_id(2, left.id) is None  # not that chat's
    assert (await store.remove_subscription_by_id(1, left.id)).topic == "mining"


async def test_end_chat_ends_subscriptions_and_pending_rows(store: Store) -> None:
    await store.save_chat(5, "private", "Ann")
    await store.add_subscription(5, 0, "")
    await queue(store, [release(1)], lambda rs: [Delivery(r.id, 5, 0, ("",)) for r in rs])
    assert await store.end_chat(5, "blocked") == 1
    assert await store.subscriptions(5) == []
    [row] = await store.outbox_rows(5)
    assert row.status == ENDED and row.last_error == "blocked"
    assert not (await store.get_chat(5)).active


async def test_migrate_chat_moves_subscriptions_and_pending(store: Store) -> None:
    await store.save_chat(-5, "group", "Team")
    await store.add_subscription(-5, 0, "mining")
    await queue(store, [release(1)], lambda rs: [Delivery(r.id, -5, 0, ("mining",)) for r in rs])
    await store.migrate_chat(-5, -1005)
    assert [s.topic for s in await store.subscriptions(-1005)] == ["mining"]
    assert await store.subscriptions(-5) == []
    [row] = await store.due_deliveries(time.time() + 1, 10)
    assert row.chat_id == -1005
    assert (await store.get_chat(-1005)).type == "supergroup"


async def test_outbox_retry_and_failure(store: Store) -> None:
    await queue(store, [release(1)], lambda rs: [Delivery(r.id, 9, 0, ("",)) for r in rs])
    [row] = await store.due_deliveries(time.time(), 10)
    await store.mark_retry(row.id, time.time() + 60, "timeout")
    assert await store.due_deliveries(time.time(), 10) == []
    assert await store.next_due_at() > time.time()
    await store.mark_failed(row.id, "gave up")
    [row] = await store.outbox_rows()
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "gave up")


async def test_lock_excludes_others_until_expiry_or_stale(store: Store) -> None:
    assert await store.acquire_lock("delivery", "a", ttl=60) is None
    assert await store.acquire_lock("delivery", "b", ttl=60) == "a"
    assert await store.acquire_lock("delivery", "b", ttl=60, is_stale=lambda o: o == "a") is None
    assert await store.acquire_lock("delivery", "a", ttl=60) == "b"
    await store.release_lock("delivery", "b")
    assert await store.acquire_lock("delivery", "a", ttl=60) is None


async def test_saved_queries_and_source_state(store: Store) -> None:
    key = await store.save_query("coal mine")
    assert key == await store.save_query("coal mine") and len(key) <= 16
    assert await store.saved_query(key) == "coal mine"
    assert await store.saved_query("nope") is None
    await store.save_source_state(SourceState("feed", etag="x", failures=2))
    await store.save_source_state(SourceState("feed", etag="y"))
    assert (await store.source_state("feed")).etag == "y"
    assert [s.name for s in await store.source_states()] == ["feed"]


async def test_saved_queries_unused_for_a_while_expire(store: Store) -> None:
    old = await store.save_query("coal mine")
    used = await store.save_query("osh")
    async with store.engine.begin() as conn:  # both saved long ago
        await conn.execute(sa.update(saved_queries_table).values(
            created_at=time.time() - QUERY_LIFETIME - 60))
    await store.save_query("osh")  # "More" pressed again: that one is in use
    assert await store.saved_query(old) is None
    assert await store.saved_query(used) == "osh"


async def test_an_old_database_gains_the_saved_query_index(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copy(ROOT / "tests" / "fixtures" / "store_v1.sqlite3", path)
    store = await Store.open(f"sqlite:///{path}")
    try:
        async with store.engine.connect() as conn:
            indexes = set((await conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'index'"))).scalars())
        assert "ix_saved_queries_created_at" in indexes
        assert await store.saved_query(await store.save_query("coal")) == "coal"
    finally:
        await store.close()


async def test_an_expired_more_button_says_so(newsbot: BotHarness) -> None:
    [first] = await newsbot.ask("/search safety and health")
    [[button]] = first["reply_markup"]["inline_keyboard"]
    store = newsbot.services.store
    async with store.engine.begin() as conn:
        await conn.execute(sa.update(saved_queries_table).values(
            created_at=time.time() - QUERY_LIFETIME - 60))
    await store.save_query("another search")  # saving sweeps the expired ones
    query = newsbot.emu.press_button(first, button["callback_data"], from_user=newsbot.user)
    await newsbot.emu.wait_for(lambda: query["id"] in newsbot.emu.callback_answers)
    answer = newsbot.emu.callback_answers[query["id"]]
    assert "expired" in answer["text"] and "/search" in answer["text"]
    assert answer.get("show_alert")


async def test_migrating_a_chat_keeps_what_the_new_chat_has(store: Store) -> None:
    await store.save_chat(-5, "group", "Team")
    for chat in (-5, -1005):
        await store.add_subscription(chat, 0, "mining")
    await store.add_subscription(-5, 0, "osh", cadence="daily")
    await queue(store, [release(1), release(2)], lambda rs: [
        Delivery(r.id, -5, 0, ("mining",)) for r in rs])
    await queue(store, [release(3)], lambda rs: [Delivery("r1", -1005, 0, ("mining",))])
    await store.migrate_chat(-5, -1005)
    assert [(s.topic, s.cadence) for s in await store.subscriptions(-1005)] == [
        ("mining", "instant"), ("osh", "daily")]
    rows = {(r.release_id, r.chat_id): r.status for r in await store.outbox_rows()}
    assert rows == {("r1", -5): ENDED, ("r2", -1005): PENDING, ("r1", -1005): PENDING}
    assert not (await store.get_chat(-5)).active
    assert (await store.get_chat(-1005)).title == "Team"


async def test_stats(store: Store) -> None:
    await store.save_chat(1, "private")
    await store.save_chat(-2, "group")
    await store.add_subscription(1, 0, "")
    await store.add_subscription(-2, 0, "mining")
    await store.add_subscription(-2, 0, "china")
    stats = await store.stats()
    assert stats["chats"] == {"private": 1, "group": 1}
    assert stats["subscriptions"] == {"private": 1, "group": 2}


async def test_concurrent_duplicate_subscriptions_make_one(store: Store) -> None:
    results = await asyncio.gather(*(store.add_subscription(3, 0, "osh") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert len(await store.subscriptions(3)) == 1


async def test_revisions_follow_commit_order_so_late_imports_are_seen(store: Store) -> None:
    await store.upsert_releases([release(1)])
    seen, rev = await store.releases_updated_after(0)
    assert [r.id for r in seen] == ["r1"]
    assert await store.releases_updated_after(rev) == ([], rev)
    await store.upsert_releases([release(2), release(1, summary="changed")])
    seen, rev2 = await store.releases_updated_after(rev)
    assert sorted(r.id for r in seen) == ["r1", "r2"] and rev2 > rev
