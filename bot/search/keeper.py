"""The search index's life: loaded from its snapshot (or rebuilt) in the background at start,
saved from a worker thread after changes and at shutdown.

Start-up never waits for the index: the bot calls getMe and starts answering at once while
this loads the snapshot (about a second at 100,000 releases) or, when there is none that
fits, rebuilds the index from the store (tens of seconds). Meanwhile
``Ingestor.index_ready`` is clear: searches wait for it a little (see
:func:`bot.handlers.common.index_ready`), ingest leaves the index alone, and the load then
catches up with everything stored after the snapshot's revision, including what was stored
while the bot was down or during the load.

A search or count naming a taxonomy entry checks its doubtful releases with the topic rule
once (0.5-1.1 s for the biggest entry at 100,000 releases) and keeps the result across index
changes (see :mod:`bot.search.occurrences`). They are not warmed here in advance: counting all
25 bundled entries after a load took 4-6 s of CPU and added ~35 MB to the start-up peak
(331 MB at 100,000 releases, over the 300 MB target), for a second saved once per entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from pathlib import Path

from bot.config import Settings
from bot.ingest import Ingestor
from bot.search import snapshot
from bot.search.memory import release_free_memory

log = logging.getLogger(__name__)

#: A changed index is saved at most this often (and at shutdown), not after every ingest.
SAVE_SECONDS = 300.0
#: After a failed load (the store did not answer), wait this long before trying again.
RETRY_SECONDS = 5.0


def snapshot_path(settings: Settings) -> Path | None:
    """Where the index snapshot lives: ``[search] index_path``, else beside the SQLite file
    (``newsbot.sqlite3.index``), else ``data/newsbot.index`` in the config's folder.

    None for an in-memory database, which has nothing to come back to.
    """
    if settings.index_path is not None:
        return settings.index_path
    url = settings.storage.database
    if url.startswith("sqlite"):
        file = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
        return Path(file + ".index") if file and file != ":memory:" else None
    base = settings.path.parent if settings.path is not None else Path.cwd()
    return base / "data" / "newsbot.index"


class IndexKeeper:
    """Loads, catches up and saves one ingestor's search index (see the module docstring)."""

    def __init__(self, ingestor: Ingestor, path: Path | None, *,
                 save_seconds: float = SAVE_SECONDS) -> None:
        self.ingestor = ingestor
        self.path = path
        self.save_seconds = save_seconds
        self._store_id = ""
        self._fingerprint = ""
        self._saved_changes = 0
        self._save_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[int] | None = None

    def start(self) -> None:
        """Begin loading in the background; ``ingestor.index_ready`` is set when done."""
        self.ingestor.index_ready.clear()
        self._task = asyncio.create_task(self._run(), name="search-index")

    async def stop(self) -> None:
        """Stop the background work and save the index if it changed since the last save."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing
        if self.ingestor.index_ready.is_set():
            await self.save()

    async def _run(self) -> None:
        await self.load()
        while True:
            await asyncio.sleep(self.save_seconds)
            await self.save()

    async def load(self, *, save: bool = True) -> None:
        """Load the snapshot or rebuild, catch up with the store, then set ``index_ready``.

        With ``save``, a rebuilt or caught-up index is written back at once.
        """
        started = time.perf_counter()
        while True:
            try:
                since = await self._load_snapshot()
                added = await self.ingestor.load_index(since or 0)
                break
            except (asyncio.CancelledError, MemoryError):
                raise
            except Exception as exc:  # the store is down: keep the bot up, try again
                log.error("could not load the search index (%s); retrying in %.0f s",
                          exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
        # What was ingested during the load (its pages may have been read before it was
        # stored) goes in before the index is declared ready; from then on ingest indexes
        # itself. No await between the last look and set(): nothing can slip in between.
        while pending := self.ingestor.take_pending():
            await self.ingestor.add_to_index(pending)
            added += len(pending)
        self.ingestor.index_ready.set()
        # The index is millions of long-lived objects; without this, every full collection
        # walks them all again (pauses of 60-260 ms at 100,000 releases).
        gc.freeze()
        log.info("search index ready: %d releases, %s%s, in %.1f s", len(self.ingestor.index),
                 "built from the store" if since is None else "loaded from its snapshot",
                 f" + {added} stored since" if since is not None and added else "",
                 time.perf_counter() - started)
        if save and (since is None or added):
            await self.save()

    async def _load_snapshot(self) -> int | None:
        """Load the snapshot into the index if it fits: the revision it covers, else None."""
        self._store_id = await self.ingestor.store.instance_id()
        self._fingerprint = await asyncio.to_thread(snapshot.analysis_fingerprint)
        if self.path is None:
            return None
        try:
            found = await asyncio.to_thread(snapshot.load, self.path, store_id=self._store_id,
                                            fingerprint=self._fingerprint)
        except snapshot.SnapshotError as exc:
            log.warning("the search index snapshot is unreadable (%s); rebuilding it", exc)
            return None
        if found is None:
            if self.path.exists():
                log.info("the search index snapshot %s is from another store or an older "
                         "newsbot; rebuilding it", self.path)
            else:
                log.info("no search index snapshot yet (%s); building the index", self.path)
            return None
        self.ingestor.index.restore(found.index)
        self._saved_changes = self.ingestor.index_changes
        return found.revision

    def _written(self, done: asyncio.Future[int], changes: int) -> None:
        if not done.cancelled() and done.exception() is None:
            self._saved_changes = max(self._saved_changes, changes)

    async def save(self) -> bool:
        """Write the snapshot if the index changed since the last one; True if written.

        Runs in a worker thread, reading the index in place (no copy, so no second index in
        memory): searches go on meanwhile, additions to the index wait for the end. A
        failure (disk full, read-only folder) is logged, and the bot goes on without it.
        """
        if self.path is None or not self._store_id:
            return False
        async with self._save_lock, self.ingestor.index_writes:
            changes = self.ingestor.index_changes
            if changes == self._saved_changes:
                return False
            # Every release stored up to this revision is in the index being written.
            revision = self.ingestor.seen_revision
            started = time.perf_counter()
            # A thread cannot be cancelled: when stop() cancels us mid-write, it waits for
            # this write to end rather than start a second one beside it.
            self._writing = asyncio.ensure_future(asyncio.to_thread(
                snapshot.save, self.ingestor.index, self.path, store_id=self._store_id,
                revision=revision, fingerprint=self._fingerprint))
            self._writing.add_done_callback(lambda done: self._written(done, changes))
            try:
                size = await asyncio.shield(self._writing)
            except Exception as exc:
                log.warning("could not write the search index snapshot %s: %s", self.path, exc)
                return False
            await asyncio.to_thread(release_free_memory)  # the frames written (bot.search.memory)
            log.info("search index snapshot written: %s (%.0f MB, %.1f s)", self.path,
                     size / 1e6, time.perf_counter() - started)
            return True
