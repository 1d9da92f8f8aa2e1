"""The error handler tells the operators (``[bot] operator_chats``): one short notice per kind
of error at most every ``operator_notice_minutes``, without the token; a notice that cannot be
sent changes nothing for the person whose command failed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, running
from bot.emulator import Emulator
from tests.conftest import TOKEN, BotHarness, make_settings

#: No such chat: telling it fails, which must not matter.
MISSING_CHAT = 777_000_111


@pytest.fixture
async def watched(emulator: Emulator, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A bot whose operators are the user "Op" (:data:`OPERATOR`) and a chat that does not
    exist."""
    operator = emulator.add_user("Op")
    settings = make_settings(tmp_path, emulator.base_url)
    settings = dataclasses.replace(settings, bot=dataclasses.replace(
        settings.bot, operator_chats=(MISSING_CHAT, operator["id"])))
    async with running(build_application(settings)) as services:
        yield BotHarness(emulator, services, settings, emulator.add_user("Ada"))


def _operator_chat(bot: BotHarness) -> int:
    [chat] = [c for c in bot.settings.bot.operator_chats if c != MISSING_CHAT]
    return chat


def _break_search(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(query: str, *args: Any, **kwargs: Any) -> None:
        if "value" in query:
            raise ValueError("a value went wrong")
        raise RuntimeError(f"cannot reach https://example.org/bot{TOKEN}/getMe\nsecond line")

    monkeypatch.setattr(bot.services.index, "search", broken)


async def test_operators_hear_of_each_kind_of_error_once(
        watched: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    emu, operator = watched.emu, _operator_chat(watched)
    _break_search(watched, monkeypatch)
    [apology] = await watched.ask("/search coal")
    assert "went wrong" in apology["text"]
    [notice] = await emu.wait_for_messages(operator, 1)
    assert notice["text"] == ("newsbot error: RuntimeError: cannot reach "
                              "https://example.org/bot<token>/getMe")
    assert TOKEN not in notice["text"] and "second line" not in notice["text"]

    # The same kind again: the person is answered as before, the operators not told again.
    [apology] = await watched.ask("/search mine")
    assert "went wrong" in apology["text"]
    # Another kind is told at once, and is then the only new notice.
    [apology] = await watched.ask("/search value")
    assert "went wrong" in apology["text"]
    await emu.wait_for_messages(operator, 2)
    texts = [m["text"] for m in emu.sent(operator)]
    assert texts[1:] == ["newsbot error: ValueError: a value went wrong"]

    # The chat that cannot be told was tried, and failing changed nothing.
    tried = [r for r in emu.requests if r.method == "sendMessage"
             and str(r.params.get("chat_id")) == str(MISSING_CHAT)]
    assert len(tried) == 2 and not any(r.ok for r in tried)
    monkeypatch.undo()
    [answer] = await watched.ask("/latest 1")
    assert "Latest release" in answer["text"]


async def test_without_operator_chats_nobody_is_told(
        newsbot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    _break_search(newsbot, monkeypatch)
    before = len(newsbot.emu.requests)
    [apology] = await newsbot.ask("/search coal")
    assert "went wrong" in apology["text"]
    sent = [r for r in newsbot.emu.requests[before:] if r.method == "sendMessage"]
    assert len(sent) == 1


def test_a_kind_is_told_again_once_its_minutes_have_passed() -> None:
    from bot.config import BotSettings
    from bot.operators import OperatorNotices

    now = [1000.0]
    notices = OperatorNotices(BotSettings(operator_chats=(1,), operator_notice_minutes=10),
                              clock=lambda: now[0])
    assert notices.due("RuntimeError")
    now[0] += 599
    assert not notices.due("RuntimeError") and notices.due("ValueError")
    now[0] += 1
    assert notices.due("RuntimeError")
    assert not OperatorNotices(BotSettings()).due("RuntimeError")  # no operator chats
