"""End to end: crowds, fan-outs and faults through the one outgoing lane, against an emulator
that enforces Telegram's limits strictly (no bursts to one chat).

Every check is on counts and order (who got what, how many 429s, what overtook what), never on
how long anything took.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, running
from bot.config import DeliverySettings, Settings
from bot.delivery.lane import REPLY_RETRIES
from bot.emulator import Emulator, FloodLimits
from bot.handlers.browse import MORE_PREFIX
from tests.helpers import BOT_USERNAME, TOKEN, BotHarness, eventually, make_settings
from tests.test_delivery import queue, release

#: Telegram's limits, with no burst allowed to one chat (a strict Bot API).
STRICT = FloodLimits(per_second=30, per_chat_per_second=1, per_group_per_minute=20, burst=1)
CROWD = 60
SUBSCRIBE, SEARCH = "/subscribe trafficking", "/search coal"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(limits=STRICT) as emu:
        emu.add_bot(TOKEN, username=BOT_USERNAME)
        yield emu


def right_reply(command: str, text: str) -> bool:
    """Whether ``text`` is the answer ``command`` deserves (not an error, not someone else's)."""
    if command == SUBSCRIBE:
        return text.startswith("✅ Subscribed") and "trafficking" in text
    return "Small coal mine operators in Hunan" in text


def write_all(emu: Emulator, count: int, name: str = "Person") -> list[tuple[int, str]]:
    """``count`` new people each send one command at the same moment; (chat id, command)."""
    people = []
    for n in range(count):
        user = emu.add_user(f"{name} {n}")
        people.append((user, emu.private_chat(user), SUBSCRIBE if n % 2 else SEARCH))
    for user, chat, command in people:
        emu.send_message(chat, command, from_user=user)
    return [(chat["id"], command) for _user, chat, command in people]


def message_sends(emu: Emulator, chat_ids: set[int] | None = None) -> list[Any]:
    return [r for r in emu.requests if r.method == "sendMessage"
            and (chat_ids is None or int(r.params["chat_id"]) in chat_ids)]


async def test_a_crowd_gets_exactly_one_right_reply_each_and_no_429(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    people = write_all(emu, CROWD)
    await emu.wait_for(lambda: all(emu.sent(chat) for chat, _ in people), timeout=60)
    # No request failed, so no error path ran and nothing else is on its way.
    assert [r.status for r in message_sends(emu) if r.status != 200] == []
    assert emu.count_429 == 0
    for chat, command in people:
        [reply] = emu.sent(chat)
        assert right_reply(command, reply["text"]), (command, reply["text"])


async def test_button_presses_and_inline_queries_do_not_queue_behind_a_crowd(
        newsbot: BotHarness) -> None:
    emu = newsbot.emu
    [first] = await newsbot.ask("/search safety and health")
    [[button]] = first["reply_markup"]["inline_keyboard"]
    assert button["callback_data"].startswith(MORE_PREFIX)
    people = write_all(emu, CROWD)
    emu.press_button(first, button["callback_data"], from_user=newsbot.user)
    inline = emu.inline_query(newsbot.user, "trafficking")
    await emu.wait_for(lambda: inline["id"] in emu.inline_answers
                       and emu.stats.by_method["answerCallbackQuery"] == 1)
    # Answered while most of the crowd's replies were still waiting for their slots.
    answered = len([c for c, _ in people if emu.sent(c)])
    assert answered < CROWD
    await emu.wait_for(lambda: all(emu.sent(chat) for chat, _ in people), timeout=60)
    assert emu.count_429 == 0


@pytest.fixture
async def slow_bot(emulator: Emulator, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A bot pacing at 10 messages/s, so a fan-out to a few dozen chats lasts a few seconds."""
    base = make_settings(tmp_path, emulator.base_url)
    settings = dataclasses.replace(base, delivery=dataclasses.replace(
        base.delivery, messages_per_second=10.0))
    async with running(build_application(settings)) as services:
        yield BotHarness(emulator, services, settings, emulator.add_user("Ada"))


async def test_a_reply_overtakes_a_queued_fan_out(slow_bot: BotHarness) -> None:
    newsbot = slow_bot
    emu, store = newsbot.emu, newsbot.services.store
    subscribers = {emu.private_chat(emu.add_user(f"Reader {n}"))["id"] for n in range(40)}
    await queue(store, [release(1)], sorted(subscribers))
    newsbot.services.ingestor.deliveries_added.set()
    await eventually(lambda: len(message_sends(emu, subscribers)) >= 3, timeout=30,
                     what="the fan-out to start")
    alerts_before = len(message_sends(emu, subscribers))
    [answer] = await newsbot.ask(SEARCH)
    assert right_reply(SEARCH, answer["text"])
    overtaken = len(subscribers) - len(message_sends(emu, subscribers))
    between = len(message_sends(emu, subscribers)) - alerts_before
    # The fan-out keeps up to 10 alerts waiting in the lane; the reply went before them.
    assert between <= 5 and overtaken > 0, (between, overtaken)
    await eventually(lambda: all(emu.sent(c) for c in subscribers), timeout=30,
                     what="every alert")
    assert emu.count_429 == 0


async def test_a_429_on_a_reply_is_waited_out_and_the_reply_sent(newsbot: BotHarness) -> None:
    emu, chat_id = newsbot.emu, newsbot.chat["id"]
    emu.faults.add("sendMessage", chat_id=chat_id, error=429, retry_after=1)
    [answer] = await newsbot.ask(SUBSCRIBE)
    assert right_reply(SUBSCRIBE, answer["text"])
    assert emu.count_429 == 1
    # The retry succeeded, so no error path ran: this is the only message the person gets.
    assert [r.status for r in message_sends(emu, {chat_id})] == [429, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_reply_that_meets_a_server_error_is_sent_again(newsbot: BotHarness,
                                                                 status: int) -> None:
    """Telegram's 5xx answers are transient: the person still gets their one reply."""
    emu, chat_id = newsbot.emu, newsbot.chat["id"]
    emu.faults.add("sendMessage", chat_id=chat_id, error=status, times=2)
    [answer] = await newsbot.ask(SEARCH)
    assert right_reply(SEARCH, answer["text"])
    assert [r.status for r in message_sends(emu, {chat_id})] == [status, status, 200]


async def test_a_button_answer_that_meets_a_server_error_is_sent_again(
        newsbot: BotHarness) -> None:
    [page] = await newsbot.ask("/search safety")
    data = page["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    newsbot.emu.faults.add("answerCallbackQuery", error=502)
    query = newsbot.emu.press_button(page, data, from_user=newsbot.user)
    await newsbot.emu.wait_for(lambda: query["id"] in newsbot.emu.callback_answers)


async def test_a_failed_reply_after_the_subscription_was_stored_is_not_called_a_failure(
        newsbot: BotHarness) -> None:
    emu, chat_id = newsbot.emu, newsbot.chat["id"]
    # Telegram fails the reply, again and again (each retry too).
    emu.faults.add("sendMessage", chat_id=chat_id, error=500, times=REPLY_RETRIES + 1)
    emu.send_message(newsbot.chat, SUBSCRIBE, from_user=newsbot.user)
    await eventually(lambda: [r.status for r in message_sends(emu, {chat_id})]
                     == [500] * (REPLY_RETRIES + 1), timeout=30,
                     what="the failed reply and its retries")
    [listing] = await newsbot.ask("/subscriptions")
    assert "trafficking" in listing["text"]  # the subscription was stored...
    assert [m["text"] for m in emu.sent(chat_id)] == [listing["text"]]  # ...and no "Sorry"
    assert [s.topic for s in await newsbot.services.store.subscriptions(chat_id)] != []


@pytest.fixture
def timeout_settings(tmp_path: Path, emulator: Emulator) -> Settings:
    base = make_settings(tmp_path, emulator.base_url)
    return dataclasses.replace(base, delivery=DeliverySettings(
        interval_seconds=0.2, backoff_seconds=0.1, request_timeout=1.0))


async def test_a_reply_that_timed_out_after_the_action_gets_no_apology(
        emulator: Emulator, timeout_settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    emu = emulator
    caplog.set_level(logging.WARNING, logger="bot.handlers.errors")
    async with running(build_application(timeout_settings)):
        user = emu.add_user("Ada")
        chat = emu.private_chat(user)
        # Telegram delivers the reply but its answer comes after the bot's read timeout.
        emu.faults.add("sendMessage", chat_id=chat["id"], delay=3.0)
        emu.send_message(chat, SUBSCRIBE, from_user=user)
        await eventually(lambda: any(r.name == "bot.handlers.errors" for r in caplog.records),
                         timeout=30, what="the handler's failure to be handled")
        before = len(emu.sent(chat["id"]))
        emu.send_message(chat, "/subscriptions", from_user=user)
        await emu.wait_for_messages(chat["id"], before + 1)
        texts = [m["text"] for m in emu.sent(chat["id"])]
        assert right_reply(SUBSCRIBE, texts[0])
        assert len(texts) == 2 and "trafficking" in texts[1]
        assert not any("went wrong" in t for t in texts)
