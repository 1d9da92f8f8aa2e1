"""Ingest and the source poller: index kept in step, one broken source never stops the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import SourceSettings
from bot.ingest import Ingestor
from bot.poller import SourcePoller, file_source_name
from bot.releases import Release
from bot.search import SearchIndex
from bot.store import Store, StoreError
from bot.topics import TopicMatcher
from tests.helpers import DATA


def release(n: int) -> Release:
    return Release.from_dict({"title": f"Release {n}", "date": "2005-01-01", "summary": "x"})


@pytest.fixture
async def ingestor(tmp_path: Path) -> Ingestor:
    store = await Store.open(f"sqlite:///{tmp_path / 'i.sqlite3'}")
    yield Ingestor(store, SearchIndex(), TopicMatcher.from_file(DATA / "topics.toml"))
    await store.close()


async def test_own_releases_are_not_indexed_twice(ingestor: Ingestor) -> None:
    await ingestor.ingest([release(n) for n in range(5)], "test", notify=False)
    assert await ingestor.refresh_index() == 0
    other = Ingestor(ingestor.store, SearchIndex(), ingestor.topics)  # as `newsbot import`
    await other.ingest([release(9)], "import", notify=False)
    assert await ingestor.refresh_index() == 1
    assert ingestor.index.get(release(9).id) == release(9)


async def test_a_failing_source_is_recorded_and_the_others_go_on(
        ingestor: Ingestor, tmp_path: Path, monkeypatch) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps([release(1).to_dict()]))
    second.write_text(json.dumps([release(2).to_dict()]))
    poller = SourcePoller(SourceSettings(files=(first, second)), ingestor.store, ingestor)
    real_ingest = ingestor.ingest

    async def flaky(releases, source, **kwargs):
        if source == file_source_name(first):
            raise RuntimeError("database is locked")
        return await real_ingest(releases, source, **kwargs)

    monkeypatch.setattr(ingestor, "ingest", flaky)
    await poller.poll_all()
    state = await ingestor.store.source_state(file_source_name(first))
    assert state is not None and "database is locked" in state.last_error
    assert ingestor.index.get(release(2).id) is not None


async def test_store_errors_hide_the_database_password() -> None:
    with pytest.raises(StoreError) as exc:
        await Store.open("postgresql://bot:s3cretPW@127.0.0.1:1/news")
    assert "s3cretPW" not in str(exc.value) and "***" in str(exc.value)
