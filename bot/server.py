"""The bot's HTTP listener (``[server] listen``): the Telegram webhook, /healthz and /metrics.

Telegram pushes each update as one POST to the webhook URL; behind a TLS reverse proxy that
arrives here on the URL's path. An update is only taken when it carries the secret given to
setWebhook (``X-Telegram-Bot-Api-Secret-Token``): anyone can reach a public URL. Accepted
updates go to the Application's ``update_queue`` (as python-telegram-bot's custom-webhook
example does) and are answered 200 at once; handling happens on the Application's own tasks,
so a slow handler never makes Telegram wait or retry.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web
from telegram import Update

from bot import metrics as bot_metrics
from bot.config import webhook_path
from bot.context import NewsbotApp
from bot.store import Store

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

#: How long /healthz and /metrics wait for the store before calling it unavailable.
STORE_TIMEOUT = 2.0

#: Telegram's updates are small; a body this large is not one.
MAX_BODY = 1024 * 1024


class HttpServer:
    """Serves the webhook (when ``webhook_url`` is set), /healthz and /metrics on one port."""

    def __init__(self, app: NewsbotApp, store: Store, host: str, port: int, *,
                 webhook_url: str = "", secret: str = "",
                 metrics: bot_metrics.Metrics | None = None) -> None:
        self.app = app
        self.store = store
        self.host = host
        self.port = port
        self.secret = secret.encode()
        self.metrics = metrics or app.bot_data.metrics
        self.webhook_path = webhook_path(webhook_url) if webhook_url else None
        self.store_timeout = STORE_TIMEOUT
        self._runner: web.AppRunner | None = None
        self._started = time.monotonic()

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; ``port`` then holds it)."""
        web_app = web.Application(client_max_size=MAX_BODY)
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/metrics", self.metrics_page)
        if self.webhook_path is not None:
            web_app.router.add_post(self.webhook_path, self.webhook)
        runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ListenError(f"cannot listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        log.info("listening on http://%s:%d (%s)", self.host, self.port,
                 f"webhook at {self.webhook_path}, /healthz, /metrics"
                 if self.webhook_path else "/healthz, /metrics")

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- the webhook ----------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """One update pushed by Telegram: checked, decoded, queued, answered 200."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            log.warning("webhook request from %s without the right secret token: refused",
                        request.remote)
            return _json({"ok": False, "error": "forbidden"}, 403)
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an Update object")
            update = Update.de_json(data, self.app.bot)
        except web.HTTPRequestEntityTooLarge:
            return _json({"ok": False, "error": "body too large"}, 413)
        except Exception as exc:  # malformed JSON or an object PTB cannot read
            log.warning("webhook request with an unreadable update: %s", exc)
            return _json({"ok": False, "error": "bad update"}, 400)
        await self.app.update_queue.put(update)
        return _json({"ok": True}, 200)

    # -- health and metrics ---------------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when the store answers a trivial query in time, 503 otherwise."""
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.store.ping(), self.store_timeout)
        except Exception as exc:
            error = (f"the store did not answer within {self.store_timeout:g} s"
                     if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}")
            return _json({"status": "unavailable", "error": error[:300]}, 503)
        return _json({
            "status": "ok",
            "mode": "webhook" if self.webhook_path else "polling",
            "store_ms": round((time.perf_counter() - started) * 1000, 1),
            "uptime_s": round(time.monotonic() - self._started),
        }, 200)

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Every metric in the Prometheus text format; outbox figures read from the store now."""
        try:
            pending, oldest = await asyncio.wait_for(self.store.outbox_backlog(),
                                                     self.store_timeout)
        except Exception as exc:
            log.warning("metrics: the store did not answer: %s", exc)
            self.metrics.set_outbox(None, None)
        else:
            self.metrics.set_outbox(pending, time.time() - oldest if oldest else None)
        return web.Response(body=self.metrics.exposition(),
                            headers={"Content-Type": bot_metrics.CONTENT_TYPE_LATEST})


class ListenError(Exception):
    """The listener could not bind its address (in use, not permitted...)."""


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.json_response(body, status=status)
