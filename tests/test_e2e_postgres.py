"""The whole bot on PostgreSQL (a fresh database per test, see ``tests/pg.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from pathlib import Path

from bot.app import build_application, running
from bot.config import SourceSettings, StorageSettings
from bot.emulator import Emulator
from tests.helpers import DATA, make_settings


async def test_bot_on_postgres_searches_and_alerts(emulator: Emulator, tmp_path: Path,
                                                   postgres_url: str) -> None:
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    settings = dataclasses.replace(
        make_settings(tmp_path, emulator.base_url),
        storage=StorageSettings(database=postgres_url),
        sources=SourceSettings(files=(releases,), poll_seconds=0.3),
        index_path=tmp_path / "newsbot.index")  # not the default, in the checkout's data/
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


async def test_two_bots_started_together_on_a_new_database_both_run(
        emulator: Emulator, tmp_path: Path, postgres_url: str) -> None:
    """Two processes started at once on an empty database (a fresh deployment): the schema
    is created once, the second waits for it instead of failing on a duplicate table."""
    apps = [build_application(dataclasses.replace(
        make_settings(tmp_path / name, emulator.base_url),
        storage=StorageSettings(database=postgres_url),
        index_path=tmp_path / f"{name}.index")) for name in ("a", "b")]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.gather(*(stack.enter_async_context(running(app)) for app in apps))
        user = emulator.add_user("Pat")
        emulator.send_message(emulator.private_chat(user), "/latest 1", from_user=user)
        [answer] = await emulator.wait_for_messages(user["id"], 1)
        assert "Latest release" in answer["text"]
