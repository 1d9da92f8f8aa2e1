"""Shared fixtures: the Bot API emulator, and the real bot running against it.

Fixtures only; what tests import (settings, the harness, waits) is in ``tests/helpers.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import build_application, running
from bot.config import Settings
from bot.emulator import Emulator
from tests import pg
from tests.helpers import BOT_USERNAME, DATA, TOKEN, BotHarness, make_settings


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
def releases_file(tmp_path: Path) -> Path:
    """A copy of the shipped releases that a test may append to (a source the bot polls)."""
    path = tmp_path / "releases.json"
    path.write_text((DATA / "releases.json").read_text())
    return path


@pytest.fixture
async def newsbot(emulator: Emulator, settings: Settings) -> AsyncIterator[BotHarness]:
    """The real Application, started as ``newsbot run`` starts it, against the emulator."""
    app = build_application(settings)
    async with running(app) as services:
        user = emulator.add_user("Ada", username="ada")
        yield BotHarness(emulator, services, settings, user, app)
