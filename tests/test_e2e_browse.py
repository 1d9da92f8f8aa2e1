"""End to end: the real bot against the emulator — /start, /help, /latest, /search, paging."""

from __future__ import annotations

import json
from pathlib import Path

from bot.app import ALLOWED_UPDATES, build_application, running
from bot.releases import Release
from tests.helpers import BOT_USERNAME, DATA, BotHarness, quiet

SHIPPED = [Release.from_dict(d) for d in json.loads((DATA / "releases.json").read_text())]


def titles(message: dict) -> list[str]:
    """Release titles in a list message, in order (each release starts with a bold title)."""
    return [e_text for e_text in _bold_texts(message)]


def _bold_texts(message: dict) -> list[str]:
    text = message["text"]
    units = text.encode("utf-16-le")
    out = []
    for entity in message.get("entities", []):
        if entity["type"] == "bold":
            start, length = entity["offset"] * 2, entity["length"] * 2
            out.append(units[start:start + length].decode("utf-16-le"))
    return out


async def test_start_and_help_list_every_command(newsbot: BotHarness) -> None:
    for command in ("/start", "/help"):
        [answer] = await newsbot.ask(command)
        for name in ("/latest", "/search", "/subscribe", "/unsubscribe", "/subscriptions",
                     "/topics", "/help"):
            assert name in answer["text"], (command, name)
        assert "/search trafficking" in answer["text"]


async def test_startup_registers_commands_and_allowed_updates(newsbot: BotHarness) -> None:
    calls = [r for r in newsbot.emu.requests if r.method == "setMyCommands"]
    assert calls, "setMyCommands was not called at start-up"
    commands = calls[-1].params["commands"]
    if isinstance(commands, str):
        commands = json.loads(commands)
    assert {c["command"] for c in commands} >= {"latest", "search", "subscribe", "help"}
    await newsbot.emu.wait_for(
        lambda: any(r.method == "getUpdates" for r in newsbot.emu.requests))
    polls = [r for r in newsbot.emu.requests if r.method == "getUpdates"]
    allowed = polls[-1].params.get("allowed_updates")
    if isinstance(allowed, str):
        allowed = json.loads(allowed)
    assert set(allowed) == set(ALLOWED_UPDATES)


async def test_latest_defaults_to_five_newest_first(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/latest")
    newest = sorted(SHIPPED, key=lambda r: (-r.date.toordinal(), r.id))[:5]
    assert titles(answer)[1:] == [r.title for r in newest]


async def test_latest_n_and_bad_n(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/latest 2")
    assert len(titles(answer)) == 1 + 2
    [answer] = await newsbot.ask("/latest 20")
    assert len(titles(answer)) == 1 + len(SHIPPED)
    for bad in ("/latest 0", "/latest 21", "/latest abc", "/latest -3"):
        [answer] = await newsbot.ask(bad)
        assert answer["text"].startswith("Usage: /latest"), bad


async def test_release_format_title_meta_summary(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/search hunan coal")
    hunan = next(r for r in SHIPPED if "Hunan" in r.title)
    assert titles(answer)[1] == hunan.title
    assert "18 October 2004 · Beijing · Press release" in answer["text"]
    assert hunan.summary in answer["text"]


async def test_search_typo_and_exact_rank_trafficking_first(newsbot: BotHarness) -> None:
    for query in ("trafficking", "trafiking"):
        [answer] = await newsbot.ask(f"/search {query}")
        top2 = set(titles(answer)[1:3])
        assert any("Lao" in t for t in top2) and any("Mekong" in t for t in top2), query


async def test_search_empty_query_gets_usage(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/search")
    assert answer["text"].startswith("Usage: /search")


async def test_search_nothing_found_with_suggestion(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/search xyzzyq")
    assert "Nothing found" in answer["text"]
    [answer] = await newsbot.ask("/search cambodai")
    # Either the typo is forgiven, or the bot suggests the right word.
    assert "Cambodian" in answer["text"] or "cambodia" in answer["text"].lower()


async def test_search_escapes_user_input(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/search <b>&")
    assert "<b>&" in answer["text"]  # shown literally to the user
    assert "&lt;b&gt;&amp;" in answer["html"]  # and sent escaped, which the emulator accepted


async def test_search_pages_with_more_button(newsbot: BotHarness) -> None:
    [first] = await newsbot.ask("/search safety and health")
    assert len(titles(first)) == 1 + 5
    [[button]] = first["reply_markup"]["inline_keyboard"]
    assert len(button["callback_data"].encode()) < 64
    [second] = await newsbot.press(first, button["callback_data"])
    seen_first, seen_second = titles(first)[1:], titles(second)[1:]
    assert seen_second and not set(seen_first) & set(seen_second)
    assert "6–" in second["text"]


async def test_more_button_survives_restart(emulator, settings, tmp_path: Path) -> None:
    user = emulator.add_user("Bo")
    chat = emulator.private_chat(user)
    async with running(build_application(settings)):
        emulator.send_message(chat, "/search safety and health", from_user=user)
        [first] = await emulator.wait_for_messages(chat["id"], 1)
    data = first["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    async with running(build_application(settings)):
        emulator.press_button(first, data, from_user=user)
        messages = await emulator.wait_for_messages(chat["id"], 2)
    assert "6–" in messages[1]["text"]


async def test_commands_in_groups_with_bot_name(newsbot: BotHarness) -> None:
    group = newsbot.emu.add_group("Press office", members={newsbot.user["id"]: "member"})
    [answer] = await newsbot.ask(f"/search@{BOT_USERNAME} trafficking", chat=group)
    assert any("Mekong" in t for t in titles(answer))
    [answer] = await newsbot.ask("/latest 1", chat=group)
    assert len(titles(answer)) == 2


async def test_long_release_stays_within_limit(newsbot: BotHarness) -> None:
    huge = Release.from_dict({"title": "Giant <report> & more " * 20, "date": "2030-01-01",
                              "summary": "word & <tag> " * 2000, "url": "https://example.org/x"})
    await newsbot.services.ingestor.ingest([huge], "test", notify=False)
    [answer] = await newsbot.ask("/latest 1")
    assert len(answer["text"].encode("utf-16-le")) // 2 <= 4096
    assert "Giant <report> & more" in answer["text"]


async def test_reply_waits_out_a_429(newsbot: BotHarness) -> None:
    newsbot.emu.faults.add("sendMessage", chat_id=newsbot.chat["id"], error=429, retry_after=1)
    [answer] = await newsbot.ask("/latest 1")
    assert "Latest release" in answer["text"]
    assert newsbot.emu.count_429 == 1


async def test_failing_handler_tells_the_user(newsbot: BotHarness, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(newsbot.services.index, "search", broken)
    [answer] = await newsbot.ask("/search anything")
    assert "something went wrong" in answer["text"]
    [answer] = await newsbot.ask("/latest 1")  # and the bot goes on
    assert "Latest release" in answer["text"]


async def test_plain_text_in_private_chat_is_a_search(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("coal mine")
    assert any("Hunan" in t for t in titles(answer))


async def test_unknown_command(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/frobnicate now")
    assert "I don't know /frobnicate" in answer["text"]
    emu = newsbot.emu
    group = emu.add_group("Quiet", members={newsbot.user["id"]: "member"})
    emu.send_message(group, "/frobnicate", from_user=newsbot.user)
    emu.send_message(group, "just chatting", from_user=newsbot.user)
    await quiet(newsbot)
    assert emu.sent(group["id"]) == []  # a group's other commands and chatter are not ours


async def test_startup_rides_out_a_flaky_bot_api(emulator, settings) -> None:
    emulator.faults.add("getMe", error=502, times=2)
    async with running(build_application(settings)):
        user = emulator.add_user("Flaky")
        emulator.send_message(emulator.private_chat(user), "/latest 1", from_user=user)
        [answer] = await emulator.wait_for_messages(user["id"], 1)
    assert "Latest release" in answer["text"]


async def test_more_still_pages_when_the_press_is_too_old_to_answer(newsbot: BotHarness) -> None:
    [first] = await newsbot.ask("/search safety and health")
    newsbot.emu.faults.add("answerCallbackQuery", error=400, description=(
        "Bad Request: query is too old and response timeout expired or query ID is invalid"))
    [second] = await newsbot.press(first, first["reply_markup"]["inline_keyboard"][0][0][
        "callback_data"])
    assert "6–" in second["text"]


async def test_partial_match_is_explained(newsbot: BotHarness) -> None:
    [answer] = await newsbot.ask("/search xyzzyq labour")
    assert "No release has all of these words" in answer["text"]
    [answer] = await newsbot.ask("/search trafficking -mekong")
    assert titles(answer)[1:] == ["Migrant Lao children - whereabouts unknown"]
