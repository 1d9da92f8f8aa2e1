"""End to end: what main added since the i18n split speaks the reader's language too —
/topics buttons with the taxonomy's French and Spanish names, digests framed and dated in the
chat's language, and search preferring the chat's chosen language."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import Chat, Message, Update, User

from bot.app import build_application, running
from bot.config import Settings, SourceSettings
from bot.emulator import Emulator
from bot.handlers.common import reader_language, telegram_language
from bot.i18n import use_language
from tests.helpers import DATA, BotHarness, make_settings
from tests.test_e2e_alerts import NEW_TRAFFICKING, append_release
from tests.test_e2e_digest import FakeClock, fake_clock, stored  # noqa: F401 (a fixture)


def labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


async def test_french_topics_show_french_names_and_subscribe_to_the_same_topic(
        newsbot: BotHarness) -> None:
    emu = newsbot.emu
    marie = emu.add_user("Marie", language_code="fr")
    chat = emu.private_chat(marie)
    [menu] = await newsbot.ask("/topics", chat=chat, from_user=marie)
    assert "Sujets suggérés" in menu["text"]
    french = labels(menu)
    assert any(label.startswith("Traite des êtres humains (") for label in french), french
    assert not any(label.startswith("Trafficking") for label in french)
    button = next(b for row in menu["reply_markup"]["inline_keyboard"] for b in row
                  if b["text"].startswith("Traite des êtres humains"))
    query = emu.press_button(menu, button["callback_data"], from_user=marie)
    await emu.wait_for(lambda: query["id"] in emu.callback_answers)
    answer = emu.callback_answers[query["id"]]["text"]
    assert answer.startswith("✅ Abonné à “Traite des êtres humains”"), answer
    [sub] = await newsbot.services.store.subscriptions(chat["id"])
    assert sub.topic == "trafficking"  # the same topic an English reader subscribes to

    # An English reader sees the English names; a Spanish one the Spanish names.
    [menu_en] = await newsbot.ask("/topics")
    assert any(label.startswith("Trafficking (") for label in labels(menu_en))
    pablo = emu.add_user("Pablo", language_code="es-AR")
    [menu_es] = await newsbot.ask("/topics", chat=emu.private_chat(pablo), from_user=pablo)
    assert any(label.startswith("Trata de personas (") for label in labels(menu_es))


@pytest.fixture
async def spanish_bot(emulator: Emulator, tmp_path: Path,
                      fake_clock: FakeClock) -> AsyncIterator[tuple[BotHarness, Path]]:  # noqa: F811
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    settings: Settings = dataclasses.replace(
        make_settings(tmp_path, emulator.base_url),
        sources=SourceSettings(files=(releases,), poll_seconds=0.3))
    ana = emulator.add_user("Ana", language_code="es-MX")
    async with running(build_application(settings)) as services:
        yield BotHarness(emulator, services, settings, ana), releases


async def test_spanish_digest_is_framed_in_spanish_with_spanish_dates(
        spanish_bot: tuple[BotHarness, Path], fake_clock: FakeClock) -> None:  # noqa: F811
    bot, releases = spanish_bot
    emu, chat = bot.emu, bot.chat["id"]
    [answer] = await bot.ask("/subscribe trafficking daily")
    assert "resumen diario a las 08:00 (UTC)" in answer["text"], answer["text"]
    [listing] = await bot.ask("/subscriptions")
    assert "resumen diario" in listing["text"] and "Pulsa un botón" in listing["text"]
    [when] = await bot.ask("/digest")
    assert when["text"].startswith("🕗 Los resúmenes de")
    before = len(emu.sent(chat))
    append_release(releases, NEW_TRAFFICKING)
    await stored(bot, NEW_TRAFFICKING["title"])

    fake_clock.set("2024-11-05T08:00:01+00:00")
    await emu.wait_for_messages(chat, before + 1)
    digest = emu.sent(chat)[before]["text"]
    assert digest.startswith("📰 Tu resumen diario: 1 comunicado nuevo"), digest
    assert "2 de noviembre de 2004" in digest  # the release's date, as Spanish readers write it
    assert NEW_TRAFFICKING["title"] in digest  # the release itself stays as published


def _update(language_code: str | None) -> Update:
    user = User(1, "Marie", False, language_code=language_code)
    return Update(1, message=Message(1, datetime.now(), Chat(1, "private"), from_user=user,
                                     text="hi"))


def test_reader_language_follows_the_chats_language_when_one_was_resolved() -> None:
    update = _update("fr-CA")
    assert reader_language(update) == "fr"  # no update language set: Telegram's
    with use_language("es"):  # set per update by the language handler (chat chose Spanish)
        assert reader_language(update) == "es"  # search prefers the chat's language
        assert telegram_language(update) == "fr"  # /language auto goes back to this
    assert reader_language(_update(None)) == "en"
