"""The search index snapshot: saved, loaded instead of rebuilt, caught up with the store,
refused when it does not fit, and a bot that answers while the index loads."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, open_services, running
from bot.config import Settings, StorageSettings, load_settings
from bot.handlers import common
from bot.ingest import Ingestor
from bot.releases import Release
from bot.search import SearchIndex, snapshot
from bot.search.keeper import IndexKeeper, snapshot_path
from bot.store import Store
from tests.helpers import make_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.corpus import generate_releases  # noqa: E402
from tests.test_search import drop  # noqa: E402

QUERIES = ("trafficking", "trafiking", "coal mine", '"coal mine"', "child labour since:2004-09",
           "country:china training", "mongolia -football", "place:geneva", "kind:advisory",
           "safety and health", "construction workers before:2010-01-01", "zzqx")


def _release(title: str, day: int = 1) -> Release:
    return Release.from_dict({"title": title, "date": f"2031-01-{day:02d}",
                              "summary": f"{title}, a release stored later.",
                              "url": "https://example.org/r"})


def _answers(index: SearchIndex) -> list[Any]:
    out: list[Any] = [len(index), index.latest(7), index.latest(3, 40)]
    for query in QUERIES:
        out.append(index.search(query, limit=8))
        out.append(index.search(query, limit=3, offset=5))
    return out


# -- the file format --------------------------------------------------------------------------


def test_loaded_snapshot_answers_exactly_like_a_fresh_index(tmp_path: Path) -> None:
    releases = generate_releases(3000, seed=7)
    fresh = SearchIndex(releases)
    drop(fresh, releases[5].id)  # dead slots survive too
    fingerprint = snapshot.analysis_fingerprint()
    path = tmp_path / "index"
    snapshot.save(fresh, path, store_id="store-a", revision=42, fingerprint=fingerprint)
    loaded = snapshot.load(path, store_id="store-a", fingerprint=fingerprint)
    assert loaded is not None and loaded.revision == 42
    assert _answers(loaded.index) == _answers(fresh)
    # And it keeps working as an index: the same additions give the same answers.
    later = [_release("Coal mine safety in Mongolia", 2), replace_title(releases[9], "Renamed")]
    fresh.add_many(later)
    loaded.index.add_many(later)
    assert _answers(loaded.index) == _answers(fresh)


def replace_title(release: Release, title: str) -> Release:
    return dataclasses.replace(release, title=title)


def test_snapshot_of_another_store_or_analyser_is_not_loaded(tmp_path: Path) -> None:
    index = SearchIndex(generate_releases(50, seed=3))
    path = tmp_path / "index"
    snapshot.save(index, path, store_id="a", revision=1, fingerprint="f1")
    assert snapshot.load(path, store_id="b", fingerprint="f1") is None
    assert snapshot.load(path, store_id="a", fingerprint="f2") is None
    assert snapshot.load(tmp_path / "missing", store_id="a", fingerprint="f1") is None
    assert snapshot.load(path, store_id="a", fingerprint="f1") is not None


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_damaged_snapshot_raises_a_snapshot_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "index"
    snapshot.save(SearchIndex(generate_releases(200, seed=3)), path, store_id="a",
                  revision=1, fingerprint="f")
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        del data[len(data) * 2 // 3:]
    elif damage == "garbage":
        data[:] = b"not an index at all" * 10
    else:
        data.clear()
    path.write_bytes(bytes(data))
    with pytest.raises(snapshot.SnapshotError):
        snapshot.load(path, store_id="a", fingerprint="f")


def test_save_replaces_the_file_atomically(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "index"
    snapshot.save(SearchIndex(generate_releases(20, seed=1)), path, store_id="a", revision=1,
                  fingerprint="f")
    before = path.read_bytes()

    def fail(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(snapshot, "_write_attribute", fail)
    with pytest.raises(OSError):
        snapshot.save(SearchIndex(), path, store_id="a", revision=2, fingerprint="f")
    assert path.read_bytes() == before  # the old snapshot is intact
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no temp file left behind


def test_fingerprint_is_stable_between_runs() -> None:
    assert snapshot.analysis_fingerprint() == snapshot.analysis_fingerprint()


def test_snapshot_path_defaults(tmp_path: Path) -> None:
    sqlite = Settings(storage=StorageSettings(database=f"sqlite:///{tmp_path}/n.sqlite3"))
    assert snapshot_path(sqlite) == tmp_path / "n.sqlite3.index"
    memory = Settings(storage=StorageSettings(database="sqlite:///:memory:"))
    assert snapshot_path(memory) is None
    config = tmp_path / "config.toml"
    config.write_text('[storage]\ndatabase = "postgresql://u@h/db"\n'
                      '[search]\nindex_path = "idx/snap"\n')
    settings = load_settings(config, env={})
    assert snapshot_path(settings) == tmp_path / "idx" / "snap"
    pg = dataclasses.replace(settings, index_path=None)
    assert snapshot_path(pg) == tmp_path / "data" / "newsbot.index"


# -- through the running bot --------------------------------------------------------------------


class Counting:
    """Counts the releases indexed with ``SearchIndex.add_many`` (a rebuild adds them all)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.added = 0
        original = SearchIndex.add_many

        def add_many(index: SearchIndex, releases: Any) -> None:
            releases = list(releases)
            # (The analyser's fingerprint indexes a few samples of its own.)
            self.added += len([r for r in releases if r not in snapshot._SAMPLES])
            original(index, releases)

        monkeypatch.setattr(SearchIndex, "add_many", add_many)


async def _run(settings: Settings, emulator: Any, *texts: str) -> list[str]:
    """Start the bot, wait for its index, send ``texts`` and return the answers; stop it."""
    app = build_application(settings)
    answers = []
    async with running(app) as svc:
        await asyncio.wait_for(svc.ingestor.index_ready.wait(), 30)
        user = emulator.add_user("Bea")
        chat = emulator.private_chat(user)
        for text in texts:
            before = len(emulator.sent(chat["id"]))
            emulator.send_message(chat, text, from_user=user)
            await emulator.wait_for_messages(chat["id"], before + 1)
            answers.append(emulator.sent(chat["id"])[-1]["text"])
    return answers


async def _store_more(settings: Settings, releases: list[Release]) -> None:
    """What ``newsbot import`` does while the bot is down."""
    store = await Store.open(settings.storage.database)
    try:
        await store.upsert_releases(releases, "import")
    finally:
        await store.close()


async def test_snapshot_is_written_then_loaded_not_rebuilt(
        tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    path = tmp_path / "test.sqlite3.index"
    caplog.set_level(logging.INFO, logger="bot.search.keeper")
    first = await _run(settings, emulator, "/search coal mine")
    assert path.is_file()
    assert "built from the store" in caplog.text

    # While the bot is down, an import stores a new release.
    await _store_more(settings, [_release("Quarry dust rules for Mongolia")])
    caplog.clear()
    counting = Counting(monkeypatch)
    read: list[str] = []
    page = Store.releases_page

    async def counted_page(store: Store, after: Any, limit: int) -> Any:
        rows = await page(store, after, limit)
        read.extend(release.id for _, release in rows)
        return rows

    monkeypatch.setattr(Store, "releases_page", counted_page)
    second = await _run(settings, emulator, "/search coal mine", "/search quarry dust")
    assert "loaded from its snapshot + 1 stored since" in caplog.text
    assert counting.added == 1  # only the new release was indexed: no rebuild
    assert len(read) == 1  # and only it was read from the store
    assert second[0] == first[0]
    assert "Quarry dust rules for Mongolia" in second[1]


async def test_corrupt_snapshot_is_logged_once_and_rebuilt(
        tmp_path: Path, emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    path = tmp_path / "test.sqlite3.index"
    path.write_bytes(snapshot.MAGIC + b"\x00" * 40)
    caplog.set_level(logging.INFO, logger="bot.search.keeper")
    [answer] = await _run(settings, emulator, "/search coal mine")
    assert "Coal" in answer or "coal" in answer
    unreadable = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(unreadable) == 1 and unreadable[0].levelno == logging.WARNING
    assert "built from the store" in caplog.text
    assert snapshot.load(path, store_id=await _store_id(settings),
                         fingerprint=snapshot.analysis_fingerprint()) is not None


async def _store_id(settings: Settings) -> str:
    store = await Store.open(settings.storage.database)
    try:
        return await store.instance_id()
    finally:
        await store.close()


async def test_snapshot_of_another_store_is_rebuilt(
        tmp_path: Path, emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    one = make_settings(tmp_path / "one", emulator.base_url)
    await _run(one, emulator, "/latest 1")
    # Another store, pointed at the first one's snapshot.
    other = make_settings(tmp_path / "other", emulator.base_url,
                          index_path=tmp_path / "one" / "test.sqlite3.index")
    await _store_more(other, [_release("Only in the other store")])
    caplog.set_level(logging.INFO, logger="bot.search.keeper")
    [answer] = await _run(other, emulator, "/search only in the other store")
    assert "another store" in caplog.text and "built from the store" in caplog.text
    assert "Only in the other store" in answer


async def test_stale_format_snapshot_is_rebuilt(
        tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    await _run(settings, emulator, "/latest 1")
    monkeypatch.setattr(snapshot, "analysis_fingerprint", lambda: "a changed analyser")
    caplog.set_level(logging.INFO, logger="bot.search.keeper")
    await _run(settings, emulator, "/latest 1")
    assert "built from the store" in caplog.text


async def test_bot_answers_while_the_index_is_rebuilt(
        tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    monkeypatch.setattr(common, "INDEX_WAIT_SECONDS", 0.3)
    gate = asyncio.Event()
    original = Ingestor.load_index

    async def slow_load(self: Ingestor, since: int = 0, page: int = 5000) -> int:
        await gate.wait()  # a rebuild of a large archive
        return await original(self, since, page)

    monkeypatch.setattr(Ingestor, "load_index", slow_load)
    app = build_application(settings)
    async with running(app) as svc:
        assert not svc.ingestor.index_ready.is_set()
        user = emulator.add_user("Cy")
        chat = emulator.private_chat(user)

        async def ask(text: str) -> str:
            before = len(emulator.sent(chat["id"]))
            emulator.send_message(chat, text, from_user=user)
            await emulator.wait_for_messages(chat["id"], before + 1)
            return str(emulator.sent(chat["id"])[-1]["text"])

        assert "still loading" in await ask("/search coal mine")
        # /latest needs no index: the store answers it, newest first.
        assert "Latest 2 releases" in await ask("/latest 2")
        assert "still loading" in await ask("/subscribe coal mines")
        # A search that arrives just before the index is ready waits for it.
        monkeypatch.setattr(common, "INDEX_WAIT_SECONDS", 30)
        before = len(emulator.sent(chat["id"]))
        emulator.send_message(chat, "/search coal mine", from_user=user)
        # A span: the search must arrive while the index still loads, and nothing tells
        # that the handler has begun to wait for it.
        await asyncio.sleep(0.2)
        gate.set()
        await emulator.wait_for_messages(chat["id"], before + 1)
        assert "for “coal mine”" in emulator.sent(chat["id"])[-1]["text"]


async def test_refused_token_is_reported_before_any_index_work(
        tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram.error import InvalidToken

    calls: list[int] = []
    monkeypatch.setattr(Ingestor, "load_index", lambda self, *a, **k: calls.append(1))
    settings = make_settings(tmp_path, emulator.base_url)
    settings = dataclasses.replace(settings, telegram=dataclasses.replace(
        settings.telegram, token="999:refused"))
    with pytest.raises(InvalidToken):
        async with running(build_application(settings)):
            pass
    assert calls == []


async def test_newsbot_search_cli_loads_the_snapshot(
        tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path, emulator.base_url)
    await _run(settings, emulator, "/latest 1")
    counting = Counting(monkeypatch)
    svc = await open_services(settings)
    try:
        assert counting.added == 0 and len(svc.index) == 10
    finally:
        await svc.store.close()


async def test_changes_are_saved_periodically_not_per_ingest(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://unused")
    await _store_more(settings, [_release("Stored first")])
    svc = await open_services(settings, load_index=False)
    keeper = IndexKeeper(svc.ingestor, tmp_path / "snap", save_seconds=3600)
    try:
        await keeper.load()
        assert (tmp_path / "snap").is_file()  # a rebuild is saved at once
        written = (tmp_path / "snap").stat().st_mtime_ns
        await svc.ingestor.ingest([_release("One more")], "t", notify=False)
        assert (tmp_path / "snap").stat().st_mtime_ns == written  # not on every ingest
        assert await keeper.save() is True  # the periodic (or shutdown) save writes it
        assert await keeper.save() is False  # nothing changed since
        fresh = snapshot.load(tmp_path / "snap", store_id=await svc.store.instance_id(),
                              fingerprint=snapshot.analysis_fingerprint())
        assert fresh is not None and fresh.index.search("one more").total >= 1
    finally:
        await svc.store.close()


def test_release_dates_survive(tmp_path: Path) -> None:
    release = _release("Dated", 3)
    path = tmp_path / "index"
    snapshot.save(SearchIndex([release]), path, store_id="a", revision=1, fingerprint="f")
    loaded = snapshot.load(path, store_id="a", fingerprint="f")
    assert loaded is not None and loaded.index.get(release.id) == release
    assert loaded.index.get(release.id).date == date(2031, 1, 3)  # type: ignore[union-attr]


def test_big_sections_are_written_in_frames_of_bounded_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Frames were bounded by item count only: the posting lists of common words, or all the
    # packed releases, made one frame of tens of MB (held twice while written and read).
    releases = generate_releases(600, seed=9)
    fresh = SearchIndex(releases)
    monkeypatch.setattr(snapshot, "FRAME_BYTES", 4096)
    monkeypatch.setattr(snapshot, "CHUNK", 64)  # 64 packed blocks, or long lists, are more
    written: list[int] = []
    real = snapshot._write_frame

    def spy(out: Any, value: Any) -> None:
        start = out.tell()
        real(out, value)
        written.append(out.tell() - start)

    monkeypatch.setattr(snapshot, "_write_frame", spy)
    path = tmp_path / "index"
    snapshot.save(fresh, path, store_id="a", revision=1, fingerprint="f")
    # Else 200 KB (64 blocks); the largest frame is the packed releases' dictionary (32 KB).
    assert len(written) > 40 and max(written) < 8 * 4096 + 64
    loaded = snapshot.load(path, store_id="a", fingerprint="f")
    assert loaded is not None and _answers(loaded.index) == _answers(fresh)


def test_every_release_field_survives_including_language_and_group(tmp_path: Path) -> None:
    # Format 1 dropped a release's language and group: a French release came back English
    # (and was then searched, and removed, with English stems).
    french = Release("ilo-2031-7.fr", "Communiqué", "Le travail des enfants", date(2031, 2, 1),
                     "Genève", "Les travailleurs migrants.", "https://example.org/fr",
                     ("child labour",), language="fr", group="ilo-2031-7")
    releases = [*generate_releases(40, seed=5), french]  # the French one in the unpacked tail
    path = tmp_path / "index"
    snapshot.save(SearchIndex(releases), path, store_id="a", revision=1, fingerprint="f")
    loaded = snapshot.load(path, store_id="a", fingerprint="f")
    assert loaded is not None
    assert [loaded.index.get(r.id) for r in releases] == releases
    assert [h.release for h in loaded.index.search("travail lang:fr").hits] == [french]




async def test_releases_ingested_during_the_load_are_searchable_when_it_ends(
        tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release stored after the load read its last page, but before the index was ready."""
    settings = make_settings(tmp_path, emulator.base_url)
    read_all, go_on = asyncio.Event(), asyncio.Event()
    original = Ingestor.load_index

    async def load_then_pause(self: Ingestor, since: int = 0, page: int = 5000) -> int:
        added = await original(self, since, page)
        read_all.set()
        await go_on.wait()
        return added

    monkeypatch.setattr(Ingestor, "load_index", load_then_pause)
    async with running(build_application(settings)) as svc:
        await asyncio.wait_for(read_all.wait(), 30)
        late = _release("Late arrival about dockworkers")
        await svc.ingestor.ingest([late], "test", notify=False)
        assert not svc.ingestor.index_ready.is_set()
        go_on.set()
        await asyncio.wait_for(svc.ingestor.index_ready.wait(), 30)
        # Ready means complete: no later catch-up is needed to find it.
        assert svc.index.get(late.id) == late
        assert svc.index.search("dockworkers").total == 1

