"""Release ids as publishers give them: URLs, UUIDs, long slugs, non-ASCII (issue 7, part 2).

Ids are stored and shown unchanged; whatever Telegram caps at 64 bytes (inline result ids)
carries the short key derived from the id; a version-1 database migrates and keeps its rows.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.releases import (
    MAX_ID_LENGTH,
    Release,
    ReleaseError,
    id_from_key,
    make_id,
    release_key,
    validate_id,
)
from bot.store import PENDING, SCHEMA_VERSION, Delivery, Store, UpsertResult
from tests import pg
from tests.helpers import DATA, ROOT, BotHarness
from tests.test_e2e_inline import answer

V1_DATABASE = ROOT / "tests" / "fixtures" / "store_v1.sqlite3"

URL_ID = "https://www.example.org/news/2024/05/press-release?id=123&lang=en#top"
UUID_ID = "3f2b8c1e-9d4a-4f6b-8a7e-2c1d0e9f8a7b"
NON_ASCII_ID = "communiqué/2024/Genève—travail décent 日本語"
SLUG_ID = "ilo-welcomes-the-adoption-of-the-new-convention-on-violence-and-harassment-at-work-2019"


# -- the rule -------------------------------------------------------------------------------

@pytest.mark.parametrize("given", [
    URL_ID, UUID_ID, NON_ASCII_ID, SLUG_ID, "urn:uuid:" + UUID_ID, "a", "with inner  spaces",
    "x" * MAX_ID_LENGTH, "日" * MAX_ID_LENGTH, "emoji 📰 news",
])
def test_any_reasonable_id_is_kept_as_given(given: str) -> None:
    assert validate_id(given) == given
    release = Release.from_dict({"id": given, "title": "T", "date": "2024-05-01"})
    assert release.id == given
    assert Release.from_dict(release.to_dict()) == release


def test_surrounding_whitespace_is_trimmed() -> None:
    assert validate_id("  abc-1 ") == "abc-1"


@pytest.mark.parametrize(("given", "problem"), [
    ("   ", "empty"),
    ("x" * (MAX_ID_LENGTH + 1), "longer than 1024 characters"),
    ("line\nbreak", "U+000A"),
    ("tab\there", "U+0009"),
    ("nul\x00byte", "U+0000"),
    ("zero\u200bwidth", "U+200B"),
    ("bidi\u202eoverride", "U+202E"),
    ("lone\ud800surrogate", "U+D800"),
    (42, "must be a string"),
])
def test_bad_ids_are_refused_with_the_reason(given: object, problem: str) -> None:
    with pytest.raises(ReleaseError, match=problem.replace("+", r"\+")):
        validate_id(given)


def test_key_is_short_stable_and_ascii() -> None:
    for given in (URL_ID, UUID_ID, NON_ASCII_ID, "x" * MAX_ID_LENGTH):
        key = release_key(given)
        assert key == release_key(given) and len(key) == 26 and key.isascii()
        assert key.isalnum() and key == key.lower()
    assert len({release_key(f"id-{n}") for n in range(10_000)}) == 10_000


def test_derived_ids_did_not_change() -> None:
    """Existing stores hold derived ids: deriving them differently would make them "new"."""
    title = "Lao PDR's children: a very long title about trafficking in the Mekong sub-region"
    derived = "2004-10-26-lao-pdrs-children-a-very-long-title-about"
    assert make_id(date(2004, 10, 26), title) == derived
    assert id_from_key("www.ilo.org", "https://www.ilo.org/global/about-the-ilo/newsroom/news/"
                       "WCMS_005175/lang--en/index.htm?x=1&y=2") == "www-ilo-org-bd733159921b353f"


# -- the store --------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    async for url in pg.fresh_database():
        yield url


def plan(new: Any, subs: Any) -> list[Delivery]:
    """Every new release to every subscription (to chat 5 when there are none)."""
    if not subs:
        return [Delivery(r.id, 5, 0, ()) for r in new]
    return [Delivery(r.id, s.chat_id, s.thread_id, (s.topic,)) for r in new for s in subs]


async def ingest(store: Store, releases: list[Release]) -> UpsertResult:
    """Store ``releases`` and queue :func:`plan`'s alerts for the new ones, in one batch."""
    subs = await store.subscriptions()
    async with store.ingest_batch("test") as batch:
        result = await batch.upsert(releases)
        queued = await batch.enqueue(plan(result.new, subs))
    return dataclasses.replace(result, deliveries=queued)


def release(release_id: str, n: int = 1) -> Release:
    return Release(id=release_id, kind="Press release", title=f"Coal mine safety {n}",
                   date=date(2024, 5, n % 28 + 1), place=None, summary="About coal mines.")


async def test_long_and_odd_ids_round_trip_through_the_store(db_url: str) -> None:
    ids = [URL_ID, UUID_ID, NON_ASCII_ID, SLUG_ID, "x" * MAX_ID_LENGTH,
           "日本語" * (MAX_ID_LENGTH // 3)]  # 3 bytes a character: over PostgreSQL's index limit
    store = await Store.open(db_url)
    try:
        await store.add_subscription(7, 0, "coal")
        result = await ingest(store, [release(i, n) for n, i in enumerate(ids)])
        assert len(result.new) == len(ids) and result.deliveries == len(ids)
        for given in ids:
            stored = await store.get_release(given)
            assert stored is not None and stored.id == given
        assert sorted(r.id for r in await store.latest_releases(len(ids) + 1)) == sorted(ids)
        assert sorted(r.release_id for r in await store.outbox_rows(7)) == sorted(ids)
        again = await ingest(store, [release(i, n) for n, i in enumerate(ids)])
        assert again.unchanged == len(ids) and again.deliveries == 0
    finally:
        await store.close()


# -- migration from version 1 -------------------------------------------------------------------

async def test_version_1_sqlite_file_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    """A database file written by the version-1 code (tests/fixtures/store_v1.sqlite3)."""
    path = tmp_path / "old.sqlite3"
    shutil.copy(V1_DATABASE, path)
    store = await Store.open(f"sqlite:///{path}")
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert [r.id for r in await store.latest_releases(10)] == [
            f"2004-10-{n:02d}-release-{n}" for n in range(5, 0, -1)]
        assert (await store.get_release("2004-10-03-release-3")).title == "Coal mine safety 3"
        [sub] = await store.subscriptions(1001)
        assert sub.topic == "coal"
        [row] = await store.outbox_rows(1001)
        assert row.release_id == "2004-10-05-release-5" and row.status == PENDING
        assert await store.saved_query(await store.save_query("coal mine")) == "coal mine"
        # What version 1 could not hold now fits, and stays unique.
        result = await ingest(store, [release(URL_ID), release("x" * 1000, 2)])
        assert len(result.new) == 2 and result.deliveries == 2
        assert (await ingest(store, [release(URL_ID)])).unchanged == 1
        assert (await store.get_release(URL_ID)).id == URL_ID
    finally:
        await store.close()
    reopened = await Store.open(f"sqlite:///{path}")  # opening again migrates nothing
    try:
        assert (await reopened.stats())["releases"] == 7
    finally:
        await reopened.close()


def _v1_metadata() -> sa.MetaData:
    """The version-1 tables that changed, as version 1 declared them."""
    md = sa.MetaData()
    sa.Table("meta", md, sa.Column("key", sa.String(64), primary_key=True),
             sa.Column("value", sa.Text, nullable=False))
    sa.Table("releases", md,
             sa.Column("id", sa.String(64), primary_key=True),
             sa.Column("kind", sa.Text, nullable=False),
             sa.Column("title", sa.Text, nullable=False),
             sa.Column("date", sa.Date, nullable=False, index=True),
             sa.Column("place", sa.Text), sa.Column("summary", sa.Text, nullable=False),
             sa.Column("url", sa.Text), sa.Column("topics", sa.Text, nullable=False),
             sa.Column("source", sa.Text), sa.Column("added_at", sa.Float, nullable=False),
             sa.Column("updated_at", sa.Float, nullable=False),
             sa.Column("revision", sa.BigInteger, nullable=False, index=True))
    sa.Table("outbox", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("release_id", sa.String(64), nullable=False),
             sa.Column("chat_id", sa.BigInteger, nullable=False, index=True),
             sa.Column("thread_id", sa.BigInteger, nullable=False),
             sa.Column("topics", sa.Text, nullable=False),
             sa.Column("status", sa.String(16), nullable=False),
             sa.Column("attempts", sa.Integer, nullable=False),
             sa.Column("next_attempt_at", sa.Float, nullable=False),
             sa.Column("last_error", sa.Text), sa.Column("created_at", sa.Float, nullable=False),
             sa.Column("sent_at", sa.Float),
             sa.UniqueConstraint("release_id", "chat_id", "thread_id",
                                 name="uq_outbox_delivery"),
             sa.Index("ix_outbox_due", "status", "next_attempt_at"))
    return md


async def test_version_1_postgresql_database_migrates(postgres_url: str) -> None:
    store = await Store.open(postgres_url)  # the unchanged tables, then roll the rest back
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE releases, outbox"))
        await conn.run_sync(_v1_metadata().create_all)
        await conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
        await conn.execute(sa.text(
            "INSERT INTO releases VALUES ('old-1', 'Press release', 'Coal', '2004-10-01', NULL,"
            " 's', NULL, '[]', 'f', 0, 0, 1)"))
        await conn.execute(sa.text(
            "INSERT INTO outbox (release_id, chat_id, thread_id, topics, status, attempts,"
            " next_attempt_at, created_at) VALUES ('old-1', 5, 0, '[]', 'pending', 0, 0, 0)"))
    await store.close()
    store = await Store.open(postgres_url)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert (await store.get_release("old-1")).title == "Coal"
        [row] = await store.outbox_rows(5)
        assert row.release_id == "old-1"
        long_id = "日本語" * 340
        assert (await ingest(store, [release(long_id)])).deliveries == 1
        assert (await store.get_release(long_id)).id == long_id
    finally:
        await store.close()


# -- a real-looking archive through the CLI and the bot -------------------------------------------

def archive(count: int = 420) -> list[dict[str, Any]]:
    """Releases with the ids publishers use: long slugs, URLs with queries, UUIDs, non-ASCII."""
    kinds = [
        lambda n: (f"ilo-news-{n}-director-general-calls-for-decent-work-and-social-justice-"
                   f"in-global-supply-chains")[:60 + n % 31],
        lambda n: f"https://www.ilo.org/resource/news/item-{n}?lang=en&format=html#section-{n}",
        lambda n: str(uuid.UUID(int=n * 7919 + 1)),
        lambda n: f"communiqué-{n}/Genève/travail décent/日本語",
    ]
    return [{"id": kinds[n % 4](n), "title": f"Archive item {n}: quarrying safety report",
             "date": f"20{10 + n % 14:02d}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
             "summary": f"Number {n} of the archive, on quarrying and safety."}
            for n in range(count)]


def test_archive_with_publisher_ids_imports_and_searches(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "sqlite:///db.sqlite3"\n'
                      f'[sources]\nfiles = []\n'
                      f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    items = archive()
    assert all(60 <= len(i["id"]) <= 90 for i in items[::4])
    path = tmp_path / "archive.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    assert main(["import", str(path), "--config", str(config)]) == 0
    assert f"{len(items)} new, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["import", str(path), "--config", str(config)]) == 0
    assert f"0 new, 0 updated, {len(items)} unchanged" in capsys.readouterr().out
    for n in (0, 1, 2, 3):
        assert main(["search", f'"Archive item {n}:"', "--json", "--limit", "1",
                     "--config", str(config)]) == 0
        [hit] = json.loads(capsys.readouterr().out)
        assert hit["id"] == items[n]["id"]


@pytest.fixture
def publisher_settings(tmp_path: Path, settings: Any) -> Any:
    import dataclasses

    path = tmp_path / "archive.json"
    path.write_text(json.dumps(archive(), ensure_ascii=False), encoding="utf-8")
    return dataclasses.replace(settings, sources=dataclasses.replace(
        settings.sources, files=(path,), poll_seconds=0.3))


@pytest.fixture
async def publisher_bot(emulator: Any, publisher_settings: Any) -> AsyncIterator[BotHarness]:
    from bot.app import build_application, running

    async with running(build_application(publisher_settings)) as services:
        yield BotHarness(emulator, services, publisher_settings, emulator.add_user("Ada"))


async def test_inline_mode_and_alerts_with_publisher_ids(publisher_bot: BotHarness) -> None:
    emu = publisher_bot.emu
    params = await answer(publisher_bot, "quarrying safety")  # the emulator enforces 64 bytes
    results = params["results"]
    assert len(results) == 50 and params["next_offset"] == "50"
    assert all(len(r["id"].encode()) <= 64 for r in results)
    assert len({r["id"] for r in results}) == 50
    more = await answer(publisher_bot, "quarrying safety", offset=params["next_offset"])
    assert not {r["id"] for r in results} & {r["id"] for r in more["results"]}

    [page] = await publisher_bot.ask("/search quarrying")
    [next_page] = await publisher_bot.press(page, page["reply_markup"]["inline_keyboard"][0][0]
                                            ["callback_data"])
    assert "6–10 of" in next_page["text"]

    await publisher_bot.ask("/subscribe marmosets")
    path = publisher_bot.settings.sources.files[0]
    items = json.loads(path.read_text(encoding="utf-8"))
    items.append({"id": URL_ID + "&marmoset=1", "title": "Marmosets at work",
                  "date": "2024-06-01", "summary": "Marmosets and decent work."})
    items.append({"id": NON_ASCII_ID + " ouistitis", "title": "Marmosets in Geneva",
                  "date": "2024-06-02", "summary": "Marmosets again."})
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    chat = publisher_bot.user["id"]
    alerts = await emu.wait_for_messages(chat, 5)
    texts = " ".join(a["text"] for a in alerts[-2:])
    assert "Marmosets at work" in texts and "Marmosets in Geneva" in texts
    rows = await publisher_bot.services.store.outbox_rows(chat)
    assert sorted(r.release_id for r in rows) == sorted(
        [URL_ID + "&marmoset=1", NON_ASCII_ID + " ouistitis"])
