"""End to end: subscribers get each new release once — from files, from feeds, after a crash."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import build_application, running
from bot.config import SourceSettings
from bot.emulator import Emulator
from tests.helpers import DATA, ROOT, TOKEN, BotHarness, eventually, make_settings, quiet

NEW_TRAFFICKING = {"title": "New survey on child trafficking in the Mekong region",
                   "date": "2004-11-02", "summary": "Traffickers target migrant children.",
                   "place": "Bangkok"}
NEW_MINING = {"title": "Coal mine safety week in Hunan", "date": "2004-11-03",
              "summary": "Mining accidents fall after ILO training."}


def append_release(path: Path, release: dict[str, Any]) -> None:
    data = json.loads(path.read_text())
    data.append(release)
    path.write_text(json.dumps(data))


async def stored(bot: BotHarness, title: str) -> None:
    """Wait until the poller ingested the release with this title."""
    await eventually(lambda: any(r.title == title for r in bot.services.index.latest(50)),
                     what=f"{title!r} stored")


@pytest.fixture
async def alerts_bot(emulator: Emulator, tmp_path: Path,
                     releases_file: Path) -> AsyncIterator[BotHarness]:
    settings = make_settings(tmp_path, emulator.base_url)
    settings = dataclasses.replace(settings, sources=SourceSettings(
        files=(releases_file,), poll_seconds=0.3))
    app = build_application(settings)
    async with running(app) as services:
        yield BotHarness(emulator, services, settings, emulator.add_user("Ada"), app)


async def test_file_release_reaches_matching_chats_once(alerts_bot: BotHarness,
                                                        releases_file: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe trafficking")
    await alerts_bot.ask("/subscribe mekong")  # same chat, second matching topic
    admin = emu.add_user("Grace")
    group = emu.add_group("Miners", members={admin["id"]: "administrator",
                                             user["id"]: "member"})
    await alerts_bot.ask("/subscribe mining", chat=group, from_user=admin)
    channel = emu.add_channel("Wire", username="wire", admins=[emu.bot["id"]])
    await alerts_bot.ask("/subscribe", chat=channel)
    bystander = emu.add_user("Nobody")
    await alerts_bot.ask("/subscribe xyzzy", chat=emu.private_chat(bystander),
                         from_user=bystander)
    before = {c: len(emu.sent(c)) for c in (user["id"], group["id"], channel["id"],
                                           bystander["id"])}

    append_release(releases_file, NEW_TRAFFICKING)
    [alert] = (await emu.wait_for_messages(user["id"], before[user["id"]] + 1))[-1:]
    await emu.wait_for_messages(channel["id"], before[channel["id"]] + 1)
    await quiet(alerts_bot)
    assert len(emu.sent(user["id"])) == before[user["id"]] + 1  # once, for both topics
    assert NEW_TRAFFICKING["title"] in alert["text"]
    assert "trafficking" in alert["text"].split("Alert:")[1]
    assert "mekong" in alert["text"].split("Alert:")[1]
    assert len(emu.sent(group["id"])) == before[group["id"]]  # mining: no match
    assert len(emu.sent(bystander["id"])) == before[bystander["id"]]
    assert len(emu.sent(channel["id"])) == before[channel["id"]] + 1

    append_release(releases_file, NEW_MINING)
    await emu.wait_for_messages(group["id"], before[group["id"]] + 1)
    await emu.wait_for_messages(channel["id"], before[channel["id"]] + 2)
    await quiet(alerts_bot)
    assert len(emu.sent(group["id"])) == before[group["id"]] + 1
    assert len(emu.sent(user["id"])) == before[user["id"]] + 1
    assert len(emu.sent(channel["id"])) == before[channel["id"]] + 2


async def test_changed_release_is_not_pushed_again(alerts_bot: BotHarness,
                                                   releases_file: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe")
    append_release(releases_file, NEW_MINING)
    await emu.wait_for_messages(user["id"], 2)
    data = json.loads(releases_file.read_text())
    data[-1]["summary"] = "Corrected summary."
    data[0]["summary"] += " (updated)"
    releases_file.write_text(json.dumps(data))
    await emu.wait_for(lambda: any("Corrected" in r.summary for r in
                                   alerts_bot.services.index.latest(1)))
    await quiet(alerts_bot)
    assert len(emu.sent(user["id"])) == 2


async def test_blocking_the_bot_ends_subscriptions(alerts_bot: BotHarness,
                                                   releases_file: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe")
    emu.block_bot(user)  # Telegram tells the bot with a my_chat_member update
    store = alerts_bot.services.store

    async def ended() -> bool:
        return not await store.subscriptions(user["id"])

    await eventually(ended)
    append_release(releases_file, NEW_MINING)
    await stored(alerts_bot, NEW_MINING["title"])
    await quiet(alerts_bot)
    assert len(emu.sent(user["id"])) == 1 and await store.outbox_rows(user["id"]) == []


async def test_403_on_delivery_ends_the_chat(alerts_bot: BotHarness,
                                             releases_file: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe")
    emu.faults.add("sendMessage", chat_id=user["id"], error=403,
                   description="Forbidden: bot was blocked by the user")
    append_release(releases_file, NEW_MINING)
    store = alerts_bot.services.store

    async def ended() -> bool:
        rows = await store.outbox_rows(user["id"])
        return bool(rows) and rows[0].status == "ended"

    await eventually(ended)
    assert await store.subscriptions(user["id"]) == []


async def test_broken_file_is_reported_and_nothing_lost(alerts_bot: BotHarness,
                                                        releases_file: Path) -> None:
    releases_file.write_text("[{ this is not json")
    store = alerts_bot.services.store

    async def errored() -> bool:
        state = await store.source_state(f"file:{releases_file}")
        return bool(state and state.last_error)

    await eventually(errored)
    assert (await store.stats())["releases"] == 10
    [answer] = await alerts_bot.ask("/latest 1")
    assert "Experts assess progress" in answer["text"]


# -- feeds ----------------------------------------------------------------------------------

def rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{t}</title><link>https://example.org/{g}</link><guid>{g}</guid>"
        f"<pubDate>Tue, 02 Nov 2004 10:00:00 GMT</pubDate><description>About {t}"
        f"</description></item>" for t, g in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>ILO</title>'
            f"<link>https://example.org/</link><description>news</description>{entries}"
            f"</channel></rss>")


async def test_feed_release_reaches_subscriber(emulator: Emulator, tmp_path: Path,
                                               releases_file: Path) -> None:
    items = [("Old archive item about trafficking", "old-1")]
    hits: list[str | None] = []

    async def feed(request: web.Request) -> web.Response:
        hits.append(request.headers.get("If-None-Match"))
        body = rss(items)
        etag = f'"{len(items)}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        return web.Response(text=body, content_type="application/rss+xml",
                            headers={"ETag": etag})

    server = web.Application()
    server.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = dataclasses.replace(
        make_settings(tmp_path, emulator.base_url),
        sources=SourceSettings(files=(releases_file,),
                               feeds=(f"http://127.0.0.1:{port}/feed.xml",), poll_seconds=0.3))
    try:
        async with running(build_application(settings)) as services:
            user = emulator.add_user("Feedy")
            harness = BotHarness(emulator, services, settings, user)
            [reply] = await harness.ask("/subscribe trafficking")
            assert "3 of the 11" in reply["text"]  # the archive item was stored silently
            items.append(("Fresh report on human trafficking", "new-2"))
            await emulator.wait_for_messages(user["id"], 2)
            await quiet(harness)
            alerts = emulator.sent(user["id"])[1:]
            assert len(alerts) == 1 and "Fresh report" in alerts[0]["text"]
            assert '"1"' in hits  # conditional requests were made
    finally:
        await runner.cleanup()


# -- crash in the middle of a fan-out -------------------------------------------------------

async def test_sigkill_during_fanout_loses_nothing(emulator: Emulator, tmp_path: Path,
                                                   releases_file: Path) -> None:
    """Kill -9 the bot while it sends to many chats; after a restart every chat has the alert,
    and at most the messages in flight at the kill arrive twice."""
    config = tmp_path / "run.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{emulator.base_url}"\n'
        f'poll_timeout = 1\n[storage]\ndatabase = "sqlite:///bot.sqlite3"\n'
        f'[sources]\nfiles = ["{releases_file}"]\npoll_seconds = 0.3\n'
        f'[delivery]\nmessages_per_second = 8\ninterval_seconds = 0.2\n'
        f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            cwd=str(ROOT), env=os.environ.copy())

    users = [emulator.add_user(f"U{n}") for n in range(40)]
    proc = await start()
    try:
        for user in users:
            emulator.send_message(emulator.private_chat(user), "/subscribe coal",
                                  from_user=user)
        for user in users:
            await emulator.wait_for_messages(user["id"], 1, timeout=60)
        append_release(releases_file, NEW_MINING)

        def alerted() -> int:
            return sum(1 for u in users if len(emulator.sent(u["id"])) > 1)

        await emulator.wait_for(lambda: alerted() >= 10, timeout=60)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert alerted() < len(users), "the fan-out finished before the kill"
        proc = await start()
        await emulator.wait_for(lambda: alerted() == len(users), timeout=90)
        # A span: the bot runs in another process, whose delivery loop the test cannot ask;
        # a second is many of its passes (interval 0.2 s).
        await asyncio.sleep(1.0)
        twice = [u for u in users if len(emulator.sent(u["id"])) > 2]
        assert len(twice) <= 1, twice
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0


async def test_group_migration_moves_subscriptions(alerts_bot: BotHarness,
                                                   releases_file: Path) -> None:
    emu = alerts_bot.emu
    admin = emu.add_user("Lin")
    group = emu.add_group("Coal team", members={admin["id"]: "creator"})
    await alerts_bot.ask("/subscribe coal", chat=group, from_user=admin)
    new_id = emu.migrate_group(group["id"])
    store = alerts_bot.services.store

    async def moved() -> bool:
        return [s.topic for s in await store.subscriptions(new_id)] == ["coal"]

    await eventually(moved)
    append_release(releases_file, NEW_MINING)
    [alert] = await emu.wait_for_messages(new_id, 1)
    assert NEW_MINING["title"] in alert["text"]


async def test_5xx_and_timeouts_are_retried_until_sent(alerts_bot: BotHarness,
                                                       releases_file: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe")
    emu.faults.add("sendMessage", chat_id=user["id"], error=502, times=2)
    append_release(releases_file, NEW_MINING)
    await emu.wait_for_messages(user["id"], 2)
    await quiet(alerts_bot)
    assert len(emu.sent(user["id"])) == 2
    [row] = await alerts_bot.services.store.outbox_rows(user["id"])
    assert row.status == "sent" and row.attempts == 3


async def test_429_is_honoured(alerts_bot: BotHarness, releases_file: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe")
    emu.faults.add("sendMessage", chat_id=user["id"], error=429, retry_after=1)
    append_release(releases_file, NEW_MINING)
    await emu.wait_for_messages(user["id"], 2)
    await quiet(alerts_bot)
    assert len(emu.sent(user["id"])) == 2
    assert emu.count_429 == 1


async def test_second_process_on_same_store_refuses_to_start(alerts_bot: BotHarness,
                                                             tmp_path: Path) -> None:
    database = alerts_bot.settings.storage.database
    config = tmp_path / "second.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{alerts_bot.emu.base_url}"\n'
        f'[storage]\ndatabase = "{database}"\n[sources]\nfiles = []\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT))
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "already delivering from this database" in err.decode()


async def test_two_pollers_with_one_token_are_reported(emulator: Emulator, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    first = make_settings(tmp_path / "a", emulator.base_url)
    second = make_settings(tmp_path / "b", emulator.base_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with running(build_application(first)), running(build_application(second)):
        await emulator.wait_for(lambda: any(r.status == 409 for r in emulator.requests),
                                timeout=15)
        await eventually(lambda: "another process is polling" in caplog.text,
                         what="the 409 reported in the log")
    assert "another process is polling with this bot token" in caplog.text


async def test_newsbot_import_while_running_alerts_and_is_searchable(
        alerts_bot: BotHarness, tmp_path: Path) -> None:
    emu, user = alerts_bot.emu, alerts_bot.user
    await alerts_bot.ask("/subscribe coal")
    config = tmp_path / "import.toml"
    config.write_text(f'[storage]\ndatabase = "{alerts_bot.settings.storage.database}"\n'
                      f'[sources]\nfiles = []\n[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps(NEW_MINING) + "\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "import", str(extra), "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "1 new, 0 updated, 0 unchanged; 1 alerts queued" in out.decode()
    [alert] = (await emu.wait_for_messages(user["id"], 2))[1:]
    assert NEW_MINING["title"] in alert["text"]
    # The alert may go out before the next poll refreshes the index (both follow the store).
    index = alerts_bot.services.index
    await emu.wait_for(lambda: any(NEW_MINING["title"] == r.title for r in index.latest(3)))
    [answer] = await alerts_bot.ask("/search coal mine safety week")
    assert NEW_MINING["title"] in answer["text"]
