"""When the database fails: nothing lost, nothing repeated, honest replies (issue 7, part 3).

Each case goes through the running bot and the emulator where a person would meet it:
a read-only spell, a full disk, the send whose bookkeeping fails, the file deleted or
replaced under the bot (and ``newsbot run`` stopping with one line).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

import bot.store.engine as store_engine
from bot.cli import main
from bot.store import SENT, Store, StoreGone, StoreUnavailable
from tests import test_e2e_alerts
from tests.helpers import DATA, ROOT, TOKEN, BotHarness, eventually, quiet
from tests.storefaults import StoreFaults
from tests.test_e2e_alerts import NEW_MINING, NEW_TRAFFICKING, append_release

#: The bot polling a release file of its own (fixtures shared with the alert tests).
alerts_bot = test_e2e_alerts.alerts_bot

NOT_SAVED = "could not save that"


# -- a send whose bookkeeping fails is never repeated -----------------------------------------

async def test_alert_whose_marking_fails_is_sent_once_and_marked_later(
        alerts_bot: BotHarness, releases_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    emu, chat = alerts_bot.emu, alerts_bot.user["id"]
    store = alerts_bot.services.store
    await alerts_bot.ask("/subscribe mining")
    faults = StoreFaults(store)
    # mark_sent fails; ingest and the claim of the row (an UPDATE of its lease) work
    faults.fail_writes_to = "UPDATE outbox SET status"
    append_release(releases_file, NEW_MINING)
    await emu.wait_for_messages(chat, 2)
    await eventually(lambda: faults.failures >= 3, what="several failed marking attempts")
    # Not quiet(): the deliverer is not idle while a sent row waits to be marked. Three more
    # passes try to mark it, none sends it again.
    tried = faults.failures
    await eventually(lambda: faults.failures >= tried + 3, what="three more marking attempts")
    assert len(emu.sent(chat)) == 2  # the alert went once, not once per pass
    [row] = await store.outbox_rows(chat)
    assert row.status != SENT
    faults.fail_writes_to = None  # the store works again: the row is marked, not resent

    async def marked() -> bool:
        return (await store.outbox_rows(chat))[0].status == SENT
    await eventually(marked, what="the sent row to be marked")
    await quiet(alerts_bot)
    assert len(emu.sent(chat)) == 2
    paused = [r for r in caplog.records if "delivery paused" in r.getMessage()]
    assert len(paused) == 1 and not any(r.exc_info for r in paused)


# -- a read-only spell: honest replies, then recovery without a restart --------------------------

async def test_read_only_spell_is_survived_without_restart(
        alerts_bot: BotHarness, releases_file: Path) -> None:
    emu, chat = alerts_bot.emu, alerts_bot.user["id"]
    store = alerts_bot.services.store
    await alerts_bot.ask("/subscribe mining")
    faults = StoreFaults(store)
    faults.read_only = True
    [reply] = await alerts_bot.ask("/subscribe trafficking")
    assert NOT_SAVED in reply["text"] and "✅" not in reply["text"]
    assert [s.topic for s in await store.subscriptions(chat)] == ["mining"]
    [listing] = await alerts_bot.ask("/subscriptions")  # reads still work
    assert "mining" in listing["text"]
    append_release(releases_file, NEW_MINING)  # cannot be stored yet: polled again later
    # A span: the spell lasts a second, so polls (every 0.3 s) meet it and fail to store.
    await asyncio.sleep(1.0)
    faults.read_only = False
    # Connections used during the spell stayed read-only; the first command after must work.
    [reply] = await alerts_bot.ask("/subscribe trafficking")
    assert reply["text"].startswith("✅ Subscribed")
    [alert] = (await emu.wait_for_messages(chat, 5))[-1:]
    assert NEW_MINING["title"] in alert["text"]
    append_release(releases_file, NEW_TRAFFICKING)
    [alert] = (await emu.wait_for_messages(chat, 6))[-1:]
    assert NEW_TRAFFICKING["title"] in alert["text"]
    await quiet(alerts_bot)
    assert len(emu.sent(chat)) == 6


async def test_connection_left_read_only_is_replaced_after_one_failure(tmp_path: Path) -> None:
    """Even unnoticed at checkout, a read-only connection is dropped once it fails."""
    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        async with store.engine.connect() as conn:  # the pool's one idle connection
            raw = await conn.get_raw_connection()
            cursor = raw.driver_connection  # aiosqlite
            await cursor.execute("PRAGMA query_only=ON")
        with pytest.raises(StoreUnavailable, match="readonly"):
            for n in range(10):  # until the read-only one is checked out
                await store.add_subscription(1, 0, f"t{n}")
        assert await store.add_subscription(1, 0, "after")
    finally:
        await store.close()


# -- a full disk ---------------------------------------------------------------------------------

async def test_disk_full_gets_an_honest_reply_and_nothing_half_written(
        alerts_bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    chat = alerts_bot.user["id"]
    store = alerts_bot.services.store
    faults = StoreFaults(store)
    faults.disk_full = True
    [reply] = await alerts_bot.ask("/subscribe mining")
    assert NOT_SAVED in reply["text"]
    [latest] = await alerts_bot.ask("/latest 2")  # what needs no writing still works
    assert "Latest 2 releases" in latest["text"]
    [search] = await alerts_bot.ask("/search labour")
    assert "of" in search["text"]
    assert await store.subscriptions(chat) == []
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    assert any("database or disk is full" in r.getMessage() for r in caplog.records)
    faults.disk_full = False
    [reply] = await alerts_bot.ask("/subscribe mining")
    assert reply["text"].startswith("✅ Subscribed")


def test_import_on_a_full_disk_is_one_line_and_stores_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "sqlite:///db.sqlite3"\n[sources]\nfiles = []\n'
                      f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    opened = Store.open

    async def full(url: str) -> Store:
        store = await opened(url)
        StoreFaults(store).disk_full = True
        return store

    monkeypatch.setattr(Store, "open", full)
    assert main(["import", str(DATA / "releases.json"), "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsbot: error:") and "database or disk is full" in err
    assert len(err.splitlines()) == 1
    monkeypatch.setattr(Store, "open", opened)
    assert main(["search", "labour", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == []  # the configured files are none


# -- the file deleted or replaced under the running bot ---------------------------------------

def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_database_file_gone_stops_the_bot_and_confirms_nothing(
        newsbot: BotHarness, tmp_path: Path, how: str) -> None:
    path = tmp_path / "test.sqlite3"
    await newsbot.ask("/subscribe mining")
    if how == "deleted":
        _remove_database(path)
    else:
        shutil.copy(path, tmp_path / "backup.sqlite3")
        os.replace(tmp_path / "backup.sqlite3", path)
    [reply] = await newsbot.ask("/subscribe trafficking")
    assert NOT_SAVED in reply["text"] and "✅" not in reply["text"]
    fatal = newsbot.services.fatal
    await asyncio.wait_for(fatal.wait(), 10)
    gone = newsbot.services.store.gone
    assert gone is not None and str(path) in gone and how in gone
    assert path.exists() == (how == "replaced")  # no fresh empty file was created
    with pytest.raises(StoreGone):
        await newsbot.services.store.add_subscription(1, 0, "x")


async def test_newsbot_run_stops_with_one_line_when_the_database_is_deleted(
        emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "run.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{emulator.base_url}"\n'
        f'poll_timeout = 1\n[storage]\ndatabase = "sqlite:///bot.sqlite3"\n'
        f'[sources]\nfiles = ["{DATA / "releases.json"}"]\n'
        f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT), env=os.environ.copy())
    try:
        user = emulator.add_user("Ada")
        emulator.send_message(emulator.private_chat(user), "/subscribe mining", from_user=user)
        await emulator.wait_for_messages(user["id"], 1, timeout=60)
        _remove_database(tmp_path / "bot.sqlite3")
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = stderr.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines()
              if "bot.sqlite3" in line and ("error" in line or "ERROR" in line)]
    assert len(errors) == 1 and errors[0].startswith("newsbot: error: the database file")
    assert "was deleted" in errors[0]
    assert not (tmp_path / "bot.sqlite3").exists()


async def test_connection_opened_read_only_is_replaced_once_writable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite opens a file it may not write read-only, for good: such a connection is
    replaced at its next checkout once the file is writable again (before any failure)."""
    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    opened: list[bool] = []
    event.listen(store.engine.sync_engine.pool, "connect",
                 lambda _c, record: opened.append(record.info["read_only"]))
    try:
        await store.engine.dispose()
        monkeypatch.setattr(store_engine, "_writable", lambda _path: False)
        await store.subscriptions(1)  # a connection opened while "read-only"
        monkeypatch.setattr(store_engine, "_writable", lambda _path: True)
        assert await store.add_subscription(1, 0, "after")
        assert opened == [True, False]
    finally:
        await store.close()
