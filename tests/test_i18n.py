"""The bot's languages: the catalogs are complete and compiled, dates and numbers per locale,
and through the emulator: the reader's language from /start on, /language, groups, alerts and
the command list per language."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.app import build_application, running
from bot.config import SourceSettings
from bot.emulator import Emulator
from bot.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    _,
    _n,
    current_language,
    format_date,
    format_number,
    language_of,
    parse_language,
    use_language,
)
from bot.store import SCHEMA_VERSION, Store
from tests.helpers import DATA, ROOT, BotHarness, make_settings

TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]
#: What the maintenance commands in the README extract (``pybabel extract -k …``).
KEYWORDS = {"_": None, "gettext": None, "N_": None, "_n": (1, 2)}


def _used_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / "bot", method_map=[("**.py", "python")], keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalog(lang: str) -> Any:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "newsbot.po", "rb") as f:
        return read_po(f, locale=lang)


def _fields(text: str) -> tuple[list[str], list[str]]:
    """The ``{placeholders}`` and HTML tags of a message, which a translation must keep."""
    return (sorted(re.findall(r"\{\w*\}", text)),
            sorted(re.findall(r"</?[a-z]+", text)))


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalog_has_every_message_the_code_uses(lang: str) -> None:
    catalog = _catalog(lang)
    used = _used_messages()
    assert len(used) > 100 and "Alert: {topics}" in used  # the extraction itself works
    problems = []
    for message in sorted(used, key=str):
        key = message if isinstance(message, str) else message[0]
        entry = catalog.get(key)
        if entry is None:
            problems.append(f"missing: {key!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        elif isinstance(message, tuple) != isinstance(entry.string, tuple | list):
            problems.append(f"plural form mismatch: {key!r}")
        elif not all(entry.string if isinstance(entry.string, tuple | list) else [entry.string]):
            problems.append(f"untranslated: {key!r}")
    assert not problems, f"{lang} catalog (see README, Languages):\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_placeholders_and_markup(lang: str) -> None:
    for entry in _catalog(lang):
        if not entry.id:
            continue
        source = entry.id if isinstance(entry.id, str) else entry.id[-1]
        for text in (entry.string if isinstance(entry.string, tuple | list) else [entry.string]):
            placeholders, tags = _fields(source)
            got_placeholders, got_tags = _fields(text)
            # A singular may say "the only one" instead of "{count}"; nothing may be invented.
            assert set(got_placeholders) <= set(placeholders), (lang, source, text)
            assert got_tags == tags, (lang, source, text)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalog_is_up_to_date(lang: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(lang))
    shipped = (LOCALE_DIR / lang / "LC_MESSAGES" / "newsbot.mo").read_bytes()
    assert compiled.getvalue() == shipped, (
        f"bot/locale/{lang}/LC_MESSAGES/newsbot.mo is stale: run "
        "`pybabel compile -d bot/locale -D newsbot`")


def test_dates_and_numbers_per_language() -> None:
    day = date(2004, 10, 26)
    expected = {"en": ("26 October 2004", "12,345"), "fr": ("26 octobre 2004", "12\u202f345"),
                "es": ("26 de octubre de 2004", "12.345")}
    for lang, (when, number) in expected.items():
        with use_language(lang):
            assert format_date(day) == when
            assert format_number(12345) == number


def test_language_context_and_parsing() -> None:
    assert [language_of(c) for c in ("fr", "fr-CA", "es-419", "ES", "de", "", None)] == \
        ["fr", "fr", "es", "es", "en", "en", "en"]
    assert [parse_language(w) for w in ("fr", " Español ", "english", "klingon")] == \
        ["fr", "es", "en", None]
    assert current_language() == "en"
    with use_language("fr"):
        assert _("Nothing changed.") == "Rien n’a changé."
        assert _n("{n} day ago", "{n} days ago", 2).format(n=2) == "il y a 2 jours"
        with use_language("es"):
            assert _("Nothing changed.") == "No ha cambiado nada."
        assert current_language() == "fr"
    assert current_language() == "en" and _("Nothing changed.") == "Nothing changed."


async def test_schema_4_adds_the_language_columns_to_an_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    store = await Store.open(url)
    async with store.engine.begin() as conn:  # make it look like a version 1 database
        for column in ("language", "auto_language"):
            await conn.execute(sa.text(f"ALTER TABLE chats DROP COLUMN {column}"))
        await conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
        await conn.execute(sa.text("INSERT INTO chats (id, type, active, updated_at) "
                                   "VALUES (5, 'private', 1, 0)"))
    await store.close()
    store = await Store.open(url)
    try:
        assert await store.schema_version() == SCHEMA_VERSION >= 4
        await store.set_chat_language(5, "private", "es")
        chat = await store.get_chat(5)
        assert chat is not None and chat.language == "es" and chat.auto_language is None
    finally:
        await store.close()


# -- through the emulator ----------------------------------------------------------------------

async def test_french_user_gets_french_from_start(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    marie = emu.add_user("Marie", language_code="fr-FR")
    chat = emu.private_chat(marie)
    [welcome] = await newsbot.ask("/start", chat=chat, from_user=marie)
    assert "Des communiqués de presse" in welcome["text"]
    assert "Pour commencer" in welcome["text"]
    [latest] = await newsbot.ask("/latest 1", chat=chat, from_user=marie)
    assert "Dernier communiqué" in latest["text"] and "octobre 2004" in latest["text"]
    [found] = await newsbot.ask("/search trafficking", chat=chat, from_user=marie)
    assert " sur " in found["text"] and "pour « trafficking »" in found["text"]
    # Meanwhile an English speaker still gets English.
    [help_en] = await newsbot.ask("/help")
    assert "Press releases, searchable" in help_en["text"]


async def test_language_command_switches_and_persists_across_restart(
        emulator: Emulator, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    marie = emulator.add_user("Marie", language_code="fr")
    async with running(build_application(settings)) as svc:
        bot = BotHarness(emulator, svc, settings, marie)
        [status] = await bot.ask("/language")
        assert "Langue ici : Français" in status["text"]
        labels = [b["text"] for row in status["reply_markup"]["inline_keyboard"] for b in row]
        assert "Español" in labels and "English" in labels
        [done] = await bot.ask("/language es")
        assert done["text"] == "Hecho: el idioma de este chat es ahora Español."
        [reply] = await bot.ask("/latest 1")
        assert "Último comunicado" in reply["text"] and "de octubre de 2004" in reply["text"]
        [bad] = await bot.ask("/language klingon")
        assert bad["text"].startswith("Uso: /language es, /language fr o /language en")
    async with running(build_application(settings)) as svc:
        bot = BotHarness(emulator, svc, settings, marie)
        [reply] = await bot.ask("/help")
        assert "Comunicados de prensa" in reply["text"]
        [back] = await bot.ask("/language auto")
        assert "Telegram" in back["text"]
        [reply] = await bot.ask("/help")
        assert "Des communiqués de presse" in reply["text"]  # her Telegram language again


async def test_language_buttons(newsbot: BotHarness) -> None:
    [status] = await newsbot.ask("/language")
    before = len(newsbot.emu.requests)
    newsbot.emu.press_button(status, "lang:fr", from_user=newsbot.user)

    def answered() -> bool:
        return any(r.method == "answerCallbackQuery" for r in newsbot.emu.requests[before:])

    await newsbot.emu.wait_for(answered)
    [answer] = [r for r in newsbot.emu.requests[before:] if r.method == "answerCallbackQuery"]
    assert "Français est désormais la langue" in answer.params["text"]
    chat = await newsbot.services.store.get_chat(newsbot.chat["id"])
    assert chat is not None and chat.language == "fr"
    [reply] = await newsbot.ask("/help")
    assert "Des communiqués de presse" in reply["text"]


async def test_group_language_is_for_admins(newsbot: BotHarness) -> None:
    emu = newsbot.emu
    pablo = emu.add_user("Pablo", language_code="es")
    group = emu.add_group("Prensa", supergroup=True,
                          members={newsbot.user["id"]: "creator", pablo["id"]: "member"})
    [refused] = await newsbot.ask("/language fr", chat=group, from_user=pablo)
    assert "solo los administradores de este grupo" in refused["text"]  # in his language
    assert (await newsbot.services.languages.chosen(group["id"])) is None
    [done] = await newsbot.ask("/language fr", chat=group)  # the creator
    assert "Français est désormais la langue de cette discussion" in done["text"]
    [reply] = await newsbot.ask("/latest 1", chat=group, from_user=pablo)
    assert "Dernier communiqué" in reply["text"]  # the group's language, for everyone


async def test_alerts_are_framed_in_each_chats_language(emulator: Emulator,
                                                        tmp_path: Path) -> None:
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    settings = dataclasses.replace(make_settings(tmp_path, emulator.base_url),
                                   sources=SourceSettings(files=(releases,), poll_seconds=0.3))
    ana = emulator.add_user("Ana", language_code="es-MX")
    ada = emulator.add_user("Ada")
    async with running(build_application(settings)) as svc:
        bot = BotHarness(emulator, svc, settings, ana)
        await bot.ask("/subscribe trafficking")
        await bot.ask("/subscribe trafficking", chat=emulator.private_chat(ada), from_user=ada)
        group = emulator.add_group("Desk", members={ada["id"]: "creator"})
        await bot.ask("/language fr", chat=group, from_user=ada)
        await bot.ask("/subscribe trafficking", chat=group, from_user=ada)
        before = {c: len(emulator.sent(c)) for c in (ana["id"], ada["id"], group["id"])}
        data = json.loads(releases.read_text())
        data.append({"title": "Child trafficking in the Mekong", "date": "2004-11-02",
                     "summary": "Traffickers target migrant children."})
        releases.write_text(json.dumps(data))
        alerts = {c: (await emulator.wait_for_messages(c, n + 1))[-1]["text"]
                  for c, n in before.items()}
    assert "2 de noviembre de 2004" in alerts[ana["id"]]
    assert "Alerta: trafficking" in alerts[ana["id"]]
    assert "2 November 2004" in alerts[ada["id"]] and "Alert: trafficking" in alerts[ada["id"]]
    assert "2 novembre 2004" in alerts[group["id"]]
    assert "Alerte : trafficking" in alerts[group["id"]]
    # The release itself stays as published.
    assert all("Child trafficking in the Mekong" in text for text in alerts.values())


async def test_command_list_registered_per_language(newsbot: BotHarness) -> None:
    calls = [r.params for r in newsbot.emu.requests if r.method == "setMyCommands"]
    by_language = {c.get("language_code"): c["commands"] for c in calls}
    assert set(by_language) == {None, "fr", "es"}

    def descriptions(commands: Any) -> dict[str, str]:
        commands = json.loads(commands) if isinstance(commands, str) else commands
        return {c["command"]: c["description"] for c in commands}

    assert descriptions(by_language["fr"])["help"] == "Comment utiliser ce bot"
    assert descriptions(by_language["es"])["help"] == "Cómo usar este bot"
    assert descriptions(by_language[None])["help"] == "How to use this bot"
    assert "language" in descriptions(by_language["fr"])
