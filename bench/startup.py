"""Start-up time and memory of the real bot with 10,000 / 50,000 / 100,000 stored releases.

For each size this stores synthetic releases (``bench/corpus.py``) in a SQLite file, then
starts ``newsbot`` in a subprocess (``bot.app.running``, as ``newsbot run`` does) against the
Bot API emulator running here, twice: *cold* (no index snapshot: the index is rebuilt in the
background) and *warm* (the snapshot the cold run wrote). It measures, from the moment the
process is spawned (interpreter start and imports included):

- getMe and the first getUpdates (the bot is serving),
- when the search index is ready, and when the first ``/search`` sent at once is answered,
- peak RSS of the bot process in MB (psutil, sampled every 10 ms, and the kernel's
  high-water mark ``maxrss``), until the index is ready and over the whole run (which
  includes writing the snapshot).

    python bench/startup.py [--sizes 10000,50000,100000]

Targets (issue 8): start to serving <= 3 s and peak RSS <= 300 MB at 100,000 releases, both
cold (the index rebuilt) and warm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as `python bench/startup.py` from a checkout
    sys.path.insert(0, str(ROOT))

TOKEN = "777777:startup-benchmark"
SERVING_TARGET_S = 3.0
RSS_TARGET_MB = 300.0


# -- the bot, in its own process ---------------------------------------------------------------


async def child(database: str, base_url: str) -> None:
    """Run the bot until stdin closes; report on stdout when the index is ready."""
    from bot.app import build_application, running
    from bot.config import Settings, SourceSettings, StorageSettings, TelegramSettings

    settings = Settings(
        telegram=TelegramSettings(token=TOKEN, api_base_url=base_url, poll_timeout=1),
        storage=StorageSettings(database=database),
        sources=SourceSettings(files=(), poll_seconds=3600.0),
        topics_file=ROOT / "data" / "topics.toml",
    )
    async with running(build_application(settings)) as svc:
        await svc.ingestor.index_ready.wait()
        print(json.dumps({"ready": time.time(), "releases": len(svc.index)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB -> MB
    print(json.dumps({"maxrss_mb": peak}), flush=True)


# -- the measuring side ------------------------------------------------------------------------


async def build_store(path: Path, count: int) -> None:
    from bench.corpus import generate_releases
    from bot.store import Store

    store = await Store.open(f"sqlite:///{path}")
    try:
        await store.upsert_releases(generate_releases(count, seed=42), "bench")
    finally:
        await store.close()


async def measure(emu: object, database: str, *, query: str = "/search migrant workers"
                  ) -> dict[str, float]:
    import psutil

    from bot.emulator import Emulator

    assert isinstance(emu, Emulator)
    seen = len(emu.requests)
    spawned = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", database, emu.base_url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    watched = psutil.Process(proc.pid)
    peak = {"to_ready": 0.0, "all": 0.0}
    ready_flag = asyncio.Event()

    async def sample() -> None:
        while proc.returncode is None:
            try:
                rss = watched.memory_info().rss / 1e6
            except psutil.Error:
                return
            peak["all"] = max(peak["all"], rss)
            if not ready_flag.is_set():
                peak["to_ready"] = max(peak["to_ready"], rss)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())

    def first(method: str) -> float | None:
        for record in emu.requests[seen:]:
            if record.method == method and record.token == TOKEN:
                return record.time
        return None

    while first("getUpdates") is None:
        if proc.returncode is not None:
            raise RuntimeError("the bot exited before polling")
        await asyncio.sleep(0.005)
    get_me, polling = first("getMe"), first("getUpdates")
    user = emu.add_user("Bench")
    chat = emu.private_chat(user)
    before = len(emu.sent(chat["id"]))
    asked = time.time()
    emu.send_message(chat, query, from_user=user)
    await emu.wait_for_messages(chat["id"], before + 1, timeout=300)
    answered = time.time()
    loading = "still loading" in emu.sent(chat["id"])[-1]["text"]
    assert proc.stdout is not None and proc.stdin is not None
    ready = json.loads(await proc.stdout.readline())
    ready_flag.set()
    proc.stdin.close()  # stop the bot: it saves the snapshot if the index changed
    done = json.loads(await proc.stdout.readline())
    await proc.wait()
    sampler.cancel()
    return {
        "getme": (get_me or spawned) - spawned,
        "polling": polling - spawned,
        "ready": ready["ready"] - spawned,
        "answer": answered - spawned,
        "answer_after_ask": answered - asked,
        "loading_reply": float(loading),
        "rss_to_ready": peak["to_ready"],
        "rss_all": peak["all"],
        "maxrss": done["maxrss_mb"],
        "releases": ready["releases"],
    }


async def run(sizes: list[int]) -> bool:
    from bot.emulator import Emulator

    ok = True
    rows = []
    with tempfile.TemporaryDirectory(prefix="newsbot-startup-") as tmp:
        async with Emulator() as emu:
            emu.add_bot(TOKEN)
            for size in sizes:
                path = Path(tmp) / f"store-{size}.sqlite3"
                started = time.perf_counter()
                await build_store(path, size)
                print(f"stored {size:,} releases in {time.perf_counter() - started:.0f} s",
                      flush=True)
                for mode in ("cold", "warm"):
                    if mode == "cold":
                        Path(f"{path}.index").unlink(missing_ok=True)
                    figures = await measure(emu, f"sqlite:///{path}")
                    snap = Path(f"{path}.index")
                    figures["snapshot_mb"] = snap.stat().st_size / 1e6 if snap.exists() else 0
                    rows.append((size, mode, figures))
                    print(_row(size, mode, figures), flush=True)
                    if size >= 100_000:
                        ok &= figures["polling"] <= SERVING_TARGET_S
                        ok &= figures["maxrss"] <= RSS_TARGET_MB
    print()
    print(_HEADER)
    for size, mode, figures in rows:
        print(_row(size, mode, figures))
    print(f"{'PASS' if ok else 'FAIL'}  at 100,000: start to first getUpdates <= "
          f"{SERVING_TARGET_S:.0f} s and peak RSS <= {RSS_TARGET_MB:.0f} MB (cold and warm)")
    return ok


_HEADER = (f"{'releases':>9} {'start':>5} {'getMe s':>8} {'polling s':>9} {'index s':>8} "
           f"{'/search s':>9} {'RSS->ready':>10} {'RSS all':>8} {'maxrss':>7} {'snap MB':>8}")


def _row(size: int, mode: str, f: dict[str, float]) -> str:
    note = " (said: loading)" if f["loading_reply"] else ""
    return (f"{size:>9,} {mode:>5} {f['getme']:8.2f} {f['polling']:9.2f} {f['ready']:8.2f} "
            f"{f['answer']:9.2f} {f['rss_to_ready']:10.0f} {f['rss_all']:8.0f} "
            f"{f['maxrss']:7.0f} {f['snapshot_mb']:8.0f}{note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--child", nargs=2, metavar=("DATABASE", "BASE_URL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        asyncio.run(child(*args.child))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    return 0 if asyncio.run(run(sizes)) else 1


if __name__ == "__main__":
    sys.exit(main())
