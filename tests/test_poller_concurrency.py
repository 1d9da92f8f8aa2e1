"""Sources are polled concurrently: one that hangs never delays the others, and no source is
polled twice at once (issue 7, section 5)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import build_application, running
from bot.config import SourceSettings
from bot.emulator import Emulator
from bot.poller import SourcePoller, file_source_name
from tests.helpers import BotHarness, eventually, make_settings

#: Far longer than any wait in these tests: if the hanging feed held the others back, they
#: would time out.
HANG_TIMEOUT = 60.0

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Archive item about ports</title><guid>a-1</guid>
<pubDate>Mon, 03 Jan 2005 10:00:00 GMT</pubDate></item></channel></rss>"""


@dataclasses.dataclass
class FeedServer:
    url: str
    requests: int = 0
    hang: bool = False
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A feed that answers until told to hang, then never answers (until the test ends)."""
    server = FeedServer("")

    async def feed(request: web.Request) -> web.Response:
        server.requests += 1
        if server.hang:
            await server.release.wait()
        return web.Response(text=RSS, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/feed.xml"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


def write_releases(path: Path, titles: list[str]) -> None:
    path.write_text(json.dumps([{"id": f"r{n}", "title": t, "date": f"2005-01-0{n + 1}",
                                 "summary": "Dock workers and port safety."}
                                for n, t in enumerate(titles)]))


async def test_a_hanging_feed_does_not_delay_a_files_alert(
        emulator: Emulator, tmp_path: Path, feed_server: FeedServer) -> None:
    releases = tmp_path / "releases.json"
    write_releases(releases, ["Port safety archive"])
    settings = make_settings(tmp_path, emulator.base_url, sources=SourceSettings(
        files=(releases,), feeds=(feed_server.url,), poll_seconds=0.3,
        feed_timeout=HANG_TIMEOUT))
    async with running(build_application(settings)) as services:
        user = emulator.add_user("Dora")
        harness = BotHarness(emulator, services, settings, user)
        await harness.ask("/subscribe port safety")
        feed_server.hang = True
        hung_at = feed_server.requests
        await emulator.wait_for(lambda: feed_server.requests > hung_at, timeout=10)
        write_releases(releases, ["Port safety archive", "New port safety rules"])
        # Well under the hanging feed's timeout: the file's poll goes on without it.
        messages = await emulator.wait_for_messages(user["id"], 2, timeout=10)
        assert "New port safety rules" in messages[1]["text"]
        # The hanging feed was not polled again meanwhile.
        assert feed_server.requests == hung_at + 1
        feed_server.release.set()


async def test_a_source_still_being_polled_is_not_started_again(
        newsbot: BotHarness, tmp_path: Path, feed_server: FeedServer) -> None:
    releases = tmp_path / "releases.json"
    write_releases(releases, ["Port safety archive"])
    feed_server.hang = True
    svc = newsbot.services
    poller = SourcePoller(SourceSettings(files=(releases,), feeds=(feed_server.url,),
                                         feed_timeout=HANG_TIMEOUT), svc.store, svc.ingestor)
    try:
        first = poller.start_all()
        assert len(first) == 2
        await eventually(lambda: feed_server.requests == 1, what="the feed's first request")
        await asyncio.wait_for(asyncio.shield(first[0]), 10)  # the file is done
        state = await svc.store.source_state(file_source_name(releases))
        assert state is not None and state.last_ok_at is not None
        second = poller.start_all()
        assert [t.get_name() for t in second] == [f"poll {file_source_name(releases)}"]
        await asyncio.gather(*second)
        assert feed_server.requests == 1
    finally:
        feed_server.release.set()
        await poller.close()


async def test_a_feed_over_its_timeout_is_recorded_and_the_file_goes_on(
        newsbot: BotHarness, tmp_path: Path, feed_server: FeedServer) -> None:
    releases = tmp_path / "releases.json"
    write_releases(releases, ["Port safety archive"])
    feed_server.hang = True
    svc = newsbot.services
    poller = SourcePoller(SourceSettings(files=(releases,), feeds=(feed_server.url,),
                                         feed_timeout=0.5), svc.store, svc.ingestor)
    try:
        await poller.poll_all()
    finally:
        await poller.close()
    feed = await svc.store.source_state(feed_server.url)
    assert feed is not None and "timeout" in feed.last_error
    assert svc.index.get("r0") is not None
