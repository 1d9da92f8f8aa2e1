"""The bot behind its HTTP listener: webhook mode, /healthz, /metrics, and polling with listen."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_application, running
from bot.config import ConfigError, ServerSettings, Settings, SourceSettings
from bot.emulator import Emulator
from bot.server import SECRET_HEADER, HttpServer
from tests.helpers import DATA, TOKEN, BotHarness, eventually, make_settings
from tests.storefaults import StoreFaults

PUBLIC = "https://bot.example.org/"
HOOK_URL = PUBLIC + "telegram/hook"
SECRET = "s3cret_token-for-tests"


def webhook_settings(tmp_path: Path, emulator: Emulator, **changes: Any) -> Settings:
    settings = make_settings(tmp_path, emulator.base_url, **changes)
    telegram = dataclasses.replace(settings.telegram, webhook_url=HOOK_URL,
                                   webhook_secret=SECRET)
    return dataclasses.replace(settings, telegram=telegram,
                               server=ServerSettings(listen=("127.0.0.1", 0)))


def server_of(bot: BotHarness) -> HttpServer:
    return bot.services.extra["http"]  # type: ignore[no-any-return]


def local(bot: BotHarness, path: str) -> str:
    return f"http://127.0.0.1:{server_of(bot).port}{path}"


@pytest.fixture
async def hooked(emulator: Emulator, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot in webhook mode, the emulator routing its public URL to the local listener."""
    settings = webhook_settings(tmp_path, emulator)
    async with running(build_application(settings)) as services:
        bot = BotHarness(emulator, services, settings, emulator.add_user("Ada", username="ada"))
        emulator.route_webhook(PUBLIC, f"http://127.0.0.1:{server_of(bot).port}/")
        yield bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def webhook_info(emu: Emulator) -> dict[str, Any]:
    """getWebhookInfo as the bot would call it."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{emu.base_url}{TOKEN}/getWebhookInfo") as response:
        return (await response.json())["result"]  # type: ignore[no-any-return]


def search_update(bot: BotHarness, update_id: int, text: str) -> dict[str, Any]:
    """A raw Update as Telegram would push it: the user asking in their private chat."""
    return {"update_id": update_id, "message": {
        "message_id": 9000 + update_id, "date": 1_700_000_000, "text": text,
        "chat": bot.chat, "from": bot.user,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}}


async def test_webhook_mode_answers_pushed_updates(hooked: BotHarness) -> None:
    emu = hooked.emu
    [answer] = await hooked.ask("/search trafficking")
    assert "trafficking" in answer["text"].lower()
    [set_hook] = [r for r in emu.requests if r.method == "setWebhook"]
    assert set_hook.params["url"] == HOOK_URL and set_hook.params["secret_token"] == SECRET
    assert "callback_query" in set_hook.params["allowed_updates"]
    assert not [r for r in emu.requests if r.method == "getUpdates"]  # no long polling
    assert emu.webhook_pushes and all(p.status == 200 for p in emu.webhook_pushes)
    info = await webhook_info(emu)
    assert info["url"] == HOOK_URL and info["pending_update_count"] == 0


async def test_buttons_work_through_the_webhook(hooked: BotHarness) -> None:
    [page] = await hooked.ask("/search safety and health")
    [button] = page["reply_markup"]["inline_keyboard"][0]
    [more] = await hooked.press(page, button["callback_data"])
    assert "of" in more["text"]


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"},
                                     {SECRET_HEADER: SECRET + "x"}])
async def test_wrong_or_missing_secret_is_refused_and_not_processed(
        hooked: BotHarness, http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    url = local(hooked, "/telegram/hook")
    async with http.post(url, json=search_update(hooked, 777, "/latest 1"),
                         headers=headers) as response:
        assert response.status == 403
    # A genuine update afterwards is answered; the forged one never was.
    [answer] = await hooked.ask("/search mining")
    assert "Latest" not in answer["text"]
    assert len(hooked.emu.sent(hooked.chat["id"])) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"message": {}}', b"",
                                  b'{"update_id": 5, "message": {"chat": 3}}'])
async def test_malformed_update_is_400_not_a_traceback(
        hooked: BotHarness, http: aiohttp.ClientSession, body: bytes) -> None:
    async with http.post(local(hooked, "/telegram/hook"), data=body,
                         headers={SECRET_HEADER: SECRET}) as response:
        assert response.status == 400
        assert (await response.json())["ok"] is False
    [answer] = await hooked.ask("/latest 1")  # the bot goes on
    assert "Latest" in answer["text"]


async def test_update_with_the_right_secret_is_processed(
        hooked: BotHarness, http: aiohttp.ClientSession) -> None:
    async with http.post(local(hooked, "/telegram/hook"),
                         json=search_update(hooked, 778, "/latest 1"),
                         headers={SECRET_HEADER: SECRET}) as response:
        assert response.status == 200
    [answer] = await hooked.emu.wait_for_messages(hooked.chat["id"], 1)
    assert "Latest" in answer["text"]


async def test_bot_down_then_up_gets_the_update_again(hooked: BotHarness,
                                                      emulator: Emulator) -> None:
    """The emulator retries a push the bot could not take (here: no route yet)."""
    emulator.route_webhook(PUBLIC, "http://127.0.0.1:9/")  # nothing listens there
    emulator.send_message(hooked.chat, "/latest 1", from_user=hooked.user)
    await emulator.wait_for(lambda: bool(emulator.primary.webhook_last_error))
    info = await webhook_info(emulator)
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Connection refused"
    emulator.route_webhook(PUBLIC, f"http://127.0.0.1:{server_of(hooked).port}/")
    [answer] = await emulator.wait_for_messages(hooked.chat["id"], 1)
    assert "Latest" in answer["text"]


# -- health -----------------------------------------------------------------------------------

async def test_healthz_ok_then_unavailable_when_the_store_breaks(
        emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    settings = webhook_settings(tmp_path, emulator)
    async with running(build_application(settings)) as services:
        url = f"http://127.0.0.1:{services.extra['http'].port}/healthz"
        async with http.get(url) as response:
            assert response.status == 200
            body = await response.json()
            assert body["status"] == "ok" and body["mode"] == "webhook"
        # The disk stops answering for a while, then comes back: 503 meanwhile, then 200.
        faults = StoreFaults(services.store)
        faults.io_error = True
        async with http.get(url) as response:
            assert response.status == 503
            body = await response.json()
            assert body["status"] == "unavailable" and "disk I/O error" in body["error"]
        faults.io_error = False
        async with http.get(url) as response:
            assert response.status == 200
        # The database file deleted under the bot: unavailable for good (the bot stops).
        os.remove(tmp_path / "test.sqlite3")
        async with http.get(url) as response:
            assert response.status == 503
            assert "was deleted" in (await response.json())["error"]


async def test_healthz_unavailable_when_the_store_hangs(
        hooked: BotHarness, http: aiohttp.ClientSession, monkeypatch) -> None:
    import asyncio

    async def hang() -> None:
        await asyncio.sleep(30)

    server_of(hooked).store_timeout = 0.2
    monkeypatch.setattr(hooked.services.store, "ping", hang)
    async with http.get(local(hooked, "/healthz")) as response:
        assert response.status == 503
        assert "did not answer within 0.2 s" in (await response.json())["error"]


# -- metrics ----------------------------------------------------------------------------------

def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_count_traffic(emulator: Emulator, tmp_path: Path,
                                     http: aiohttp.ClientSession) -> None:
    releases = tmp_path / "releases.json"
    releases.write_text((DATA / "releases.json").read_text())
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    settings = webhook_settings(tmp_path, emulator)
    settings = dataclasses.replace(settings, sources=SourceSettings(
        files=(releases, broken), poll_seconds=0.3))
    async with running(build_application(settings)) as services:
        bot = BotHarness(emulator, services, settings, emulator.add_user("Ada"))
        emulator.route_webhook(PUBLIC, f"http://127.0.0.1:{server_of(bot).port}/")
        await bot.ask("/search trafficking")
        await bot.ask("/subscribe mining")
        emulator.faults.add("sendMessage", chat_id=bot.chat["id"], retry_after=1)
        data = json.loads(releases.read_text())
        data.append({"title": "Coal mine safety week in Hunan", "date": "2004-11-03",
                     "summary": "Mining accidents fall after ILO training."})
        releases.write_text(json.dumps(data))
        [alert] = (await emulator.wait_for_messages(bot.chat["id"], 3))[2:]
        assert "Coal mine" in alert["text"]
        # The emulator shows the alert before the bot has its answer and books it: wait.
        async def booked() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            async with http.get(local(bot, "/metrics")) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                metrics = parse_metrics(await response.text())
            return metrics if metrics[("newsbot_outbox_pending", ())] == 0 else None

        metrics = await eventually(booked, timeout=5, what="the alert booked as sent")

    assert metrics[("newsbot_updates_total", (("type", "message"),))] >= 2
    assert metrics[("newsbot_replies_sent_total", ())] >= 2
    assert metrics[("newsbot_alerts_sent_total", ())] == 1
    assert metrics[("newsbot_telegram_429_total", ())] == 1
    assert metrics[("newsbot_source_errors_total", (("source", f"file:{broken}"),))] >= 1
    assert metrics[("newsbot_search_seconds_count", ())] == 1
    assert metrics[("newsbot_outbox_pending", ())] == 0
    assert metrics[("newsbot_outbox_oldest_pending_seconds", ())] == 0
    assert metrics[("newsbot_messages_sent_last_minute", ())] >= 3
    assert metrics[("newsbot_store_up", ())] == 1
    assert metrics[("newsbot_bot_api_requests_total",
                    (("method", "setWebhook"), ("status", "200")))] == 1


async def test_metrics_show_the_outbox_backlog(hooked: BotHarness,
                                               http: aiohttp.ClientSession) -> None:
    store = hooked.services.store
    await hooked.ask("/subscribe")
    hooked.emu.faults.add("sendMessage", chat_id=hooked.chat["id"], error=500, times=1000)
    await hooked.services.ingestor.ingest(
        [_release("Backlog test release")], "test", notify=True)
    await hooked.emu.wait_for(lambda: bool(hooked.emu.faults.fired))
    pending, oldest = await store.outbox_backlog()
    assert pending == 1 and oldest is not None
    async with http.get(local(hooked, "/metrics")) as response:
        metrics = parse_metrics(await response.text())
    assert metrics[("newsbot_outbox_pending", ())] == 1
    assert metrics[("newsbot_outbox_oldest_pending_seconds", ())] >= 0


def _release(title: str) -> Any:
    from bot.releases import Release

    return Release.from_dict({"title": title, "date": "2004-12-01", "summary": "x"})


async def test_each_bot_has_its_own_registry(emulator: Emulator, tmp_path: Path) -> None:

    one = build_application(make_settings(tmp_path, emulator.base_url))
    two = build_application(make_settings(tmp_path, emulator.base_url))
    assert one.bot_data.metrics.registry is not two.bot_data.metrics.registry


# -- polling with a listener, and configuration -----------------------------------------------

async def test_polling_mode_with_listen_serves_health_and_metrics(
        emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    settings = dataclasses.replace(make_settings(tmp_path, emulator.base_url),
                                   server=ServerSettings(listen=("127.0.0.1", 0)))
    async with running(build_application(settings)) as services:
        bot = BotHarness(emulator, services, settings, emulator.add_user("Bo"))
        [answer] = await bot.ask("/latest 1")
        assert "Latest" in answer["text"]
        assert any(r.method == "getUpdates" for r in emulator.requests)
        assert not any(r.method == "setWebhook" for r in emulator.requests)
        async with http.get(local(bot, "/healthz")) as response:
            assert response.status == 200 and (await response.json())["mode"] == "polling"
        async with http.get(local(bot, "/metrics")) as response:
            text = await response.text()
            assert 'newsbot_updates_total{type="message"} 1.0' in text
        async with http.post(local(bot, "/telegram/hook"), json={}) as response:
            assert response.status in {404, 405}  # no webhook in polling mode


async def test_webhook_without_listener_is_a_config_error(emulator: Emulator,
                                                          tmp_path: Path) -> None:
    settings = webhook_settings(tmp_path, emulator)
    settings = dataclasses.replace(settings, server=ServerSettings())
    with pytest.raises(ConfigError, match=r"webhook_url needs \[server\] listen"):
        async with running(build_application(settings)):
            pass


async def test_switching_back_to_polling_deletes_the_webhook(emulator: Emulator,
                                                             tmp_path: Path) -> None:
    async with running(build_application(webhook_settings(tmp_path, emulator))):
        assert emulator.primary.webhook_url == HOOK_URL
    async with running(build_application(make_settings(tmp_path, emulator.base_url))) as svc:
        assert emulator.primary.webhook_url == ""
        bot = BotHarness(emulator, svc, svc.settings, emulator.add_user("Cy"))
        [answer] = await bot.ask("/latest 1")
        assert "Latest" in answer["text"]


async def test_newsbot_run_listen_overrides_the_config(emulator: Emulator, tmp_path: Path,
                                                       http: aiohttp.ClientSession) -> None:
    import asyncio
    import socket
    import sys

    from tests.helpers import ROOT

    with socket.socket() as probe:  # a free port for the command line
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "run.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{emulator.base_url}"\n'
        f'webhook_url = "{HOOK_URL}"\nwebhook_secret = "{SECRET}"\n'
        f'[server]\nlisten = "127.0.0.1:1"\n'  # a port nobody may bind: must be overridden
        f'[storage]\ndatabase = "sqlite:///bot.sqlite3"\n'
        f'[sources]\nfiles = ["{DATA / "releases.json"}"]\n'
        f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        "--listen", f"127.0.0.1:{port}", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=str(ROOT))
    try:
        await emulator.wait_for(lambda: emulator.primary.webhook_url == HOOK_URL, timeout=60)
        emulator.route_webhook(PUBLIC, f"http://127.0.0.1:{port}/")
        user = emulator.add_user("Di")
        chat = emulator.private_chat(user)
        emulator.send_message(chat, "/latest 1", from_user=user)
        [answer] = await emulator.wait_for_messages(chat["id"], 1, timeout=30)
        assert "Latest" in answer["text"]
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert SECRET not in err.decode() + out.decode()


async def test_listen_address_in_use_fails_cleanly_and_frees_the_store(
        emulator: Emulator, tmp_path: Path) -> None:
    import socket

    from bot.server import ListenError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = dataclasses.replace(webhook_settings(tmp_path, emulator),
                                       server=ServerSettings(listen=("127.0.0.1", port)))
        with pytest.raises(ListenError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with running(build_application(settings)):
                pass
    # Nothing was left holding the store: the next start works.
    async with running(build_application(webhook_settings(tmp_path, emulator))) as svc:
        assert svc.extra["http"].port > 0


async def test_healthz_on_postgresql_follows_the_database(
        emulator: Emulator, tmp_path: Path, postgres_url: str,
        http: aiohttp.ClientSession) -> None:
    import asyncpg

    from tests import pg

    name = postgres_url.rpartition("/")[2]
    settings = webhook_settings(tmp_path, emulator)
    settings = dataclasses.replace(settings, storage=dataclasses.replace(
        settings.storage, database=postgres_url))
    admin = await asyncpg.connect(pg.SERVER_URL)

    async def status() -> int:
        async with http.get(url) as response:
            return response.status

    try:
        async with running(build_application(settings)) as services:
            url = f"http://127.0.0.1:{services.extra['http'].port}/healthz"
            assert await status() == 200
            # The database refuses connections (as during a failover or maintenance).
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = $1", name)
            await services.store.engine.dispose()
            assert await status() == 503
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            async def healthy() -> bool:
                return await status() == 200

            # A pooled connection that was cut fails once, then recovers.
            await eventually(healthy, timeout=5, what="/healthz answering 200 again")
            assert await status() == 200
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
