"""Bad input through the running bot: odd digits, forged button data and inline offsets, rights
that cannot be checked, oversized release files (issue 7, section 4). Every button press and
inline query is answered; nothing raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.config import SourceSettings
from bot.handlers.browse import LATEST_USAGE
from bot.permissions import CHECK_FAILED
from bot.poller import SourcePoller, file_source_name
from tests.helpers import ADMIN_ID, BotHarness


def forge_press(harness: BotHarness, message: dict[str, Any], data: str) -> dict[str, Any]:
    """A press whose data no button carries (a modified client can send any 64 bytes)."""
    emu = harness.emu
    query = {"id": emu._new_query_id(), "from": harness.user, "message": message,
             "chat_instance": "1", "data": data}
    emu.callback_queries[query["id"]] = query
    emu.enqueue("callback_query", query)
    return query


async def answered_press(harness: BotHarness, message: dict[str, Any], data: str) -> dict:
    emu = harness.emu
    query = forge_press(harness, message, data)
    await emu.wait_for(lambda: query["id"] in emu.callback_answers, timeout=5)
    return emu.callback_answers[query["id"]]


@pytest.mark.parametrize("argument", ["²", "①", "٣", "99999999999999999999", "-3", "0", "2.5"])
async def test_latest_with_odd_numbers_gets_usage(newsbot: BotHarness, argument: str) -> None:
    [answer] = await newsbot.ask(f"/latest {argument}")
    assert answer["text"].startswith("Usage: /latest")
    assert LATEST_USAGE.startswith("Usage")


@pytest.mark.parametrize("offset", ["²", "①", "٣", "99999999999999999999", "-5", "1e9", "x"])
@pytest.mark.parametrize("query", ["", "safety"])
async def test_every_inline_query_is_answered(newsbot: BotHarness, query: str,
                                              offset: str) -> None:
    emu = newsbot.emu
    inline = emu.inline_query(newsbot.user, query, offset=offset)
    await emu.wait_for(lambda: inline["id"] in emu.inline_answers, timeout=5)
    answer = emu.inline_answers[inline["id"]]
    assert answer.get("next_offset", "") == ""


async def test_forged_and_stale_buttons_are_answered(newsbot: BotHarness) -> None:
    [page] = await newsbot.ask("/search safety and health")
    data = page["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    key = data.split(":")[1]
    for forged in [f"more:{key}:²", f"more:{key}:①", f"more:{key}:99999999999999999999",
                   f"more:{key}:-5", "more:nosuchkey:5", "more:", "unsub:²", "unsub:①",
                   "unsub:99999999999999999999", "unsub:-1", "unsub:", "whatever"]:
        answer = await answered_press(newsbot, page, forged)
        assert answer.get("text"), forged
    # None of them was taken for a real page or failed loudly.
    assert not [m for m in newsbot.emu.sent(newsbot.chat["id"])[1:]
                if "went wrong" in m["text"]]


async def test_a_failing_button_handler_still_answers(newsbot: BotHarness,
                                                      monkeypatch) -> None:
    [page] = await newsbot.ask("/search safety and health")
    data = page["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    async def broken(key: str) -> str:
        raise RuntimeError("store down")

    monkeypatch.setattr(newsbot.services.store, "saved_query", broken)
    answer = await answered_press(newsbot, page, data)
    assert "did not work" in answer["text"]


async def test_a_failing_inline_handler_still_answers(newsbot: BotHarness,
                                                      monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("index broken")

    monkeypatch.setattr(newsbot.services.index, "search", broken)
    emu = newsbot.emu
    inline = emu.inline_query(newsbot.user, "safety")
    await emu.wait_for(lambda: inline["id"] in emu.inline_answers, timeout=5)


async def test_rights_that_cannot_be_checked_are_a_clear_refusal(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    owner = emu.add_user("Owner")
    group = emu.add_group("Dockers", supergroup=True,
                          members={owner["id"]: "creator", newsbot.user["id"]: "restricted"})
    emu.faults.add("getChatMember", error=400, description="Bad Request: CHAT_ADMIN_REQUIRED")
    [answer] = await newsbot.ask("/subscribe coal", chat=group)
    assert answer["text"] == CHECK_FAILED.replace("<", "").replace(">", "")
    assert await newsbot.services.store.subscriptions(group["id"]) == []
    emu.faults.add("getChatMember", error=500)
    [answer] = await newsbot.ask("/unsubscribe all", chat=group)
    assert "could not check your rights" in answer["text"]


async def test_an_oversized_release_file_is_a_source_error(newsbot: BotHarness,
                                                           tmp_path: Path) -> None:
    big, small = tmp_path / "big.json", tmp_path / "small.json"
    items = [{"title": f"Harbour report {n}", "date": "2005-01-01", "summary": "Ports."}
             for n in range(200)]
    big.write_text(json.dumps(items))
    small.write_text(json.dumps(items[:2]))
    settings = SourceSettings(files=(big, small), max_file_bytes=2000)
    poller = SourcePoller(settings, newsbot.services.store, newsbot.services.ingestor)
    await poller.poll_all()
    state = await newsbot.services.store.source_state(file_source_name(big))
    assert state is not None and str(big) in state.last_error
    assert "max_file_bytes" in state.last_error
    ok = await newsbot.services.store.source_state(file_source_name(small))
    assert ok is not None and ok.last_error is None
    # /stats lists the error like any other source error.
    operator = newsbot.emu.add_user("Op", user_id=ADMIN_ID)
    [stats] = await newsbot.ask("/stats", chat=newsbot.emu.private_chat(operator),
                                from_user=operator)
    assert "big.json" in stats["text"] and "larger than the limit" in stats["text"]
