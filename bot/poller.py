"""Checks the configured sources (release files and RSS/Atom feeds) and ingests what changed.

Sources are polled concurrently, each on its own and within its own time limit
(``feed_timeout``), so one that hangs never delays the others' alerts. A source whose poll is
still running at the next tick is left alone, never polled twice at once. A broken source is
logged with its name, remembered in the store (``/stats`` shows it) and retried later with
backoff, while the others go on. Writing the results is serialised by the :class:`Ingestor`.
The first successful sync of a source the store has never seen is silent, so adding an
archive does not flood subscribers; after that every new release is pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bot import metrics
from bot.backoff import backoff_seconds
from bot.config import SourceSettings
from bot.ingest import Ingestor
from bot.releases import Release
from bot.sources import SourceError, fetch_feed, parse_file, read_file
from bot.store import SourceState, Store, StoreGone, StoreUnavailable

log = logging.getLogger(__name__)


#: The pseudo-source under which the index refresh runs (never polled twice at once either).
_REFRESH = "(index refresh)"


def file_source_name(path: Path) -> str:
    return f"file:{path}"


class SourcePoller:
    """Polls files and feeds; one instance per running bot, driven by a JobQueue job."""

    def __init__(self, settings: SourceSettings, store: Store, ingestor: Ingestor,
                 user_agent: str = "newsbot", *, shared: bool = False) -> None:
        self.settings = settings
        #: Several processes share the store: each poll is first recorded there, and a source
        #: polled less than nine tenths of an interval ago (by anyone) is left alone.
        self.shared = shared
        self.store = store
        self.ingestor = ingestor
        self._client: httpx.AsyncClient | None = None
        self._user_agent = user_agent
        #: source name -> its poll in progress (a task), so no source is polled twice at once.
        self._polls: dict[str, asyncio.Task[None]] = {}
        #: source name -> a file read that outlived its poll's timeout (a thread cannot be
        #: stopped); the source is not read again until it ends.
        self._threads: dict[str, asyncio.Future[Any]] = {}
        #: path -> ((mtime_ns, size), sha256) of the last read, so an unchanged file is not
        #: read and hashed again on every poll.
        self._file_stats: dict[Path, tuple[tuple[int, int], str]] = {}

    def start_all(self, *, refresh_index: bool = False) -> list[asyncio.Task[None]]:
        """Start a poll of every source that is not still being polled; return those started.

        Never raises for a single source's failure, and does not wait: the periodic job calls
        this, so a hanging source never holds back the next tick for the others. With
        ``refresh_index`` it also picks up what other processes (``newsbot import``) stored.
        """
        started = []
        sources: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = [
            *((file_source_name(p), partial(self.poll_file, p)) for p in self.settings.files),
            *((url, partial(self.poll_feed, url)) for url in self.settings.feeds),
        ]
        if refresh_index:
            sources.append((_REFRESH, self._refresh_index))
        for name, poll in sources:
            if self._busy(name):
                log.debug("%s: the previous poll is still running; not started again", name)
                continue
            if self.shared and name != _REFRESH:
                poll = partial(self._if_due, name, poll)
            task = asyncio.create_task(self._isolated(name, poll()), name=f"poll {name}")
            self._polls[name] = task
            task.add_done_callback(partial(self._forget, name))
            started.append(task)
        return started

    async def poll_all(self) -> None:
        """Poll every source once (concurrently) and wait until those polls are done; each is
        bounded by ``feed_timeout``. Never raises for a single source's failure."""
        started = self.start_all()
        if started:
            await asyncio.gather(*started)

    async def _if_due(self, name: str, poll: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Poll ``name`` unless some process polled it within this interval."""
        if await self.store.claim_source_poll(name, time.time(),
                                              self.settings.poll_seconds * 0.9):
            await poll()

    async def _refresh_index(self) -> None:
        try:
            await self.ingestor.refresh_index()
        except Exception:  # not a source: nothing to record in /stats, the next tick retries
            log.exception("could not pick up releases stored by other processes")

    def _busy(self, name: str) -> bool:
        poll, thread = self._polls.get(name), self._threads.get(name)
        return (poll is not None and not poll.done()) or (thread is not None and not thread.done())

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._polls.get(name) is task:
            del self._polls[name]

    async def _isolated(self, name: str, poll: Coroutine[Any, Any, None]) -> None:
        """Run one source's poll; whatever goes wrong (a locked database, a bug) is recorded
        against that source and the others go on. Fetching a feed and reading a file are
        bounded by ``feed_timeout``; storing what they brought is not (a big first sync may
        take long, and cutting it short would only make it start over)."""
        try:
            await poll
        except StoreUnavailable as exc:  # nothing of this poll was stored; next poll retries
            if not isinstance(exc, StoreGone):  # that one stops the bot with its own line
                log.error("polling %s: %s", name, exc)
            return
        except Exception as exc:
            log.exception("polling %s failed", name)
            await self._record_failure(name, f"{type(exc).__name__}: {exc}")

    async def _record_failure(self, name: str, error: str) -> None:
        with contextlib.suppress(Exception):  # the store itself may be what failed
            state = await self.store.source_state(name) or SourceState(name)
            await self._failed(state, time.time(), error)

    async def _in_thread(self, name: str, work: Callable[[], Any]) -> Any:
        """``work()`` in a worker thread, given up on after ``feed_timeout`` seconds."""
        future = asyncio.ensure_future(asyncio.to_thread(work))
        self._threads[name] = future
        limit = self.settings.feed_timeout
        try:
            async with asyncio.timeout(limit):
                return await asyncio.shield(future)  # a cancelled wait leaves the thread be
        except TimeoutError:
            raise SourceError(name.removeprefix("file:"), None,
                              f"timeout: not read within {limit:g} s") from None

    async def poll_file(self, path: Path) -> None:
        name = file_source_name(path)
        state = await self.store.source_state(name) or SourceState(name)
        now = time.time()
        try:
            stat = path.stat()
        except OSError as exc:
            await self._failed(state, now, f"cannot read {path}: {exc.strerror or exc}")
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        seen = self._file_stats.get(path)
        retry = state.last_error is not None
        if seen and seen[0] == stamp and seen[1] == state.fingerprint and not retry:
            # Untouched since the last successful poll: not even read.
            await self.store.save_source_state(replace(state, last_poll_at=now))
            return
        known = None if retry else state.fingerprint
        try:
            fingerprint, releases = await self._in_thread(
                name, lambda: _read_and_parse(path, self.settings.max_file_bytes, known,
                                              self.settings.language))
        except SourceError as exc:
            await self._failed(state, now, str(exc))
            return
        self._file_stats[path] = (stamp, fingerprint)
        if releases is None:  # same content as last time (only touched)
            await self.store.save_source_state(replace(state, last_poll_at=now))
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
        metrics.source_error(state.name)
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

    def in_progress(self) -> list[asyncio.Task[None]]:
        """The polls running now (one task per source at most)."""
        return [t for t in self._polls.values() if not t.done()]

    async def close(self) -> None:
        """Stop the polls in progress and close the HTTP client."""
        polls = self.in_progress()
        for task in polls:
            task.cancel()
        if polls:
            await asyncio.gather(*polls, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _read_and_parse(path: Path, max_bytes: int, known: str | None,
                    language: str) -> tuple[str, list[Release] | None]:
    """A file's fingerprint and releases (None when its fingerprint is ``known``): one read,
    capped at ``max_bytes``, run in a worker thread."""
    content = read_file(path, max_bytes)
    fingerprint = hashlib.sha256(content).hexdigest()
    if fingerprint == known:
        return fingerprint, None
    return fingerprint, parse_file(content, str(path), language)
