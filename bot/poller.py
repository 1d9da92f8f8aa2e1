"""Checks the configured sources (release files and RSS/Atom feeds) and ingests what changed.

Each source is polled on its own: a broken one is logged with its name, remembered in the
store (``/stats`` shows it) and retried later with backoff, while the others go on. The first
successful sync of a source the store has never seen is silent, so adding an archive does
not flood subscribers; after that every new release is pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from bot.config import SourceSettings
from bot.ingest import Ingestor
from bot.sources import SourceError, backoff_seconds, fetch_feed, load_file
from bot.store import SourceState, Store

log = logging.getLogger(__name__)


def file_source_name(path: Path) -> str:
    return f"file:{path}"


class SourcePoller:
    """Polls files and feeds; one instance per running bot, driven by a JobQueue job."""

    def __init__(self, settings: SourceSettings, store: Store, ingestor: Ingestor,
                 user_agent: str = "newsbot") -> None:
        self.settings = settings
        self.store = store
        self.ingestor = ingestor
        self._client: httpx.AsyncClient | None = None
        self._user_agent = user_agent
        self._lock = asyncio.Lock()
        #: path -> ((mtime_ns, size), sha256) of the last read, so an unchanged file is not
        #: read and hashed again on every poll.
        self._file_stats: dict[Path, tuple[tuple[int, int], str]] = {}

    async def poll_all(self) -> None:
        """Poll every source once; never raises for a single source's failure."""
        async with self._lock:  # a slow poll must not overlap the next one
            for path in self.settings.files:
                await self._isolated(file_source_name(path), self.poll_file(path))
            for url in self.settings.feeds:
                await self._isolated(url, self.poll_feed(url))

    async def _isolated(self, name: str, poll: Coroutine[Any, Any, None]) -> None:
        """Run one source's poll; whatever goes wrong (a locked database, a bug) is recorded
        against that source and the others go on."""
        try:
            await poll
        except Exception as exc:
            log.exception("polling %s failed", name)
            with contextlib.suppress(Exception):  # the store itself may be what failed
                state = await self.store.source_state(name) or SourceState(name)
                await self._failed(state, time.time(), f"{type(exc).__name__}: {exc}")

    async def poll_file(self, path: Path) -> None:
        name = file_source_name(path)
        state = await self.store.source_state(name) or SourceState(name)
        now = time.time()
        try:
            stat = path.stat()
            seen = self._file_stats.get(path)
            if seen and seen[0] == (stat.st_mtime_ns, stat.st_size):
                fingerprint = seen[1]  # untouched since the last poll: skip reading it
            else:
                content = await asyncio.to_thread(path.read_bytes)
                fingerprint = hashlib.sha256(content).hexdigest()
                self._file_stats[path] = ((stat.st_mtime_ns, stat.st_size), fingerprint)
        except OSError as exc:
            await self._failed(state, now, f"cannot read {path}: {exc.strerror or exc}")
            return
        if fingerprint == state.fingerprint and state.last_error is None:
            await self.store.save_source_state(replace(state, last_poll_at=now))
            return
        try:
            releases = await asyncio.to_thread(load_file, path, self.settings.language)
        except SourceError as exc:
            await self._failed(state, now, str(exc))
            return
        result = await self.ingestor.ingest(releases, name, notify=state.last_ok_at is not None)
        if result.new or result.updated:
            log.info("%s: %d new, %d updated, %d alerts queued", name, len(result.new),
                     len(result.updated), result.deliveries)
        await self.store.save_source_state(replace(
            state, fingerprint=fingerprint, last_poll_at=now, last_ok_at=now,
            last_error=None, failures=0, next_poll_at=None))

    async def poll_feed(self, url: str) -> None:
        name = url
        state = await self.store.source_state(name) or SourceState(name)
        now = time.time()
        if state.next_poll_at and state.next_poll_at > now:
            return  # backing off after failures
        try:
            fetched = await fetch_feed(self._http(), url, state.etag, state.last_modified,
                                       timeout=self.settings.feed_timeout,
                                       language=self.settings.language)
        except SourceError as exc:
            await self._failed(state, now, str(exc))
            return
        if fetched.status == "ok":
            result = await self.ingestor.ingest(fetched.releases, name,
                                                notify=state.last_ok_at is not None)
            if result.new or result.updated:
                log.info("%s: %d new, %d updated, %d alerts queued", name, len(result.new),
                         len(result.updated), result.deliveries)
        # On 304 the validators still hold; new content brings its own (or none).
        unchanged = fetched.status == "not_modified"
        await self.store.save_source_state(replace(
            state, etag=fetched.etag or (state.etag if unchanged else None),
            last_modified=fetched.last_modified or (state.last_modified if unchanged else None),
            last_poll_at=now, last_ok_at=now, last_error=None, failures=0, next_poll_at=None))

    async def _failed(self, state: SourceState, now: float, error: str) -> None:
        failures = state.failures + 1
        delay = backoff_seconds(failures, self.settings.poll_seconds)
        log.error("source %s failed (attempt %d, next try in %.0f s): %s",
                  state.name, failures, delay, error)
        await self.store.save_source_state(replace(
            state, last_poll_at=now, last_error=error, failures=failures,
            next_poll_at=now + delay))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(headers={"User-Agent": self._user_agent},
                                             follow_redirects=True)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
