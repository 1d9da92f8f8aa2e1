"""End to end: subscriptions in private chats, groups, forum threads and channels, the remove
buttons, the bot's own membership, group migration, /topics and /stats — the real bot against
the emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import BotSettings, Settings
from bot.emulator import Emulator
from bot.handlers.admin import stats_html
from bot.handlers.subscriptions import REMOVE_PREFIX
from bot.store import SourceState
from tests.helpers import ADMIN_ID, BotHarness, eventually, make_settings

LIMIT = 4
RELEASES = 10  # data/releases.json


@pytest.fixture
def settings(tmp_path: Path, emulator: Emulator) -> Settings:
    """The usual test settings with a small subscription limit, so reaching it is quick."""
    return make_settings(tmp_path, emulator.base_url,
                         bot=BotSettings(admins=(ADMIN_ID,), max_subscriptions_per_chat=LIMIT))


async def subs(bot: BotHarness, chat_id: int) -> list[tuple[int, str]]:
    """(thread, topic) of each subscription of a chat, oldest first."""
    return [(s.thread_id, s.topic) for s in await bot.services.store.subscriptions(chat_id)]


def matched(text: str) -> int:
    found = re.search(r"matches (\d+) of the (\d+) releases", text)
    assert found, text
    assert int(found.group(2)) == RELEASES
    return int(found.group(1))


def remove_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b for row in rows for b in row]


def current(bot: BotHarness, message: dict[str, Any]) -> dict[str, Any]:
    """A bot message as it is now, after any edits."""
    return next(m for m in bot.emu.sent(message["chat"]["id"])
                if m["message_id"] == message["message_id"])


async def press_and_wait(bot: BotHarness, message: dict[str, Any], data: str,
                         user: dict[str, Any] | None = None) -> dict[str, Any]:
    """Press a button and return the bot's answerCallbackQuery parameters."""
    before = len(bot.emu.requests)
    bot.emu.press_button(message, data, from_user=user or bot.user)

    def answered() -> bool:
        return any(r.method == "answerCallbackQuery" for r in bot.emu.requests[before:])

    await bot.emu.wait_for(answered)
    [answer] = [r for r in bot.emu.requests[before:] if r.method == "answerCallbackQuery"]
    return dict(answer.params)


# -- private chats ---------------------------------------------------------------------------

async def test_subscribe_confirms_with_match_count_and_saves_chat(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/subscribe trafficking")
    assert "Subscribed this chat to “trafficking”" in answer["text"]
    assert matched(answer["text"]) >= 1
    assert await subs(newsbot, newsbot.chat["id"]) == [(0, "trafficking")]
    chat = await newsbot.services.store.get_chat(newsbot.chat["id"])
    assert chat is not None and chat.type == "private" and chat.active


async def test_duplicate_is_not_created(newsbot: BotHarness) -> None:
    await newsbot.ask("/subscribe child labour")
    [answer] = await newsbot.ask("/subscribe   Child  Labour")
    assert "already subscribed" in answer["text"]
    assert await subs(newsbot, newsbot.chat["id"]) == [(0, "child labour")]


async def test_typo_topic_still_matches(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/subscribe trafiking")
    assert matched(answer["text"]) >= 1, answer["text"]


async def test_topic_matching_nothing_is_said_so(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/subscribe xyzzy")
    assert f"matches none of the {RELEASES} releases" in answer["text"]
    assert "/unsubscribe xyzzy" in answer["text"]
    assert await subs(newsbot, newsbot.chat["id"]) == [(0, "xyzzy")]


async def test_subscribe_alone_means_everything_and_exclusions_work(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/subscribe")
    assert "every new release" in answer["text"]
    [answer] = await newsbot.ask("/subscribe safety -mongolia")
    assert "“safety -mongolia”" in answer["text"]
    with_mongolia = matched((await newsbot.ask("/subscribe safety"))[0]["text"])
    assert 0 < matched(answer["text"]) < with_mongolia
    assert await subs(newsbot, newsbot.chat["id"]) == [
        (0, ""), (0, "safety -mongolia"), (0, "safety")]


async def test_bad_topic_gets_usage(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/subscribe -football")
    assert "Usage: /subscribe topic" in answer["text"]
    assert await subs(newsbot, newsbot.chat["id"]) == []


async def test_user_text_is_escaped(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/subscribe <&>")
    # The emulator rejects bad HTML, so a reply at all (not "Sorry…") proves the escaping.
    assert "Usage: /subscribe topic" in answer["text"]


async def test_limit_per_chat(newsbot: BotHarness) -> None:
    for topic in ("mining", "construction", "migration", "training"):
        await newsbot.ask(f"/subscribe {topic}")
    [answer] = await newsbot.ask("/subscribe child labour")
    assert f"the most allowed is {LIMIT}" in answer["text"]
    assert len(await subs(newsbot, newsbot.chat["id"])) == LIMIT
    # A duplicate at the limit is still reported as a duplicate, not as the limit.
    [answer] = await newsbot.ask("/subscribe mining")
    assert "already subscribed" in answer["text"]


async def test_list_and_remove_button(newsbot: BotHarness) -> None:
    [empty] = await newsbot.ask("/subscriptions")
    assert "No subscriptions" in empty["text"] and not remove_buttons(empty)
    await newsbot.ask("/subscribe mining")
    await newsbot.ask("/subscribe")
    [listing] = await newsbot.ask("/subscriptions")
    assert "1. mining" in listing["text"] and "2. every new release" in listing["text"]
    buttons = remove_buttons(listing)
    assert len(buttons) == 2
    ids = [s.id for s in await newsbot.services.store.subscriptions(newsbot.chat["id"])]
    assert [b["callback_data"] for b in buttons] == [f"{REMOVE_PREFIX}{i}" for i in ids]
    assert all(len(b["callback_data"].encode()) < 64 for b in buttons)

    answer = await press_and_wait(newsbot, listing, buttons[0]["callback_data"])
    assert "mining" in answer.get("text", "")
    assert await subs(newsbot, newsbot.chat["id"]) == [(0, "")]
    # The list message is redrawn in place without the removed subscription.
    await newsbot.emu.wait_for(lambda: "mining" not in current(newsbot, listing)["text"])
    edited = current(newsbot, listing)
    assert "every new release" in edited["text"] and len(remove_buttons(edited)) == 1

    # A stale button (already removed) is answered kindly, and taken off the list.
    await newsbot.services.store.remove_all_subscriptions(newsbot.chat["id"])
    answer = await press_and_wait(newsbot, edited, remove_buttons(edited)[0]["callback_data"])
    assert "already removed" in answer.get("text", "")
    await newsbot.emu.wait_for(lambda: not remove_buttons(current(newsbot, listing)))


async def test_unsubscribe_topic_all_and_usage(newsbot: BotHarness) -> None:
    for topic in ("mining", "construction", "migration"):
        await newsbot.ask(f"/subscribe {topic}")
    [answer] = await newsbot.ask("/unsubscribe Mining")
    assert "Unsubscribed this chat from “mining”" in answer["text"]
    [answer] = await newsbot.ask("/unsubscribe mining")
    assert "not subscribed" in answer["text"]
    [answer] = await newsbot.ask("/unsubscribe")
    assert answer["text"].startswith("Usage: /unsubscribe topic")
    [answer] = await newsbot.ask("/unsubscribe all")
    assert "Removed all 2 subscriptions" in answer["text"]
    assert await subs(newsbot, newsbot.chat["id"]) == []
    [answer] = await newsbot.ask("/unsubscribe all")
    assert "no subscriptions" in answer["text"]


# -- groups ----------------------------------------------------------------------------------

async def test_group_admin_member_and_anonymous_admin(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    bob = emu.add_user("Bob")
    group = emu.add_group("Press <office>", supergroup=True,
                          members={newsbot.user["id"]: "creator", bob["id"]: "member"})
    [answer] = await newsbot.ask("/subscribe mining", chat=group)
    assert "Subscribed this chat" in answer["text"]

    [refused] = await newsbot.ask("/subscribe trafficking", chat=group, from_user=bob)
    assert "only this group's administrators" in refused["text"]
    [refused] = await newsbot.ask("/unsubscribe all", chat=group, from_user=bob)
    assert "only this group's administrators" in refused["text"]

    # Anyone may look; a member's press of a remove button is refused.
    [listing] = await newsbot.ask("/subscriptions", chat=group, from_user=bob)
    assert "mining" in listing["text"]
    answer = await press_and_wait(newsbot, listing, remove_buttons(listing)[0]["callback_data"],
                                  user=bob)
    assert "administrators" in answer.get("text", "") and answer.get("show_alert")
    assert await subs(newsbot, group["id"]) == [(0, "mining")]

    # An anonymous admin posts as the group itself.
    [answer] = await newsbot.ask("/subscribe construction", chat=group, from_user=None,
                                 sender_chat=group)
    assert "Subscribed this chat" in answer["text"]
    assert await subs(newsbot, group["id"]) == [(0, "mining"), (0, "construction")]
    chat = await newsbot.services.store.get_chat(group["id"])
    assert chat is not None and chat.title == "Press <office>" and chat.type == "supergroup"


async def test_group_admin_by_promotion(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    bob = emu.add_user("Bob")
    group = emu.add_group("Desk", members={newsbot.user["id"]: "creator", bob["id"]: "member"})
    emu.set_member(group["id"], bob["id"], "administrator")
    [answer] = await newsbot.ask("/subscribe mining", chat=group, from_user=bob)
    assert "Subscribed this chat" in answer["text"]


async def test_forum_thread_is_stored_and_answered_in_thread(newsbot: BotHarness) -> None:
    forum = newsbot.emu.add_group("Forum", forum=True, members={newsbot.user["id"]: "creator"})
    [answer] = await newsbot.ask("/subscribe mining", chat=forum, message_thread_id=7)
    assert "Subscribed this topic thread" in answer["text"]
    assert answer.get("message_thread_id") == 7
    await newsbot.ask("/subscribe mining", chat=forum)
    assert await subs(newsbot, forum["id"]) == [(7, "mining"), (0, "mining")]
    [answer] = await newsbot.ask("/unsubscribe mining", chat=forum, message_thread_id=7)
    assert await subs(newsbot, forum["id"]) == [(0, "mining")]


async def test_bot_removed_ends_subscriptions_and_added_saves_chat(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    group = emu.add_group("Leaving", supergroup=True, members={newsbot.user["id"]: "creator"})
    await newsbot.ask("/subscribe mining", chat=group)
    store = newsbot.services.store

    emu.set_bot_status(group, "left")

    async def ended() -> bool:
        chat = await store.get_chat(group["id"])
        return not await store.subscriptions(group["id"]) and chat is not None and not chat.active

    await eventually(ended)

    emu.set_bot_status(group, "member")

    async def active() -> bool:
        chat = await store.get_chat(group["id"])
        return chat is not None and chat.active

    await eventually(active)


async def test_blocking_the_bot_ends_private_subscriptions(newsbot: BotHarness) -> None:
    await newsbot.ask("/subscribe mining")
    newsbot.emu.block_bot(newsbot.user)

    async def ended() -> bool:
        return not await newsbot.services.store.subscriptions(newsbot.chat["id"])

    await eventually(ended)


async def test_group_migration_moves_subscriptions(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    group = emu.add_group("Old", members={newsbot.user["id"]: "creator"})
    await newsbot.ask("/subscribe mining", chat=group)
    new_id = emu.migrate_group(group["id"])
    store = newsbot.services.store

    async def moved() -> bool:
        return await subs(newsbot, new_id) == [(0, "mining")] and not await subs(newsbot,
                                                                                  group["id"])

    await eventually(moved)
    chat = await store.get_chat(new_id)
    assert chat is not None and chat.type == "supergroup"


# -- channels --------------------------------------------------------------------------------

async def test_command_posted_in_channel(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    channel = emu.add_channel("ILO news", username="ilo_news",
                              admins=[newsbot.user["id"], emu.bot["id"]])
    [answer] = await newsbot.ask("/subscribe mining", chat=channel)
    assert "Subscribed this chat to “mining”" in answer["text"]
    [listing] = await newsbot.ask("/subscriptions", chat=channel)
    assert "mining" in listing["text"]
    assert await subs(newsbot, channel["id"]) == [(0, "mining")]
    chat = await newsbot.services.store.get_chat(channel["id"])
    assert chat is not None and chat.type == "channel" and chat.username == "ilo_news"


async def test_channel_from_private_chat(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    me = newsbot.user
    channel = emu.add_channel("ILO news", username="ilo_news", admins=[me["id"]])
    # 1. The bot is not in the channel at all.
    [answer] = await newsbot.ask("/subscribe @ilo_news mining")
    assert "I am not an administrator of @ilo_news allowed to post" in answer["text"]
    assert "you are not" not in answer["text"]
    # 2. The bot is an admin but may not post.
    emu.set_member(channel["id"], emu.bot["id"], "administrator", can_post_messages=False)
    [answer] = await newsbot.ask("/subscribe @ilo_news mining")
    assert "I am not an administrator of @ilo_news allowed to post" in answer["text"]
    # 3. The bot may post; now it works.
    emu.set_member(channel["id"], emu.bot["id"], "administrator", can_post_messages=True)
    [answer] = await newsbot.ask("/subscribe @ilo_news mining")
    assert "Subscribed @ilo_news to “mining”" in answer["text"]
    assert "will be sent there" in answer["text"]
    assert await subs(newsbot, channel["id"]) == [(0, "mining")]
    assert await subs(newsbot, newsbot.chat["id"]) == []
    # 4. Someone who is not an admin of the channel is told so.
    bob = emu.add_user("Bob")
    [answer] = await newsbot.ask("/subscribe @ilo_news trafficking",
                                 chat=emu.private_chat(bob), from_user=bob)
    assert "you are not an administrator of @ilo_news" in answer["text"]
    assert "I am not" not in answer["text"]
    [answer] = await newsbot.ask("/subscriptions @ilo_news",
                                 chat=emu.private_chat(bob), from_user=bob)
    assert "you are not an administrator" in answer["text"]
    # 5. No such channel.
    [answer] = await newsbot.ask("/subscribe @no_such_channel mining")
    assert "not found, or I'm not in it" in answer["text"]
    # Listing and removing from the private chat, by the admin.
    [listing] = await newsbot.ask("/subscriptions @ilo_news")
    assert "Subscriptions of @ilo_news" in listing["text"]
    answer = await press_and_wait(newsbot, listing, remove_buttons(listing)[0]["callback_data"])
    assert "Removed" in answer.get("text", "")
    assert await subs(newsbot, channel["id"]) == []
    await newsbot.ask("/subscribe @ilo_news mining")
    [answer] = await newsbot.ask("/unsubscribe @ilo_news mining")
    assert "Unsubscribed @ilo_news from “mining”" in answer["text"]


async def test_channel_by_numeric_id_with_html_title(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    channel = emu.add_channel("Desk <&> news", admins=[newsbot.user["id"], emu.bot["id"]])
    [answer] = await newsbot.ask(f"/subscribe {channel['id']} mining -hunan")
    assert "Subscribed “Desk <&> news” to “mining -hunan”" in answer["text"]
    assert await subs(newsbot, channel["id"]) == [(0, "mining -hunan")]


async def test_channel_reference_outside_private_chat(newsbot: BotHarness) -> None:
    group = newsbot.emu.add_group("G", members={newsbot.user["id"]: "creator"})
    [answer] = await newsbot.ask("/subscribe @ilo_news mining", chat=group)
    assert "private chat" in answer["text"]


# -- /stats ----------------------------------------------------------------------------------

async def test_stats_for_operators_only(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    [refused] = await newsbot.ask("/stats")
    assert "for the bot's operators" in refused["text"]
    await newsbot.ask("/subscribe mining")
    operator = emu.add_user("Op", user_id=ADMIN_ID)
    chat = emu.private_chat(operator)
    [answer] = await newsbot.ask("/stats", chat=chat, from_user=operator)
    text = answer["text"]
    assert f"Releases: {RELEASES}" in text
    assert "Subscriptions: 1 (private 1)" in text
    assert "pending" in text and "sent" in text and "failed" in text
    assert "Sources" in text and "releases.json" in text


def test_stats_html_escapes_and_fits() -> None:
    now = 1_700_000_000.0
    sources = [SourceState(f"https://feeds.example/<{i}>", last_poll_at=now - 90,
                           last_error="HTTP 500 <html> & more " * 20, failures=3)
               for i in range(60)]
    text = stats_html({"releases": 3, "chats": {"group": 2}, "subscriptions": {},
                       "outbox": {"pending": 1}}, sources, now)
    assert "&lt;0&gt;" in text and "<html>" not in text
    assert "90 s ago" in text and "3 in a row" in text
    assert "… and " in text and len(text.encode("utf-16-le")) // 2 <= 4096
    assert "Chats: 2 (group 2)" in text and "1 pending · 0 sent · 0 failed" in text


async def test_subscribe_all_means_every_release(newsbot) -> None:
    [answer] = await newsbot.ask("/subscribe all")
    assert "every new release" in answer["text"]
    [sub] = await newsbot.services.store.subscriptions(newsbot.chat["id"])
    assert sub.topic == ""
