"""Delivery of outbox rows against the Bot API emulator, over real HTTP with a real telegram.Bot.

Covers sending once and marking sent, 429 pauses, chats that are gone (403, chat not found),
group migration, retries with backoff, the plain-text fallback, forum threads, Telegram's
rate limits, and the delivery lock. Nothing here asserts on wall-clock durations: only counts,
states and order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import telegram
from telegram.request import HTTPXRequest

from bot.config import DeliverySettings
from bot.delivery import LOCK_NAME, Deliverer, DeliveryLockHeld, holder_is_dead, lock, loop, sender
from bot.emulator import Emulator, FloodLimits
from bot.releases import Release
from bot.render import release_html, release_plain
from bot.store import ENDED, FAILED, PENDING, SENT, Delivery, OutboxRow, Store, StoreUnavailable
from tests.helpers import eventually

TOKEN = "777001:delivery-test-token"
ROOT = Path(__file__).resolve().parents[1]
#: Fast retries so the tests do not wait; every limit as in production.
FAST = DeliverySettings(interval_seconds=0.05, backoff_seconds=0.05, max_attempts=3,
                        request_timeout=5.0)
LIMITS = FloodLimits(per_second=30, per_chat_per_second=1, per_group_per_minute=20)


def release(n: int = 1, **changes: Any) -> Release:
    base = Release(
        id=f"2004-10-{n:02d}-child-labour", kind="Press release",
        title=f"ILO & partners <agree> on child labour, part {n}", date=date(2004, 10, n),
        place="GENEVA", summary="A new programme to end the worst forms of child labour.",
        url=f"https://www.ilo.org/news/{n}", topics=("child labour",))
    return dataclasses.replace(base, **changes)


async def queue(store: Store, releases: Iterable[Release], targets: Iterable[int | tuple[int, int]],
                topics: tuple[str, ...] = ("child labour",)) -> None:
    """Ingest ``releases`` with one outbox row per release and target (chat or (chat, thread))."""
    pairs = [t if isinstance(t, tuple) else (t, 0) for t in targets]

    async with store.ingest_batch("test") as batch:
        new = (await batch.upsert(releases)).new
        await batch.enqueue([Delivery(r.id, chat, thread, topics)
                             for r in new for chat, thread in pairs])


async def rows(store: Store, chat_id: int | None = None) -> list[OutboxRow]:
    return await store.outbox_rows(chat_id)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def sends(emu: Emulator, chat_id: int | None = None) -> list[Any]:
    """sendMessage requests the emulator received (to one chat), in order."""
    return [r for r in emu.requests if r.method == "sendMessage"
            and (chat_id is None or int(r.params["chat_id"]) == chat_id)]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'newsbot.sqlite3'}")
    yield opened
    await opened.close()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        emulator.add_bot(TOKEN)
        yield emulator


@pytest.fixture
async def limited_emu() -> AsyncIterator[Emulator]:
    async with Emulator(limits=LIMITS) as emulator:
        emulator.add_bot(TOKEN)
        yield emulator


async def _bot(emulator: Emulator, read_timeout: float = 5.0) -> telegram.Bot:
    request = HTTPXRequest(connection_pool_size=64, read_timeout=read_timeout)
    bot = telegram.Bot(TOKEN, base_url=emulator.base_url, request=request)
    await bot.initialize()
    return bot


MakeDeliverer = Callable[..., Deliverer]


@pytest.fixture
async def make(store: Store) -> AsyncIterator[Callable[..., Awaitable[Deliverer]]]:
    """Build deliverers on the test store; stops them and closes their bots afterwards."""
    made: list[Deliverer] = []

    async def factory(emulator: Emulator, *, read_timeout: float = 5.0, owner: str | None = None,
                      **changes: Any) -> Deliverer:
        bot = await _bot(emulator, read_timeout)
        deliverer = Deliverer(bot, store, dataclasses.replace(FAST, **changes),
                              asyncio.Event(), owner=owner)
        made.append(deliverer)
        return deliverer

    yield factory
    for deliverer in made:
        await deliverer.stop()
        await deliverer.release_lock()
        await deliverer.bot.shutdown()


# -- the happy path --------------------------------------------------------------------------


async def test_each_row_is_sent_once_and_marked_sent(emu: Emulator, store: Store,
                                                     make: Any) -> None:
    users = [emu.add_user(f"U{i}") for i in range(3)]
    chats = [emu.private_chat(u)["id"] for u in users]
    await queue(store, [release(1)], chats)
    deliverer = await make(emu)

    assert await deliverer.deliver_due() == 3
    assert await deliverer.deliver_due() == 0

    expected = release_html(release(1), matched=("child labour",))
    for chat in chats:
        [message] = emu.sent(chat)
        assert message["html"] == expected
        assert "Alert: child labour" in message["text"]
        assert message["link_preview_options"] == {"is_disabled": True}
        assert "message_thread_id" not in message
    assert [(r.status, r.attempts) for r in await rows(store)] == [(SENT, 1)] * 3
    assert len(sends(emu)) == 3


async def test_the_loop_wakes_on_the_event_and_on_its_interval(emu: Emulator, store: Store,
                                                               make: Any) -> None:
    ada, bob = emu.private_chat(emu.add_user("Ada")), emu.private_chat(emu.add_user("Bob"))
    deliverer = await make(emu, interval_seconds=0.2)
    await deliverer.acquire_lock()
    deliverer.start()

    await queue(store, [release(1)], [ada["id"]])
    deliverer.wakeup.set()  # what Ingestor does after writing rows
    await emu.wait_for_messages(ada["id"], 1)

    # Rows written by another process (`newsbot import`) set no event: the interval finds them.
    await queue(store, [release(2)], [bob["id"]])
    await emu.wait_for_messages(bob["id"], 1)
    await eventually(lambda: _all_status(store, SENT), what="every row marked sent")
    await deliverer.stop()
    assert len(emu.sent(ada["id"])) == len(emu.sent(bob["id"])) == 1


async def test_stopping_logs_what_was_delivered(emu: Emulator, store: Store, make: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))
    deliverer = await make(emu, interval_seconds=0.2)
    await deliverer.acquire_lock()
    deliverer.start()
    await queue(store, [release(1)], [ada["id"]])
    deliverer.wakeup.set()
    await emu.wait_for_messages(ada["id"], 1)
    await eventually(lambda: _all_status(store, SENT), what="the row marked sent")
    with caplog.at_level(logging.INFO, logger="bot.delivery.loop"):
        await deliverer.stop()
    [line] = [r.getMessage() for r in caplog.records if "since start-up" in r.getMessage()]
    assert line.startswith("delivery since start-up: sent 1, plain_text 0, retried 0, failed 0")
    assert "the outgoing lane: sent 1, rate_limited 0, retried 0" in line


async def test_a_store_that_answers_reads_but_refuses_writes_is_one_pause(
        emu: Emulator, store: Store, make: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # A read-only PostgreSQL database: the lock's and the outbox's reads work, claims fail.
    async def read_only(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise StoreUnavailable("cannot execute UPDATE in a read-only transaction", writing=True)

    monkeypatch.setattr(store, "claim_due", read_only)
    deliverer = await make(emu, interval_seconds=0.05)
    with caplog.at_level(logging.INFO, logger="bot.delivery"):
        for _ in range(3):  # each pass fails at its claim
            with pytest.raises(StoreUnavailable):
                await deliverer.deliver_due()
            deliverer.sender.store_failed(StoreUnavailable(
                "cannot execute UPDATE in a read-only transaction", writing=True))
    said = [r.getMessage() for r in caplog.records]
    assert sum("delivery paused" in line for line in said) == 1
    assert not any("works again" in line for line in said)


async def test_idle_waits_for_what_was_due_and_for_nothing_later(emu: Emulator, store: Store,
                                                                 make: Any) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))
    deliverer = await make(emu, interval_seconds=5.0)
    with pytest.raises(RuntimeError):
        await deliverer.idle()
    await deliverer.acquire_lock()
    deliverer.start()
    await asyncio.wait_for(deliverer.idle(), 10)  # nothing queued: idle at once

    # Written without setting the wakeup event: idle() looks anyway, and returns only once
    # both alerts (one chat: a second apart) are sent and marked.
    await queue(store, [release(1), release(2)], [ada["id"]])
    await asyncio.wait_for(deliverer.idle(), 10)
    assert len(emu.sent(ada["id"])) == 2
    assert await _all_status(store, SENT)

    # A row due only later (a retry) leaves the deliverer idle.
    await queue(store, [release(3)], [ada["id"]])
    [row] = [r for r in await rows(store) if r.status == PENDING]
    await store.mark_retry(row.id, time.time() + 60, "later")
    await asyncio.wait_for(deliverer.idle(), 10)
    assert len(emu.sent(ada["id"])) == 2

    waiter = asyncio.ensure_future(deliverer.idle())
    await deliverer.stop()  # a waiter is let go when the loop stops
    await asyncio.wait_for(waiter, 10)


async def _all_status(store: Store, status: str) -> bool:
    return all(r.status == status for r in await rows(store))


async def test_forum_thread_gets_message_thread_id(emu: Emulator, store: Store,
                                                   make: Any) -> None:
    forum = emu.add_group("Newsroom", forum=True)
    await queue(store, [release(1)], [(forum["id"], 7), (forum["id"], 0)])
    deliverer = await make(emu, per_chat_per_second=5, per_group_per_minute=600)

    assert await deliverer.deliver_due() == 1  # one per pass: a chat gets one at a time
    await eventually(lambda: _delivered(deliverer, 2),
                     what="the second row, after the group's gap")

    threads = sorted(m.get("message_thread_id", 0) for m in emu.sent(forum["id"]))
    assert threads == [0, 7]


async def _delivered(deliverer: Deliverer, total: int) -> bool:
    await deliverer.deliver_due()
    return deliverer.stats.sent >= total


async def test_missing_thread_is_resent_without_it(emu: Emulator, store: Store,
                                                   make: Any) -> None:
    group = emu.add_group("Not a forum")
    await queue(store, [release(1)], [(group["id"], 42)])
    deliverer = await make(emu, per_chat_per_second=5, per_group_per_minute=600)

    assert await deliverer.deliver_due() == 1

    [message] = emu.sent(group["id"])
    assert "message_thread_id" not in message
    tries = sends(emu, group["id"])
    assert [_str(r.params.get("message_thread_id")) for r in tries] == ["42", None]
    [row] = await rows(store)
    assert row.status == SENT


# -- Telegram's answers ----------------------------------------------------------------------


async def test_429_pauses_everything_and_does_not_count_an_attempt(
        emu: Emulator, store: Store, make: Any) -> None:
    ada, bob = emu.private_chat(emu.add_user("Ada")), emu.private_chat(emu.add_user("Bob"))
    await queue(store, [release(1)], [ada["id"], bob["id"]])
    emu.faults.add("sendMessage", chat_id=ada["id"], error=429, retry_after=1)
    # Slow pacing so Bob's send is surely decided after Ada's 429 came back.
    deliverer = await make(emu, messages_per_second=2)
    await deliverer.acquire_lock()
    deliverer.start()

    await emu.wait_for_messages(ada["id"], 1)
    await emu.wait_for_messages(bob["id"], 1)
    await eventually(lambda: _all_status(store, SENT), what="both rows marked sent")

    assert deliverer.stats.rate_limited == 1
    ada_row, _bob_row = await rows(store)
    assert ada_row.attempts == 1  # the successful one only: the 429 was not the row's fault
    assert len(emu.sent(ada["id"])) == len(emu.sent(bob["id"])) == 1
    # The pause was global: nothing at all reached Telegram within retry_after of the 429.
    # (A lower bound only, which no slow machine can break: sleeps never end early.)
    [limited] = [r for r in sends(emu) if r.status == 429]
    later = [r for r in sends(emu) if r.time > limited.time]
    assert {int(r.params["chat_id"]) for r in later} == {ada["id"], bob["id"]}
    assert all(r.time >= limited.time + 1 - 0.01 for r in later)


async def test_blocked_user_ends_subscriptions_and_pending_rows(
        emu: Emulator, store: Store, make: Any) -> None:
    ada, bob = emu.add_user("Ada"), emu.add_user("Bob")
    ada_chat, bob_chat = emu.private_chat(ada)["id"], emu.private_chat(bob)["id"]
    for chat in (ada_chat, bob_chat):
        await store.save_chat(chat, "private")
        await store.add_subscription(chat, 0, "child labour")
        await store.add_subscription(chat, 0, "")
    await queue(store, [release(1), release(2)], [ada_chat, bob_chat])
    emu.block_bot(ada)
    deliverer = await make(emu)

    await eventually(lambda: _delivered(deliverer, 2), what="Bob's two alerts")

    assert emu.sent(ada_chat) == []
    assert len(await store.subscriptions(ada_chat)) == 0
    assert len(await store.subscriptions(bob_chat)) == 2
    assert {r.status for r in await rows(store, ada_chat)} == {ENDED}
    assert "blocked" in ((await rows(store, ada_chat))[0].last_error or "")
    chat = await store.get_chat(ada_chat)
    assert chat is not None and not chat.active
    assert len(sends(emu, ada_chat)) == 1  # one 403 was enough
    assert deliverer.stats.chats_ended == 1


async def test_chat_not_found_ends_the_chat(emu: Emulator, store: Store, make: Any) -> None:
    group = emu.add_group("Gone soon")
    await store.save_chat(group["id"], "group", "Gone soon")
    await store.add_subscription(group["id"], 0, "child labour")
    await queue(store, [release(1), release(2)], [group["id"]])
    emu.delete_chat(group["id"])
    deliverer = await make(emu)

    assert await deliverer.deliver_due() == 0

    assert len(await store.subscriptions(group["id"])) == 0
    assert [r.status for r in await rows(store)] == [ENDED, ENDED]
    assert "chat not found" in ((await rows(store))[0].last_error or "").lower()


async def test_kicked_from_channel_ends_it(emu: Emulator, store: Store, make: Any) -> None:
    channel = emu.add_channel("Wire", admins=[emu.add_user("Owner")["id"]])  # bot not in it
    await store.add_subscription(channel["id"], 0, "")
    await queue(store, [release(1)], [channel["id"]])
    deliverer = await make(emu)

    await deliverer.deliver_due()

    assert len(await store.subscriptions(channel["id"])) == 0
    assert [r.status for r in await rows(store)] == [ENDED]


async def test_migrated_group_moves_and_gets_the_message(emu: Emulator, store: Store,
                                                         make: Any) -> None:
    owner = emu.add_user("Owner")
    group = emu.add_group("Basic", members={owner["id"]: "creator"})
    await store.save_chat(group["id"], "group", "Basic")
    await store.add_subscription(group["id"], 0, "child labour")
    await queue(store, [release(1)], [group["id"]])
    new_id = emu.migrate_group(group["id"])
    deliverer = await make(emu)

    assert await deliverer.deliver_due() == 1

    [message] = emu.sent(new_id)
    assert "Alert: child labour" in message["text"]
    assert emu.sent(group["id"]) == []
    [row] = await rows(store)
    assert (row.chat_id, row.status) == (new_id, SENT)
    assert [s.topic for s in await store.subscriptions(new_id)] == ["child labour"]
    assert len(await store.subscriptions(group["id"])) == 0
    assert deliverer.stats.migrated == 1


async def test_5xx_then_success_is_retried_with_backoff(emu: Emulator, store: Store,
                                                        make: Any) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    await queue(store, [release(1)], [ada])
    emu.faults.add("sendMessage", chat_id=ada, error=502, times=1)
    deliverer = await make(emu)

    assert await deliverer.deliver_due() == 0
    [row] = await rows(store)
    assert (row.status, row.attempts) == (PENDING, 1)
    assert "Bad Gateway" in (row.last_error or "")

    await eventually(lambda: _delivered(deliverer, 1), what="the retry")
    [row] = await rows(store)
    assert (row.status, row.attempts) == (SENT, 2)
    assert len(emu.sent(ada)) == 1


async def test_always_5xx_fails_after_max_attempts_and_stays_listed(
        emu: Emulator, store: Store, make: Any) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    bob = emu.private_chat(emu.add_user("Bob"))["id"]
    await queue(store, [release(1)], [ada, bob])
    emu.faults.add("sendMessage", chat_id=ada, error=500, times=1000)
    deliverer = await make(emu, max_attempts=3)
    await deliverer.acquire_lock()
    deliverer.start()

    async def ada_failed() -> bool:
        return (await rows(store, ada))[0].status == FAILED

    await eventually(ada_failed, what="Ada's row marked failed")
    await deliverer.stop()

    [row] = await rows(store, ada)
    assert row.attempts == 3
    assert "Internal Server Error" in (row.last_error or "")
    assert len(sends(emu, ada)) == 3
    assert (await store.stats())["outbox"] == {FAILED: 1, SENT: 1}
    assert len(emu.sent(bob)) == 1


async def test_timeout_is_retried(emu: Emulator, store: Store, make: Any) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    await queue(store, [release(1)], [ada])
    # The emulator delivers the message but holds its answer past our read timeout: the
    # client cannot know it arrived, which is the one case where a message goes out twice.
    emu.faults.add("sendMessage", chat_id=ada, delay=1.5)
    deliverer = await make(emu, read_timeout=0.3)

    await eventually(lambda: _delivered(deliverer, 1), what="the retry after the timeout")

    [row] = await rows(store)
    assert (row.status, row.attempts) == (SENT, 2)
    assert "TimedOut" in (row.last_error or "")
    assert len(emu.sent(ada)) == 2


@pytest.mark.parametrize("how", ["injected", "broken-html"])
async def test_unparsable_html_is_resent_as_plain_text(
        emu: Emulator, store: Store, make: Any, how: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    await queue(store, [release(1)], [ada])
    if how == "injected":
        emu.faults.add("sendMessage", chat_id=ada, error=400,
                       description="Bad Request: can't parse entities: Unsupported start tag "
                                   '"agree" at byte offset 17')
    else:
        monkeypatch.setattr(sender, "release_html", lambda r, matched=(): "<b>unclosed")
    deliverer = await make(emu)

    with caplog.at_level(logging.ERROR, logger="bot.delivery"):
        assert await deliverer.deliver_due() == 1

    [message] = emu.sent(ada)
    assert message["text"] == release_plain(release(1), ("child labour",))
    assert "entities" not in message
    first, second = sends(emu, ada)
    assert first.params.get("parse_mode") == "HTML"
    assert second.params.get("parse_mode") is None
    assert any("BUG" in r.getMessage() and "plain text" in r.getMessage() for r in caplog.records)
    [row] = await rows(store)
    assert row.status == SENT
    assert deliverer.stats.plain_text == 1


async def test_plain_text_shows_title_meta_summary_and_topics() -> None:
    text = release_plain(release(3), ("child labour", ""))
    assert text.splitlines() == [
        "ILO & partners <agree> on child labour, part 3",
        "https://www.ilo.org/news/3",
        "3 October 2004 · GENEVA · Press release",
        "A new programme to end the worst forms of child labour.",
        "Alert: child labour, all new releases",
    ]
    huge = release_plain(release(4, summary="word " * 3000))
    assert len(huge.encode("utf-16-le")) // 2 <= 4096
    assert huge.splitlines()[0] == release(4).title


async def test_other_bad_request_fails_the_row_at_once(emu: Emulator, store: Store,
                                                       make: Any) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    await queue(store, [release(1)], [ada])
    emu.faults.add("sendMessage", chat_id=ada, error=400,
                   description="Bad Request: message is too long")
    deliverer = await make(emu)

    assert await deliverer.deliver_due() == 0
    assert await deliverer.deliver_due() == 0

    [row] = await rows(store)
    assert (row.status, row.attempts, row.last_error) == (
        FAILED, 1, "BadRequest: Message is too long")
    assert len(sends(emu, ada)) == 1


async def test_a_deleted_release_fails_its_rows(emu: Emulator, store: Store, make: Any) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    await queue(store, [release(1)], [ada])
    deliverer = await make(emu)

    async def no_release(_id: str) -> None:
        return None

    deliverer.store.get_release = no_release  # type: ignore[method-assign]
    await deliverer.deliver_due()
    [row] = await rows(store)
    assert row.status == FAILED and "no longer exists" in (row.last_error or "")
    assert sends(emu) == []


# -- rate limits -----------------------------------------------------------------------------


async def test_fifty_chats_under_telegram_limits_get_no_429(
        limited_emu: Emulator, store: Store, make: Any) -> None:
    emu = limited_emu
    chats = [emu.private_chat(emu.add_user(f"U{i}"))["id"] for i in range(50)]
    await queue(store, [release(1)], chats)
    deliverer = await make(emu)

    assert await deliverer.deliver_due() == 50

    assert emu.stats.count_429 == 0
    assert deliverer.stats.rate_limited == 0
    assert all(len(emu.sent(c)) == 1 for c in chats)


async def test_a_busy_group_does_not_hold_up_other_chats(
        limited_emu: Emulator, store: Store, make: Any) -> None:
    emu = limited_emu
    group = emu.add_group("Busy")["id"]
    privates = [emu.private_chat(emu.add_user(f"U{i}"))["id"] for i in range(10)]
    # The group's five rows come first in the outbox; each private chat has one.
    await queue(store, [release(n) for n in range(1, 6)], [group])
    await queue(store, [release(9)], privates)
    # A group gap far longer than the pass, so "the group waits" never depends on timing.
    deliverer = await make(emu, per_group_per_minute=6)

    # One pass: the group's first row and every private chat; the group's others wait.
    assert await deliverer.deliver_due() == 11
    assert len(emu.sent(group)) == 1
    assert all(len(emu.sent(c)) == 1 for c in privates)
    assert len([r for r in await rows(store, group) if r.status == PENDING]) == 4
    assert emu.stats.count_429 == 0


async def test_several_alerts_to_one_chat_go_in_order_within_its_limit(
        limited_emu: Emulator, store: Store, make: Any) -> None:
    emu = limited_emu
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    await queue(store, [release(n) for n in (1, 2, 3, 4)], [ada])
    deliverer = await make(emu)
    await deliverer.acquire_lock()
    deliverer.start()

    await emu.wait_for_messages(ada, 4)
    await deliverer.stop()

    titles = [m["text"].splitlines()[0] for m in emu.sent(ada)]
    assert titles == [release(n).title for n in (1, 2, 3, 4)]
    assert emu.stats.count_429 == 0


# -- restart and stop ------------------------------------------------------------------------


async def test_rows_pending_at_a_stop_go_out_after_restart(
        emu: Emulator, store: Store, make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    bob = emu.private_chat(emu.add_user("Bob"))["id"]
    await queue(store, [release(1)], [ada, bob])
    # Ada's message is delivered but its answer hangs: it is "in flight" when we stop.
    emu.faults.add("sendMessage", chat_id=ada, delay=5)
    monkeypatch.setattr(loop, "STOP_GRACE", 0.1)
    first = await make(emu)
    await first.acquire_lock()
    first.start()
    await emu.wait_for_messages(ada, 1)
    await emu.wait_for_messages(bob, 1)
    await eventually(lambda: _status_of(store, bob, SENT), what="Bob's row marked sent")
    await first.stop()
    await first.release_lock()

    assert (await rows(store, ada))[0].status == PENDING  # never acknowledged

    second = await make(emu)
    assert await second.deliver_due() == 1
    assert len(emu.sent(ada)) == 2  # the one in flight went twice, and nothing else did
    assert len(emu.sent(bob)) == 1
    assert await _all_status(store, SENT)


async def _status_of(store: Store, chat: int, status: str) -> bool:
    return all(r.status == status for r in await rows(store, chat))


# -- the lock --------------------------------------------------------------------------------


async def test_second_deliverer_on_the_same_store_is_refused(
        emu: Emulator, store: Store, make: Any) -> None:
    first = await make(emu)
    await first.acquire_lock()
    other = f"{socket.gethostname()}:{os.getppid()}"  # a live process on this host
    second = await make(emu, owner=other)

    with pytest.raises(DeliveryLockHeld) as refused:
        await second.acquire_lock()
    assert str(refused.value) == (
        f"another newsbot process ({first.owner}) is already delivering from this database; "
        "stop it first")
    with pytest.raises(DeliveryLockHeld):
        await second.deliver_due()

    await first.release_lock()
    await second.acquire_lock()  # free once the first lets go


async def test_lock_held_by_another_process_and_taken_over_once_it_died(
        emu: Emulator, store: Store, make: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'newsbot.sqlite3'}"
    script = textwrap.dedent(f"""
        import asyncio, sys
        import telegram
        from bot.config import DeliverySettings
        from bot.delivery import Deliverer
        from bot.store import Store

        async def main():
            store = await Store.open({db!r})
            d = Deliverer(telegram.Bot("1:x"), store, DeliverySettings(), asyncio.Event())
            await d.acquire_lock()
            print("locked", flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
    """)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 60) == b"locked\n"
        deliverer = await make(emu)
        with pytest.raises(DeliveryLockHeld) as refused:
            await deliverer.acquire_lock()
        assert f"{socket.gethostname()}:{holder.pid}" in str(refused.value)
        assert "stop it first" in str(refused.value)
    finally:
        holder.kill()  # a crash: the lock stays in the table, unexpired
        await holder.wait()

    await deliverer.acquire_lock()  # the holder's pid is gone: the lock is stale
    assert await store.acquire_lock(LOCK_NAME, "elsewhere:1", 30) == deliverer.owner


async def test_expired_lock_of_another_host_is_taken_over(
        emu: Emulator, store: Store, make: Any) -> None:
    assert await store.acquire_lock(LOCK_NAME, "otherhost:123", ttl=-1) is None  # expired
    deliverer = await make(emu)
    await deliverer.acquire_lock()
    assert await store.acquire_lock(LOCK_NAME, "otherhost:123", ttl=30) == deliverer.owner


async def test_unexpired_lock_of_another_host_is_respected(
        emu: Emulator, store: Store, make: Any) -> None:
    assert await store.acquire_lock(LOCK_NAME, "otherhost:123", ttl=30) is None
    deliverer = await make(emu)
    with pytest.raises(DeliveryLockHeld, match=r"\(otherhost:123\)"):
        await deliverer.acquire_lock()


def test_holder_is_dead() -> None:
    host = socket.gethostname()
    assert not holder_is_dead(f"{host}:{os.getpid()}")
    assert not holder_is_dead(f"{host}:{os.getppid()}")
    assert not holder_is_dead(f"{host}:not-a-pid")
    assert not holder_is_dead("otherhost:1")
    assert not holder_is_dead("no-colon")
    assert holder_is_dead(f"{host}:{_dead_pid()}")


def _dead_pid() -> int:
    """A pid that surely belonged to a process that has exited."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_release_lock_only_releases_our_own(emu: Emulator, store: Store,
                                                  make: Any) -> None:
    assert await store.acquire_lock(LOCK_NAME, "otherhost:123", ttl=30) is None
    deliverer = await make(emu)
    with pytest.raises(DeliveryLockHeld):
        await deliverer.acquire_lock()
    await deliverer.release_lock()  # as app.running's finally does after a refusal
    assert await store.acquire_lock(LOCK_NAME, "elsewhere:1", ttl=30) == "otherhost:123"


async def test_a_lost_lock_stops_sending_until_it_is_back(
        emu: Emulator, store: Store, make: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(lock, "LOCK_TTL", 0.6)  # renewed every 0.2 s
    ada = emu.private_chat(emu.add_user("Ada"))["id"]
    deliverer = await make(emu)
    await deliverer.acquire_lock()
    deliverer.start()
    # Another process takes the lock over (as if this one had been frozen past the TTL).
    assert await store.acquire_lock(LOCK_NAME, "otherhost:99", 30,
                                    is_stale=lambda _owner: True) is None

    with caplog.at_level(logging.ERROR, logger="bot.delivery"):
        await eventually(lambda: _logged(caplog, "delivery paused: another newsbot process "
                                                 "(otherhost:99)"), what="the lost lock is noticed")
    await queue(store, [release(1)], [ada])
    deliverer.wakeup.set()
    # A span, not idle(): the row stays due while the other process holds the lock, so this
    # deliverer never becomes idle; half a second is many of its passes.
    await asyncio.sleep(0.5)
    assert emu.sent(ada) == []  # the other process delivers now, not this one

    await store.release_lock(LOCK_NAME, "otherhost:99")
    await emu.wait_for_messages(ada, 1)


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records)
