"""End to end: inline mode (``@BotName query`` in any chat) against the emulator."""

from __future__ import annotations

import json

from bot.handlers.inline import PAGE
from bot.releases import Release
from tests.helpers import BotHarness


async def answer(harness: BotHarness, query: str, offset: str = "") -> dict:
    emu = harness.emu
    inline = emu.inline_query(harness.user, query, offset=offset)
    await emu.wait_for(lambda: inline["id"] in emu.inline_answers)
    params = emu.inline_answers[inline["id"]]
    results = params["results"]
    if isinstance(results, str):
        params = {**params, "results": json.loads(results)}
    return params


async def test_inline_search_sends_formatted_release(newsbot: BotHarness) -> None:
    params = await answer(newsbot, "trafiking")
    titles = [r["title"] for r in params["results"]]
    assert any("Mekong" in t for t in titles[:2]) and any("Lao" in t for t in titles[:2])
    first = params["results"][0]
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML" and content["message_text"].startswith("<b>")
    assert len(first["id"].encode()) <= 64
    assert params.get("next_offset", "") == ""


async def test_empty_inline_query_lists_latest(newsbot: BotHarness) -> None:
    params = await answer(newsbot, "")
    assert params["results"][0]["title"].startswith("Experts assess progress")
    assert len(params["results"]) == 10


async def test_inline_pages_with_next_offset(newsbot: BotHarness) -> None:
    many = [Release.from_dict({"title": f"Safety bulletin number {n}", "date": "2005-01-01",
                               "summary": "Occupational safety news."}) for n in range(120)]
    await newsbot.services.ingestor.ingest(many, "test", notify=False)
    first = await answer(newsbot, "safety bulletin")
    assert len(first["results"]) == PAGE and first["next_offset"] == str(PAGE)
    second = await answer(newsbot, "safety bulletin", offset=first["next_offset"])
    ids = {r["id"] for r in first["results"]}
    assert len(second["results"]) == PAGE and not ids & {r["id"] for r in second["results"]}
    third = await answer(newsbot, "safety bulletin", offset=second["next_offset"])
    assert len(third["results"]) >= 20 and third.get("next_offset", "") == ""


async def test_inline_bad_filter_is_explained(newsbot: BotHarness) -> None:
    params = await answer(newsbot, "since:2004-13")
    assert params["results"] == []
    button = params.get("button")
    if isinstance(button, str):
        button = json.loads(button)
    assert "since" in button["text"]
