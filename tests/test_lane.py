"""The outgoing lane on its own (no Telegram): slot order, chat spacing, 429 pauses, no catch-up.

Calls are stand-ins that record when they ran; assertions are on order and on lower bounds of
spacing (a sleep never ends early), never on how fast anything went.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.delivery.lane import ALERT, ON_TIME, REPLY, Lane, chat_key

Call = Callable[[], Coroutine[Any, Any, str]]


def recorder(log: list[tuple[str, float, float]]) -> Callable[[str], Call]:
    """Calls that note (tag, start, end) and take a moment, like a request."""
    def make(tag: str) -> Call:
        async def call() -> str:
            start = time.monotonic()
            await asyncio.sleep(0.005)
            log.append((tag, start, time.monotonic()))
            return tag
        return call
    return make


async def test_replies_get_the_next_slot_before_queued_alerts() -> None:
    lane = Lane(messages_per_second=50)
    log: list[tuple[str, float, float]] = []
    call = recorder(log)
    alerts = [asyncio.create_task(lane.send(call(f"alert{n}"), chat_id=n + 1, priority=ALERT))
              for n in range(8)]
    reply = asyncio.create_task(lane.send(call("reply"), chat_id=999, priority=REPLY))
    await asyncio.gather(*alerts, reply)
    started = [tag for tag, _start, _end in sorted(log, key=lambda e: e[1])]
    # alert0 found the lane idle and went at once; the reply takes the very next slot.
    assert started[:2] == ["alert0", "reply"]
    assert started[2:] == [f"alert{n}" for n in range(1, 8)]


async def test_one_chat_is_spaced_by_the_full_gap_from_the_previous_answer() -> None:
    lane = Lane(messages_per_second=1000, per_chat_per_second=20, per_group_per_minute=600)
    log: list[tuple[str, float, float]] = []
    call = recorder(log)
    await asyncio.gather(*(lane.send(call(f"p{n}"), chat_id=7) for n in range(3)),
                         *(lane.send(call(f"g{n}"), chat_id=-100123) for n in range(3)))
    for prefix, gap in (("p", 1 / 20), ("g", 60 / 600)):
        runs = sorted((e for e in log if e[0].startswith(prefix)), key=lambda e: e[1])
        assert len(runs) == 3
        for before, after in itertools.pairwise(runs):
            assert after[1] - before[2] >= gap  # never two at once, and a whole gap between


async def test_a_slow_chat_does_not_hold_up_the_others() -> None:
    lane = Lane(messages_per_second=1000, per_chat_per_second=0.5)
    log: list[tuple[str, float, float]] = []
    call = recorder(log)
    await lane.send(call("busy0"), chat_id=1)
    busy = asyncio.create_task(lane.send(call("busy1"), chat_id=1))  # waits 2 s for its chat
    others = [asyncio.create_task(lane.send(call(f"other{n}"), chat_id=n + 2))
              for n in range(5)]
    await asyncio.gather(*others)
    assert not busy.done()  # everyone else went while the busy chat waited for its turn
    await busy


async def test_a_429_pauses_every_send_then_the_reply_goes_again() -> None:
    lane = Lane(messages_per_second=1000)
    log: list[tuple[str, float, float]] = []
    call = recorder(log)
    refused = False

    async def refused_once() -> str:
        nonlocal refused
        if not refused:
            refused = True
            raise RetryAfter(1)
        return await call("reply")()

    assert await lane.send(refused_once, chat_id=1) == "reply"
    paused_until = lane.paused_until
    assert lane.stats.rate_limited == 1 and lane.stats.retried == 1
    await asyncio.gather(*(lane.send(call(f"alert{n}"), chat_id=n + 2, priority=ALERT)
                           for n in range(3)))
    assert all(start >= paused_until for _tag, start, _end in log)


async def test_a_429_reaches_a_caller_that_records_it_itself() -> None:
    lane = Lane()

    async def refused() -> None:
        raise RetryAfter(2)

    with pytest.raises(RetryAfter):
        await lane.send(refused, chat_id=1, priority=ALERT, retry_429=False)
    assert lane.paused() > 1  # and the lane is paused for everyone


async def test_a_reply_waiting_behind_an_alert_to_its_chat_lifts_the_alert() -> None:
    lane = Lane(messages_per_second=50)
    log: list[tuple[str, float, float]] = []
    call = recorder(log)
    crowd = [asyncio.create_task(lane.send(call(f"alert{n}"), chat_id=n + 10, priority=ALERT))
             for n in range(8)]
    mine = asyncio.create_task(lane.send(call("my-alert"), chat_id=5, priority=ALERT))
    await asyncio.sleep(0)  # every alert is queued now
    reply = asyncio.create_task(lane.send(call("my-reply"), chat_id=5, priority=REPLY))
    await asyncio.gather(*crowd, mine, reply)
    started = [tag for tag, _start, _end in sorted(log, key=lambda e: e[1])]
    # The chat's alert went at reply priority, right after the first slot; the reply then
    # waited only for its chat's gap, not for the whole crowd of alerts.
    assert started[1] == "my-alert"


def test_a_late_slot_restarts_the_pace_instead_of_catching_up() -> None:
    lane = Lane(messages_per_second=10, margin=1.0)
    lane._grant(100.0)
    assert lane._next == pytest.approx(100.1)
    lane._grant(100.1 + 0.1 * ON_TIME / 2)  # a little late: stays on the grid
    assert lane._next == pytest.approx(100.2)
    lane._grant(105.0)  # the loop stalled for seconds: no burst of missed slots
    assert lane._next == pytest.approx(105.1)


def test_chat_keys() -> None:
    assert chat_key(42) == 42 and chat_key("-100") == -100
    assert chat_key("@Channel") == "@channel"
    assert chat_key(None) is None and chat_key(True) is None
    lane = Lane(per_chat_per_second=1, per_group_per_minute=20)
    assert lane.gap(42) == 1 and lane.gap(-5) == 3 and lane.gap("@news") == 3
