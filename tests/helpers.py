"""What tests share besides fixtures: test settings, the running-bot harness, and waits.

Two ways to wait, and no fixed sleeps for either:

* :func:`eventually` — for something that must happen: waits until a (sync or async)
  predicate holds, and fails with what was awaited when it does not in time.
* :func:`quiet` — before a negative check ("nothing more is sent"): waits until the bot has
  handled every update, finished the source poll in progress and has nothing left to deliver,
  so whatever it would (wrongly) still send has been sent by then.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram.ext import Application

from bot.config import (
    BotSettings,
    DeliverySettings,
    Settings,
    SourceSettings,
    StorageSettings,
    TelegramSettings,
)
from bot.context import Services
from bot.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
TOKEN = "123456:TEST-token-for-the-emulator"
BOT_USERNAME = "newsbot_test_bot"
ADMIN_ID = 4242

#: How long :func:`eventually` and :func:`quiet` wait before failing. Only a bound that turns
#: a hang into a readable failure: a passing test never waits that long.
WAIT_TIMEOUT = 20.0
#: How often :func:`eventually` looks again.
_POLL = 0.02

T = TypeVar("T")


def make_settings(tmp_path: Path, api_base_url: str, **changes: Any) -> Settings:
    """Settings for a test bot: tmp database, the shipped releases, fast polling."""
    settings = Settings(
        telegram=TelegramSettings(token=TOKEN, api_base_url=api_base_url, poll_timeout=1),
        bot=BotSettings(admins=(ADMIN_ID,)),
        storage=StorageSettings(database=f"sqlite:///{tmp_path / 'test.sqlite3'}"),
        sources=SourceSettings(files=(DATA / "releases.json",), poll_seconds=3600.0),
        delivery=DeliverySettings(interval_seconds=0.2, backoff_seconds=0.1,
                                  request_timeout=5.0),
        topics_file=DATA / "topics.toml",
    )
    return dataclasses.replace(settings, **changes)


@dataclasses.dataclass
class BotHarness:
    """A running bot and the emulator it talks to, with one private chat ready to use."""

    emu: Emulator
    services: Services
    settings: Settings
    user: dict[str, Any]
    #: The running Application, when the test has it: :func:`quiet` then also waits until
    #: every update it took is handled.
    app: Application[Any, Any, Any, Any, Any, Any] | None = None

    @property
    def chat(self) -> dict[str, Any]:
        return self.emu.private_chat(self.user)

    async def ask(self, text: str, chat: dict[str, Any] | None = None,
                  count: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
        """Send ``text`` as the user and return the bot's new messages in that chat."""
        chat = chat or self.chat
        kwargs.setdefault("from_user", None if chat.get("type") == "channel" else self.user)
        before = len(self.emu.sent(chat["id"]))
        self.emu.send_message(chat, text, **kwargs)
        await self.emu.wait_for_messages(chat["id"], before + count)
        return self.emu.sent(chat["id"])[before:]

    async def press(self, message: dict[str, Any], data: str,
                    count: int = 1) -> list[dict[str, Any]]:
        chat_id = message["chat"]["id"]
        before = len(self.emu.sent(chat_id))
        self.emu.press_button(message, data, from_user=self.user)
        await self.emu.wait_for_messages(chat_id, before + count)
        return self.emu.sent(chat_id)[before:]


async def eventually(predicate: Callable[[], T | Awaitable[T]], timeout: float = WAIT_TIMEOUT,
                     *, what: str | None = None) -> T:
    """Wait until ``predicate()`` (a plain or an async function) is truthy; return that value.

    Raises AssertionError naming ``what`` (default: the predicate's name) after ``timeout``
    seconds. For conditions no message announces (a row written, a subscription moved).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            name = what or getattr(predicate, "__qualname__", repr(predicate))
            raise AssertionError(f"timed out after {timeout:g} s waiting for: {name}")
        await asyncio.sleep(_POLL)


async def quiet(harness: BotHarness, timeout: float = WAIT_TIMEOUT) -> None:
    """Wait until the bot has nothing more to do, before checking that nothing more came.

    In this order, since each step may give work to the next: the emulator has handed the bot
    every update (and the application handled them, when the harness has it), the source poll
    in progress has finished (it may queue alerts), and the deliverer has made a pass that
    began after this call and found nothing due and nothing in flight.
    """
    deliverer = harness.services.deliverer
    assert deliverer is not None, "the bot is not running (see bot.app.running)"
    step = "every update handled"
    try:
        async with asyncio.timeout(timeout):
            await _updates_handled(harness)
            step = "the source poll in progress finished"
            await _polls_finished(harness.services)
            step = "the deliverer idle"
            await deliverer.idle()
    except TimeoutError:
        raise AssertionError(f"the bot was not quiet after {timeout:g} s: still waiting for "
                             f"{step}") from None


async def _updates_handled(harness: BotHarness) -> None:
    bot = harness.emu.bots[harness.settings.require_token()]
    while bot.updates:  # an update is confirmed (and dropped) once the bot has taken it
        await asyncio.sleep(_POLL)
    if harness.app is not None:
        await harness.app.update_queue.join()  # marked done after each update's handlers


async def _polls_finished(services: Services) -> None:
    poller = services.poller
    assert poller is not None, "the bot is not running (see bot.app.running)"
    polls = poller.in_progress()
    if polls:
        await asyncio.wait(polls)
