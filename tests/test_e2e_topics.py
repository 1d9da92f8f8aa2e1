"""End to end: /topics and /start topic buttons — one tap subscribes, rights as for /subscribe,
a second tap asks before unsubscribing, pages, and stale or forged taps are answered."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import BotSettings, Settings
from bot.emulator import Emulator
from bot.handlers.topics import GONE, NOT_ADMIN, STALE
from bot.releases import Release
from bot.render import TOPIC_PREFIX
from bot.topics.rules import topic_tag
from tests.helpers import ADMIN_ID, BotHarness, make_settings

Message = dict[str, Any]
LIMIT = 3


@pytest.fixture
def settings(tmp_path: Path, emulator: Emulator) -> Settings:
    """The usual test settings with a small subscription limit, so reaching it is quick."""
    return make_settings(tmp_path, emulator.base_url,
                         bot=BotSettings(admins=(ADMIN_ID,), max_subscriptions_per_chat=LIMIT))


def labels(message: Message) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def current(bot: BotHarness, message: Message) -> Message:
    """A bot message as it is now, after any edits."""
    return next(m for m in bot.emu.sent(message["chat"]["id"])
                if m["message_id"] == message["message_id"])


def find(message: Message, pattern: str) -> dict[str, Any]:
    """The button whose label matches ``pattern`` (a regular expression, searched)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    found = [b for row in rows for b in row if re.search(pattern, b["text"])]
    assert found, f"no button matching {pattern!r} in {labels(message)}"
    return found[0]


async def tap(bot: BotHarness, message: Message, pattern: str,
              user: dict[str, Any] | None = None) -> dict[str, Any]:
    """Press the button matching ``pattern`` (on the message as it is now); return the
    answerCallbackQuery parameters once the bot has answered."""
    now = current(bot, message)
    query = bot.emu.press_button(now, find(now, pattern)["callback_data"],
                                 from_user=user or bot.user)
    await bot.emu.wait_for(lambda: query["id"] in bot.emu.callback_answers)
    return bot.emu.callback_answers[query["id"]]


async def keyboard_shows(bot: BotHarness, message: Message,
                         check: Callable[[list[str]], bool]) -> list[str]:
    """Wait until the message's keyboard satisfies ``check``; return its labels."""
    await bot.emu.wait_for(lambda: check(labels(current(bot, message))))
    return labels(current(bot, message))


async def topic_keys(bot: BotHarness, chat_id: int) -> list[str]:
    return [s.topic for s in await bot.services.store.subscriptions(chat_id)]


def count_of(label: str) -> int:
    found = re.search(r"\((\d+)\)$", label)
    assert found, label
    return int(found.group(1))


async def forge(bot: BotHarness, message: Message, data: str) -> dict[str, Any]:
    """A callback query with data no button carries (an old or tampered client)."""
    query = {"id": f"forged-{len(bot.emu.callback_queries)}", "from": bot.user,
             "message": current(bot, message), "chat_instance": "1", "data": data}
    bot.emu.callback_queries[query["id"]] = query
    bot.emu.enqueue("callback_query", query)
    await bot.emu.wait_for(lambda: query["id"] in bot.emu.callback_answers)
    return bot.emu.callback_answers[query["id"]]


# -- private chats ---------------------------------------------------------------------------

async def test_topics_are_buttons_with_counts_and_a_tap_subscribes(newsbot: BotHarness) -> None:
    [menu] = await newsbot.ask("/topics")
    assert "Suggested topics" in menu["text"] and "Tap one" in menu["text"]
    trafficking = find(menu, r"^Trafficking \(\d+\)$")
    assert count_of(trafficking["text"]) >= 1
    # Most releases first: the first button has the highest count of the page.
    counts = [count_of(x) for x in labels(menu) if re.search(r"\(\d+\)$", x)]
    assert counts == sorted(counts, reverse=True)

    answer = await tap(newsbot, menu, r"^Trafficking \(")
    assert "Subscribed" in answer["text"] and "Trafficking" in answer["text"]
    assert not answer.get("show_alert")
    assert await topic_keys(newsbot, newsbot.chat["id"]) == ["trafficking"]
    shown = await keyboard_shows(newsbot, menu, lambda ls: any(x.startswith("✅ Traff")
                                                               for x in ls))
    assert f"✅ {trafficking['text']}" in shown
    # It is the same subscription /subscribe makes: /subscribe now finds it.
    [again] = await newsbot.ask("/subscribe trafficking")
    assert "already subscribed" in again["text"]


async def test_tapping_twice_asks_before_unsubscribing(newsbot: BotHarness) -> None:
    [menu] = await newsbot.ask("/topics")
    await tap(newsbot, menu, r"^Trafficking \(")
    await keyboard_shows(newsbot, menu, lambda ls: any(x.startswith("✅ Traff") for x in ls))

    # The second tap changes nothing yet: it asks.
    answer = await tap(newsbot, menu, r"^✅ Trafficking")
    assert "Unsubscribe" in answer["text"]
    shown = await keyboard_shows(newsbot, menu, lambda ls: "Keep ✅" in ls)
    assert "✖ Unsubscribe: Trafficking?" in shown
    assert await topic_keys(newsbot, newsbot.chat["id"]) == ["trafficking"]

    # "Keep" keeps it.
    answer = await tap(newsbot, menu, r"^Keep")
    assert "Nothing changed" in answer["text"]
    await keyboard_shows(newsbot, menu, lambda ls: "Keep ✅" not in ls)
    assert await topic_keys(newsbot, newsbot.chat["id"]) == ["trafficking"]

    # Asked again and confirmed, it ends the subscription.
    await tap(newsbot, menu, r"^✅ Trafficking")
    await keyboard_shows(newsbot, menu, lambda ls: "Keep ✅" in ls)
    answer = await tap(newsbot, menu, r"^✖ Unsubscribe")
    assert "Unsubscribed" in answer["text"]
    shown = await keyboard_shows(newsbot, menu, lambda ls: any(x.startswith("Traff")
                                                               for x in ls))
    assert not any("✅" in x for x in shown)
    assert await topic_keys(newsbot, newsbot.chat["id"]) == []


async def test_many_topics_page_with_more(newsbot: BotHarness) -> None:
    [menu] = await newsbot.ask("/topics")
    first = labels(menu)
    assert any(x.startswith("More ›") for x in first)
    assert not any(x.startswith("‹ Back") for x in first)
    await tap(newsbot, menu, r"^More ›")
    second = await keyboard_shows(newsbot, menu, lambda ls: any(x.startswith("‹ Back")
                                                                 for x in ls))
    topics_first = {x for x in first if re.search(r"\(\d+\)$", x)}
    topics_second = {x for x in second if re.search(r"\(\d+\)$", x)}
    assert topics_second and not topics_first & topics_second
    # A tap on the second page subscribes and stays on that page.
    label = sorted(topics_second)[0]
    await tap(newsbot, menu, "^" + re.escape(label) + "$")
    shown = await keyboard_shows(newsbot, menu, lambda ls: f"✅ {label}" in ls)
    assert any(x.startswith("‹ Back") for x in shown)
    # Every button's data fits Telegram's 64 bytes, on every page.
    while any(x.startswith("More ›") for x in labels(current(newsbot, menu))):
        data = [b["callback_data"] for row in current(newsbot, menu)["reply_markup"]
                ["inline_keyboard"] for b in row]
        assert all(len(d.encode()) <= 64 for d in data)
        before = labels(current(newsbot, menu))
        await tap(newsbot, menu, r"^More ›")
        await keyboard_shows(newsbot, menu, lambda ls, before=before: ls != before)


async def test_start_offers_popular_topics_in_private_chats(newsbot: BotHarness) -> None:
    [welcome] = await newsbot.ask("/start")
    assert "/subscribe" in welcome["text"] and "tap a topic" in welcome["text"]
    offered = [x for x in labels(welcome) if re.search(r"\(\d+\)$", x)]
    assert 1 <= len(offered) <= 4 and all(count_of(x) >= 1 for x in offered)
    assert "All topics ›" in labels(welcome)
    answer = await tap(newsbot, welcome, "^" + re.escape(offered[0]) + "$")
    assert "Subscribed" in answer["text"]
    await keyboard_shows(newsbot, welcome, lambda ls: f"✅ {offered[0]}" in ls)
    assert len(await topic_keys(newsbot, newsbot.chat["id"])) == 1
    # "All topics" turns the same message into the full, paged list.
    await tap(newsbot, welcome, r"^All topics")
    await keyboard_shows(newsbot, welcome, lambda ls: any(x.startswith("More ›") for x in ls))
    # /help stays plain, and so does /start in a group.
    [plain] = await newsbot.ask("/help")
    assert not labels(plain)
    group = newsbot.emu.add_group("Desk", members={newsbot.user["id"]: "creator"})
    [plain] = await newsbot.ask("/start", chat=group)
    assert not labels(plain)


async def test_a_tap_keeps_the_subscription_limit(newsbot: BotHarness) -> None:
    for topic in ("china", "korea", "mongolia")[:LIMIT]:
        await newsbot.ask(f"/subscribe {topic}")
    [menu] = await newsbot.ask("/topics")
    answer = await tap(newsbot, menu, r"^Trafficking \(")
    assert f"already has {LIMIT} subscriptions" in answer["text"] and answer.get("show_alert")
    assert "trafficking" not in await topic_keys(newsbot, newsbot.chat["id"])


async def test_stale_and_forged_taps_are_answered(newsbot: BotHarness) -> None:
    [menu] = await newsbot.ask("/topics")
    # A topic that is no longer suggested (the taxonomy changed since the message was sent).
    answer = await forge(newsbot, menu, f"{TOPIC_PREFIX}0:s:{topic_tag('no such topic')}")
    assert answer["text"] == GONE
    # Data this bot never made.
    for data in (f"{TOPIC_PREFIX}0:s", f"{TOPIC_PREFIX}x:s:0123456789", f"{TOPIC_PREFIX}0:zz",
                 f"{TOPIC_PREFIX}0:k:0123456789"):
        answer = await forge(newsbot, menu, data)
        assert answer["text"] == STALE, data
    # A page beyond the last one (fewer topics since) shows the last page.
    await forge(newsbot, menu, f"{TOPIC_PREFIX}99:p")
    shown = await keyboard_shows(newsbot, menu, lambda ls: any(x.startswith("‹ Back")
                                                               for x in ls))
    assert not any(x.startswith("More ›") for x in shown)
    assert await topic_keys(newsbot, newsbot.chat["id"]) == []


async def test_counts_follow_new_releases(newsbot: BotHarness) -> None:
    [menu] = await newsbot.ask("/topics")
    before = count_of(find(menu, r"^Trafficking \(")["text"])
    release = Release.from_dict({"title": "New campaign against human trafficking",
                                 "date": "2004-11-02", "summary": "Trafficking again."})
    await newsbot.services.ingestor.ingest([release], "test", notify=False)
    [menu] = await newsbot.ask("/topics")
    assert count_of(find(menu, r"^Trafficking \(")["text"]) == before + 1


# -- groups, forum threads and channels ------------------------------------------------------

async def test_group_non_admin_tap_is_refused_admin_tap_works(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    bob, ann = emu.add_user("Bob"), emu.add_user("Ann")
    group = emu.add_group("Desk", supergroup=True,
                          members={newsbot.user["id"]: "creator", bob["id"]: "member"})
    emu.set_member(group["id"], ann["id"], "administrator", is_anonymous=True)
    [menu] = await newsbot.ask("/topics", chat=group, from_user=bob)  # anyone may look
    assert "only administrators" in menu["text"]
    before = labels(menu)

    answer = await tap(newsbot, menu, r"^Trafficking \(", user=bob)
    assert answer["text"] == NOT_ADMIN and answer.get("show_alert")
    assert await topic_keys(newsbot, group["id"]) == []
    assert labels(current(newsbot, menu)) == before
    assert "edit_date" not in current(newsbot, menu)

    answer = await tap(newsbot, menu, r"^Trafficking \(")  # the creator
    assert "Subscribed" in answer["text"] and "to this chat" in answer["text"]
    await keyboard_shows(newsbot, menu, lambda ls: any(x.startswith("✅ Traff") for x in ls))
    # An anonymous admin's button presses come from their own account: still an admin.
    answer = await tap(newsbot, menu, r"^Mining \(", user=ann)
    assert "Subscribed" in answer["text"]
    assert sorted(await topic_keys(newsbot, group["id"])) == ["mining", "trafficking"]
    # A non-admin cannot unsubscribe either, not even through the confirmation.
    answer = await tap(newsbot, menu, r"^✅ Trafficking", user=bob)
    assert answer["text"] == NOT_ADMIN
    answer = await forge(newsbot, menu, f"{TOPIC_PREFIX}0:u:{topic_tag('trafficking')}")
    assert "Unsubscribed" in answer["text"]  # forged by the creator: allowed
    assert await topic_keys(newsbot, group["id"]) == ["mining"]
    query = {"id": "bob-forged", "from": bob, "message": current(newsbot, menu),
             "chat_instance": "1", "data": f"{TOPIC_PREFIX}0:u:{topic_tag('mining')}"}
    emu.callback_queries[query["id"]] = query
    emu.enqueue("callback_query", query)
    await emu.wait_for(lambda: query["id"] in emu.callback_answers)
    assert emu.callback_answers[query["id"]]["text"] == NOT_ADMIN
    assert await topic_keys(newsbot, group["id"]) == ["mining"]


async def test_forum_thread_tap_subscribes_that_thread(newsbot: BotHarness) -> None:
    forum = newsbot.emu.add_group("Forum", forum=True, members={newsbot.user["id"]: "creator"})
    [menu] = await newsbot.ask("/topics", chat=forum, message_thread_id=7)
    answer = await tap(newsbot, menu, r"^Mining \(")
    assert "topic thread" in answer["text"]
    subs = await newsbot.services.store.subscriptions(forum["id"])
    assert [(s.thread_id, s.topic) for s in subs] == [(7, "mining")]


async def test_channel_buttons_need_a_channel_admin(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    channel = emu.add_channel("ILO news", username="ilo_news",
                              admins=[newsbot.user["id"], emu.bot["id"]])
    reader = emu.add_user("Reader")
    emu.set_member(channel["id"], reader["id"], "member")
    [menu] = await newsbot.ask("/topics", chat=channel)
    answer = await tap(newsbot, menu, r"^Trafficking \(", user=reader)
    assert answer["text"] == NOT_ADMIN
    assert await topic_keys(newsbot, channel["id"]) == []
    answer = await tap(newsbot, menu, r"^Trafficking \(")
    assert "Subscribed" in answer["text"]
    assert await topic_keys(newsbot, channel["id"]) == ["trafficking"]
