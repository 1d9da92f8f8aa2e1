"""The whole bot on PostgreSQL (when NEWSBOT_TEST_POSTGRES_URL names a server; else skipped)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from bot.app import build_application, running
from bot.config import SourceSettings, StorageSettings
from bot.emulator import Emulator
from bot.store import Store, metadata
from tests.conftest import DATA, make_settings

POSTGRES_URL = os.environ.get("NEWSBOT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="no PostgreSQL server: set NEWSBOT_TEST_POSTGRES_URL to run these")


async def test_bot_on_postgres_searches_and_alerts(emulator: Emulator, tmp_path: Path) -> None:
    assert POSTGRES_URL
    store = await Store.open(POSTGRES_URL)
    async with store.engine.begin() as conn:  # a clean slate
        await conn.run_sync(metadata.drop_all)
    await store.close()
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    settings = dataclasses.replace(
        make_settings(tmp_path, emulator.base_url),
        storage=StorageSettings(database=POSTGRES_URL),
        sources=SourceSettings(files=(releases,), poll_seconds=0.3))
    async with running(build_application(settings)):
        user = emulator.add_user("Pat")
        chat = emulator.private_chat(user)
        emulator.send_message(chat, "/search trafiking", from_user=user)
        [answer] = await emulator.wait_for_messages(user["id"], 1)
        assert "Mekong" in answer["text"]
        emulator.send_message(chat, "/subscribe coal", from_user=user)
        await emulator.wait_for_messages(user["id"], 2)
        data = json.loads(releases.read_text())
        data.append({"title": "Coal mine safety week", "date": "2004-11-03",
                     "summary": "Mining accidents fall."})
        releases.write_text(json.dumps(data))
        messages = await emulator.wait_for_messages(user["id"], 3)
        assert "Coal mine safety week" in messages[2]["text"]
