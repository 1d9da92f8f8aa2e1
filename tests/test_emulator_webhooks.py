"""The emulator's webhooks: what it pushes, in which order, with which header, and retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import telegram
from aiohttp import web
from telegram.error import BadRequest, Conflict

from bot.emulator import Emulator
from tests.helpers import TOKEN

PUBLIC = "https://hooks.example.org/"


class Receiver:
    """A stand-in for the bot's listener: records each push, answers with ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.status = 200
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.Response(status=self.status)
        self.received.append((await request.json(),
                              request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]


@pytest.fixture
async def receiver(emulator: Emulator) -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    emulator.route_webhook(PUBLIC, f"http://127.0.0.1:{rec.port}/")
    yield rec
    assert rec.runner is not None
    await rec.runner.cleanup()


@pytest.fixture
async def tg(emulator: Emulator) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=emulator.base_url) as bot:
        yield bot


async def test_updates_are_pushed_in_order_with_the_secret(
        emulator: Emulator, receiver: Receiver, tg: telegram.Bot) -> None:
    await tg.set_webhook(PUBLIC + "hook", secret_token="abc_DEF-123",
                         allowed_updates=["message"])
    user = emulator.add_user("Ada")
    chat = emulator.private_chat(user)
    for n in range(5):
        emulator.send_message(chat, f"message {n}", from_user=user)
    await emulator.wait_for(lambda: len(receiver.received) == 5)
    texts = [update["message"]["text"] for update, _ in receiver.received]
    assert texts == [f"message {n}" for n in range(5)]
    assert {secret for _, secret in receiver.received} == {"abc_DEF-123"}
    info = await tg.get_webhook_info()
    assert info.pending_update_count == 0 and info.allowed_updates == ("message",)
    with pytest.raises(Conflict, match="webhook is active"):
        await tg.get_updates()


async def test_failed_pushes_are_retried_and_reported(
        emulator: Emulator, receiver: Receiver, tg: telegram.Bot) -> None:
    receiver.status = 500
    await tg.set_webhook(PUBLIC + "hook", secret_token="s")
    user = emulator.add_user("Bo")
    emulator.send_message(emulator.private_chat(user), "hello", from_user=user)
    await emulator.wait_for(lambda: len(emulator.webhook_pushes) >= 2)  # retried
    info = await tg.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    receiver.status = 200
    await emulator.wait_for(lambda: len(receiver.received) == 1)
    assert (await tg.get_webhook_info()).pending_update_count == 0


async def test_no_header_without_a_secret_and_no_push_after_delete(
        emulator: Emulator, receiver: Receiver, tg: telegram.Bot) -> None:
    await tg.set_webhook(PUBLIC + "hook")
    user = emulator.add_user("Cy")
    chat = emulator.private_chat(user)
    emulator.send_message(chat, "one", from_user=user)
    await emulator.wait_for(lambda: len(receiver.received) == 1)
    assert receiver.received[0][1] is None
    await tg.delete_webhook()
    emulator.send_message(chat, "two", from_user=user)
    [update] = await tg.get_updates(timeout=1)
    assert update.message is not None and update.message.text == "two"
    # A span: a push would have happened by now (the emulator's pusher has no "idle" to ask;
    # its next look comes at once, on the change deleteWebhook made).
    await asyncio.sleep(0.1)
    assert len(receiver.received) == 1


async def test_an_open_long_poll_ends_with_409_when_a_webhook_is_set(
        emulator: Emulator, tg: telegram.Bot) -> None:
    poll = asyncio.create_task(tg.get_updates(timeout=20, read_timeout=30))
    await emulator.wait_for(lambda: any(r.method == "getUpdates" for r in emulator.requests))
    await tg.set_webhook(PUBLIC + "hook", secret_token="s")
    with pytest.raises(Conflict, match="webhook is active"):
        await poll


@pytest.mark.parametrize(("url", "secret", "error"), [
    ("http://hooks.example.org/hook", None, "(?i)https url must be provided"),
    (PUBLIC + "hook", "bad secret!", "unallowed characters"),
    (PUBLIC + "hook", "x" * 257, "too long"),
])
async def test_set_webhook_is_validated(tg: telegram.Bot, url: str, secret: str | None,
                                        error: str) -> None:
    with pytest.raises(BadRequest, match=error):
        await tg.set_webhook(url, secret_token=secret)
