"""Releases in several languages: fields, sources, config, storage (schema 3), CLI, /search."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.releases import Release, ReleaseError
from bot.sources import SourceError, load_file, parse_feed
from bot.store import SCHEMA_VERSION, Store
from tests.helpers import BotHarness


def test_language_and_group_fields() -> None:
    base = {"title": "T", "date": "2004-01-01"}
    assert Release.from_dict(base).language == "en"
    assert Release.from_dict(base, default_language="fr").language == "fr"
    given = Release.from_dict({**base, "language": "es-MX", "group": "g1"}, "fr")
    assert (given.language, given.group) == ("es", "g1")
    # The group rule: ids X.en / X.fr / X.es are one release in several languages.
    fr = Release.from_dict({**base, "id": "ilo-2004-53.fr"})
    assert (fr.language, fr.group) == ("fr", "ilo-2004-53")
    assert Release.from_dict({**base, "id": "plain-id"}).group is None
    with pytest.raises(ReleaseError, match="'language' must be one of en, fr, es"):
        Release.from_dict({**base, "language": "de"})
    assert Release.from_dict(fr.to_dict()) == fr


def test_json_files_carry_language_and_the_source_default(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in [
        {"id": "a", "title": "Un", "date": "2004-01-01"},
        {"id": "b", "title": "Two", "date": "2004-01-01", "language": "en"},
        {"id": "c.es", "title": "Tres", "date": "2004-01-01"},
    ]), encoding="utf-8")
    assert [r.language for r in load_file(path)] == ["en", "en", "es"]
    assert [r.language for r in load_file(path, "fr")] == ["fr", "en", "es"]
    path.write_text(json.dumps({"title": "x", "date": "2004-01-01", "language": "xx"}))
    with pytest.raises(SourceError, match=r"line 1.*language"):
        load_file(path)


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>OIT</title>
<language>fr-FR</language>
<item><title>La s\xc3\xa9curit\xc3\xa9 au travail</title><link>https://example.org/1</link>
<pubDate>Tue, 26 Oct 2004 10:00:00 GMT</pubDate></item></channel></rss>"""

ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>OIT</title>
<id>urn:x</id><updated>2004-10-26T00:00:00Z</updated>
<entry xml:lang="es"><title>Trabajo infantil</title><id>urn:1</id>
<updated>2004-10-26T00:00:00Z</updated><link href="https://example.org/1"/></entry>
<entry><title>Plain</title><id>urn:2</id><updated>2004-10-26T00:00:00Z</updated></entry>
</feed>"""


def test_feeds_read_the_channel_language_and_xml_lang() -> None:
    [item] = parse_feed(RSS, "rss")
    assert item.language == "fr"
    spanish, plain = parse_feed(ATOM, "atom", language="fr")
    assert (spanish.language, plain.language) == ("es", "fr")


def test_config_sources_language(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sources]\nlanguage = "fr"\n', encoding="utf-8")
    assert load_settings(config, env={}).sources.language == "fr"
    config.write_text('[sources]\nlanguage = "german"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[sources\] language: expected one of en, fr, es"):
        load_settings(config, env={})


async def _old_database(url: str, version: int) -> None:
    """A database as an older newsbot left it: releases without the schema-3 columns."""
    store = await Store.open(url)
    await store.upsert_releases([Release("old", "Press release", "Old one", date(2004, 1, 1),
                                         None, "kept")])
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE releases DROP COLUMN language"))
        await conn.execute(sa.text("ALTER TABLE releases DROP COLUMN release_group"))
        await conn.execute(sa.text("UPDATE meta SET value = :v WHERE key = 'schema_version'"),
                           {"v": str(version)})
    await store.close()


async def _check_migration(url: str, start: int) -> None:
    # Schema 3 added the language columns; later versions (digests: 5) apply on top of it.
    await _old_database(url, start)
    store = await Store.open(url)
    try:
        assert await store.schema_version() == SCHEMA_VERSION >= 3
        [old] = await store.latest_releases(10)
        assert (old.id, old.summary, old.language, old.group) == ("old", "kept", "en", None)
        fr = Release("x.fr", "Press release", "Titre", date(2004, 2, 1), None, "Résumé",
                     language="fr", group="x")
        await store.upsert_releases([fr])
        assert await store.get_release("x.fr") == fr
    finally:
        await store.close()
    # Opening again is a no-op: the columns exist, the version is current.
    store = await Store.open(url)
    assert await store.get_release("x.fr") == fr
    await store.close()


@pytest.mark.parametrize("start", [1, 2])
async def test_old_sqlite_databases_migrate_to_3_and_keep_their_releases(
        tmp_path: Path, start: int) -> None:
    await _check_migration(f"sqlite:///{tmp_path / 'old.sqlite3'}", start)


async def test_old_postgres_database_migrates_to_3(postgres_url: str) -> None:
    await _check_migration(postgres_url, 1)


def test_cli_search_json_has_language_and_group(tmp_path: Path, capsys) -> None:
    data = tmp_path / "r.json"
    data.write_text(json.dumps([
        {"id": "s.fr", "title": "La sécurité au travail", "date": "2004-01-01"},
        {"id": "s.en", "title": "Safety at work", "date": "2004-01-01"},
    ]), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "sqlite:///{tmp_path / "db.sqlite3"}"\n'
                      f'[sources]\nfiles = ["{data}"]\n', encoding="utf-8")
    assert main(["search", "securite", "lang:fr", "--json", "--config", str(config)]) == 0
    [hit] = json.loads(capsys.readouterr().out)
    assert (hit["id"], hit["language"], hit["group"]) == ("s.fr", "fr", "s")


async def test_search_prefers_the_readers_telegram_language(newsbot: BotHarness) -> None:
    names = {"en": "Alpha", "es": "Bravo", "fr": "Charlie"}
    newsbot.services.index.add_many([
        Release.from_dict({"id": f"plan.{lang}", "title": f"Quokka plan: {name}",
                           "date": "2004-12-01", "summary": "Equal text."})
        for lang, name in names.items()])

    async def first_title(language_code: str | None) -> str:
        user = newsbot.emu.add_user("Reader", language_code=language_code)
        chat = newsbot.emu.private_chat(user)
        [answer] = await newsbot.ask("/search quokka plan", chat=chat, from_user=user)
        text = answer["text"]
        return min(names.values(), key=lambda name: text.index(name))

    assert await first_title("fr-CA") == "Charlie"
    assert await first_title("es") == "Bravo"
    assert await first_title("de") == "Alpha"
    assert await first_title(None) == "Alpha"


async def test_inline_search_prefers_the_readers_telegram_language(newsbot: BotHarness) -> None:
    newsbot.services.index.add_many([
        Release.from_dict({"id": f"plan.{lang}", "title": f"Quokka plan: {name}",
                           "date": "2004-12-01", "summary": "Equal text."})
        for lang, name in {"en": "Alpha", "es": "Bravo"}.items()])
    spanish = newsbot.emu.add_user("Lucía", language_code="es")
    inline = newsbot.emu.inline_query(spanish, "quokka plan")
    await newsbot.emu.wait_for(lambda: inline["id"] in newsbot.emu.inline_answers)
    results = newsbot.emu.inline_answers[inline["id"]]["results"]
    if isinstance(results, str):
        results = json.loads(results)
    assert [r["title"] for r in results] == ["Quokka plan: Bravo", "Quokka plan: Alpha"]
