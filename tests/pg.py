"""A fresh PostgreSQL database per test, on the server every machine of this project runs.

The server is ``NEWSBOT_TEST_POSTGRES_URL`` (default: the local one on 127.0.0.1:5432, user
``postgres``). Each test gets its own database, created here and dropped afterwards, so tests
(and several test runs at once) never see each other's rows. Without a reachable server the
tests skip on a developer's machine and fail in CI (``CI`` set), where the server must be there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

SERVER_URL = os.environ.get("NEWSBOT_TEST_POSTGRES_URL",
                            "postgresql://postgres@127.0.0.1:5432/postgres")


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _connect() -> Any:
    # The test extra installs it; it ships no type information.
    import asyncpg  # type: ignore[import-untyped]

    try:
        return await asyncpg.connect(_asyncpg_dsn(SERVER_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"no PostgreSQL server at {SERVER_URL} ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the PostgreSQL tests")
        pytest.skip(message)


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    head, _, _ = SERVER_URL.rpartition("/")
    return f"{head}/{name}"


async def create_database() -> str:
    """Create an empty database and return its name."""
    conn = await _connect()
    name = f"newsbot_test_{uuid.uuid4().hex[:16]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(name: str) -> None:
    conn = await _connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def fresh_database() -> AsyncIterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    name = await create_database()
    try:
        yield database_url(name)
    finally:
        await drop_database(name)
