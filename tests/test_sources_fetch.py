"""fetch_feed against a real HTTP server on 127.0.0.1, and backoff_seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.backoff import backoff_seconds
from bot.sources import SourceError, fetch_feed

RSS = (Path(__file__).parent / "fixtures" / "sources" / "feed-rss.xml").read_bytes()
ETAG = '"v1"'
LAST_MODIFIED = "Sat, 30 Oct 2004 09:00:00 GMT"


@dataclass
class FeedServer:
    """A local feed server; records the headers of every request to /feed."""

    base: str
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    release_hung = asyncio.Event()
    state = FeedServer(base="")

    async def feed(request: web.Request) -> web.Response:
        state.seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == ETAG:
            return web.Response(status=304, headers={"ETag": ETAG})
        return web.Response(
            body=RSS,
            content_type="application/rss+xml",
            headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED},
        )

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def hang(request: web.Request) -> web.Response:
        # Bounded, and released at teardown, so the server can always shut down.
        await asyncio.wait_for(release_hung.wait(), timeout=30)
        return web.Response(body=RSS)

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01 certainly not a feed", content_type="text/plain")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(location="/feed")

    app = web.Application()
    app.add_routes(
        [
            web.get("/feed", feed),
            web.get("/broken", broken),
            web.get("/hang", hang),
            web.get("/garbage", garbage),
            web.get("/moved", moved),
        ]
    )
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        release_hung.set()
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must never see requests meant for 127.0.0.1.
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


async def test_fetch_then_conditional_fetch_is_not_modified(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    first = await fetch_feed(client, f"{server.base}/feed")
    assert first.status == "ok"
    assert len(first.releases) == 3
    assert (first.etag, first.last_modified) == (ETAG, LAST_MODIFIED)
    assert "If-None-Match" not in server.seen[0]

    second = await fetch_feed(
        client, f"{server.base}/feed", etag=first.etag, last_modified=first.last_modified
    )
    assert second.status == "not_modified"
    assert second.releases == []
    assert (second.etag, second.last_modified) == (ETAG, LAST_MODIFIED)
    assert server.seen[1]["If-None-Match"] == ETAG
    assert server.seen[1]["If-Modified-Since"] == LAST_MODIFIED


async def test_redirect_is_followed(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await fetch_feed(client, f"{server.base}/moved")
    assert result.status == "ok"
    assert len(result.releases) == 3


async def test_server_error_is_a_source_error(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = f"{server.base}/broken"
    with pytest.raises(SourceError) as caught:
        await fetch_feed(client, url)
    assert (caught.value.path, caught.value.where) == (url, None)
    assert str(caught.value) == f"{url}: HTTP 500 Internal Server Error"


async def test_hanging_server_times_out(server: FeedServer, client: httpx.AsyncClient) -> None:
    url = f"{server.base}/hang"
    with pytest.raises(SourceError) as caught:
        await fetch_feed(client, url, timeout=0.3)
    assert caught.value.path == url
    assert "timeout" in caught.value.reason


async def test_garbage_body_is_a_source_error(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = f"{server.base}/garbage"
    with pytest.raises(SourceError, match="not a readable RSS or Atom feed") as caught:
        await fetch_feed(client, url)
    assert caught.value.path == url


async def test_unreachable_server_is_a_source_error(client: httpx.AsyncClient) -> None:
    # Bind then close a socket to find a port on which nothing listens.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    url = f"http://127.0.0.1:{port}/feed"
    with pytest.raises(SourceError, match="request failed: ConnectError") as caught:
        await fetch_feed(client, url, timeout=5)
    assert caught.value.path == url


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 0.0), (1, 30.0), (2, 60.0), (3, 120.0), (7, 1920.0), (8, 3600.0), (10_000, 3600.0)],
)
def test_backoff_doubles_up_to_the_cap(failures: int, expected: float) -> None:
    assert backoff_seconds(failures, base=30.0) == expected


def test_backoff_custom_cap_and_bad_arguments() -> None:
    assert backoff_seconds(5, base=1.0, cap=10.0) == 10.0
    with pytest.raises(ValueError):
        backoff_seconds(1, base=-1.0)
