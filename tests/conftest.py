"""Shared fixtures: the Bot API emulator, and the real bot running against it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, running
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
from tests import pg

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
TOKEN = "123456:TEST-token-for-the-emulator"
BOT_USERNAME = "newsbot_test_bot"
ADMIN_ID = 4242


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


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``newsbot`` CLI calls reconfigure the root logger; undo it so later tests log normally."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a fresh, empty PostgreSQL database for this test (see ``tests/pg.py``)."""
    async for url in pg.fresh_database():
        yield url


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        emu.add_bot(TOKEN, username=BOT_USERNAME)
        yield emu


@pytest.fixture
def settings(tmp_path: Path, emulator: Emulator) -> Settings:
    return make_settings(tmp_path, emulator.base_url)


@pytest.fixture
async def newsbot(emulator: Emulator, settings: Settings) -> AsyncIterator[BotHarness]:
    """The real Application, started as ``newsbot run`` starts it, against the emulator."""
    app = build_application(settings)
    async with running(app) as services:
        user = emulator.add_user("Ada", username="ada")
        yield BotHarness(emulator, services, settings, user)
        await asyncio.sleep(0)
