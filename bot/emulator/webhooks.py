"""Webhook delivery: while a bot has a webhook, the emulator POSTs its updates to it.

As Telegram does: each update is one POST with a JSON body and, when setWebhook was given a
``secret_token``, the ``X-Telegram-Bot-Api-Secret-Token`` header; a 2xx answer confirms it,
anything else (or no answer) is recorded as ``last_error_message`` and retried after a
backoff. Updates go one at a time per bot, in order, so a test sees them in the order users
acted (Telegram may use up to ``max_connections`` in parallel; one is a valid case of that).

Telegram only pushes to https URLs; a test bot listens on plain http on 127.0.0.1 behind what
would be a TLS reverse proxy. :meth:`WebhookPusher.route` plays that proxy: the bot's config
keeps its real public URL and the emulator maps the prefix to the local listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bot.emulator.model import BotState
    from bot.emulator.state import World

__all__ = ["PushRecord", "WebhookPusher"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: First wait after a failed push, doubling up to MAX_BACKOFF (Telegram's are longer; tests
#: want a bot that comes back to be served again quickly).
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0
PUSH_TIMEOUT = 10.0


@dataclass
class PushRecord:
    """One POST of an update to a webhook, as tests may inspect it."""

    update_id: int
    url: str  # where it was actually sent (after routing)
    status: int  # HTTP status; 0 when there was no answer
    error: str  # "" when confirmed
    time: float


class WebhookPusher:
    """One worker task per bot with a webhook, started and stopped with the emulator."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.pushes: list[PushRecord] = []
        self._routes: dict[str, str] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- routing ------------------------------------------------------------------------------

    def route(self, public_prefix: str, local_prefix: str) -> None:
        """Send pushes for URLs starting with ``public_prefix`` to ``local_prefix`` + the rest,
        e.g. ``route("https://bot.example.org/", "http://127.0.0.1:8080/")``."""
        self._routes[public_prefix] = local_prefix
        self.world.notify()  # a worker backing off may now reach the bot

    def target(self, url: str) -> str:
        """Where a push for ``url`` goes: the longest matching route, else ``url`` itself."""
        for prefix in sorted(self._routes, key=len, reverse=True):
            if url.startswith(prefix):
                return self._routes[prefix] + url[len(prefix):]
        return url

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name="emulator-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._supervisor, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._supervisor = None
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _supervise(self) -> None:
        """Start a worker for each bot that has a webhook and none running."""
        while not self.world.stopping:
            for token, bot in self.world.bots.items():
                worker = self._workers.get(token)
                if bot.webhook_url and (worker is None or worker.done()):
                    self._workers[token] = asyncio.get_running_loop().create_task(
                        self._work(bot), name=f"emulator-webhook-{bot.id}")
            await self.world.wait_change(1.0)

    # -- pushing ------------------------------------------------------------------------------

    async def _work(self, bot: BotState) -> None:
        """Push the bot's updates in order until its webhook is removed."""
        backoff = FIRST_BACKOFF
        while bot.webhook_url and not self.world.stopping:
            bot.drop_unwanted_updates()
            if not bot.updates:
                await self.world.wait_change(1.0)
                continue
            update = bot.updates[0]
            record = await self._push(bot, update)
            self.pushes.append(record)
            if not record.error:
                with contextlib.suppress(ValueError):  # deleteWebhook may have dropped it
                    bot.updates.remove(update)
                backoff = FIRST_BACKOFF
                self.world.notify()
                continue
            bot.webhook_last_error = record.error
            bot.webhook_last_error_date = int(time.time())
            self.world.notify()
            deadline = time.monotonic() + backoff
            backoff = min(backoff * 2, MAX_BACKOFF)
            while time.monotonic() < deadline and bot.webhook_url and not self.world.stopping:
                await self.world.wait_change(deadline - time.monotonic())

    async def _push(self, bot: BotState, update: dict[str, Any]) -> PushRecord:
        url = self.target(bot.webhook_url)
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret:
            headers[SECRET_HEADER] = bot.webhook_secret
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT))
        status, error = 0, ""
        try:
            async with self._session.post(url, data=json.dumps(update), headers=headers,
                                          allow_redirects=False) as response:
                status = response.status
                await response.read()
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {response.reason}"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as exc:
            error = f"Connection error: {type(exc).__name__}"
        return PushRecord(int(update["update_id"]), url, status, error, time.time())
