"""/search through the running bot: as fast with 100,000 stored releases as with the 10 shipped.

The real bot (``bot.app.running``) long-polls the Bot API emulator over HTTP; this script
plays a user, sends each query as a ``/search`` message and times the round trip to the
bot's answer. It measures once on the shipped data, then stores 100,000 synthetic releases
(``bench/corpus.py``) through the real ingest path and measures again.

    python bench/bot_search.py [--releases 100000] [--rounds 5]

Prints p50 / p99 round-trip times for both sizes and their ratio, plus /latest and
/subscribe (which counts the matches of a topic over every release) for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as `python bench/bot_search.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bench.corpus import generate_releases  # noqa: E402
from bot.app import build_application, running  # noqa: E402
from bot.config import (  # noqa: E402
    Settings,
    SourceSettings,
    StorageSettings,
    TelegramSettings,
)
from bot.emulator import Emulator  # noqa: E402

TOKEN = "555555:bot-search-benchmark"
QUERIES = ("trafficking", "trafiking", "coal mine", "safety and health", "mongolia",
           "construction workers", "child labour", "migrant workers", "social security",
           "employment since:2004-09", '"coal mine"', "country:china training")
#: /search at 100k passes when its median round trip is within this factor of the one at 10.
TARGET_RATIO = 1.5


async def round_trip(emu: Emulator, chat: dict, user: dict, text: str) -> float:
    before = len(emu.sent(chat["id"]))
    start = time.perf_counter()
    emu.send_message(chat, text, from_user=user)
    await emu.wait_for_messages(chat["id"], before + 1, timeout=60)
    return (time.perf_counter() - start) * 1000


async def measure(emu: Emulator, chat: dict, user: dict, texts: list[str],
                  rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for text in texts:
            times.append(await round_trip(emu, chat, user, text))
            await asyncio.sleep(0.02)
    return times


def describe(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def run(releases: int, rounds: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        async with Emulator() as emu:
            emu.add_bot(TOKEN)
            settings = Settings(
                telegram=TelegramSettings(token=TOKEN, api_base_url=emu.base_url,
                                          poll_timeout=1),
                storage=StorageSettings(database=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"),
                sources=SourceSettings(files=(ROOT / "data" / "releases.json",),
                                       poll_seconds=3600.0),
                topics_file=ROOT / "data" / "topics.toml",
            )
            async with running(build_application(settings)) as services:
                user = emu.add_user("Bench")
                chat = emu.private_chat(user)
                searches = [f"/search {q}" for q in QUERIES]
                await measure(emu, chat, user, searches[:3], 1)  # warm up
                small = await measure(emu, chat, user, searches, rounds)
                small_latest = await measure(emu, chat, user, ["/latest 5"], rounds)

                corpus = generate_releases(releases, seed=42)
                start = time.perf_counter()
                await services.ingestor.ingest(corpus, "bench", notify=False)
                stored = time.perf_counter() - start
                large = await measure(emu, chat, user, searches, rounds)
                large_latest = await measure(emu, chat, user, ["/latest 5"], rounds)
                subscribe = await measure(emu, chat, user, ["/subscribe migrant workers"], 1)
                size = len(services.index)

    s50, s99 = describe(small)
    l50, l99 = describe(large)
    ratio = l50 / s50
    print(f"/search round trip through the bot ({len(QUERIES)} queries x {rounds} rounds, "
          "real HTTP to the emulator)")
    print(f"  {'releases':>9}  {'p50 ms':>7}  {'p99 ms':>7}  {'/latest p50 ms':>14}")
    print(f"  {10:>9}  {s50:7.1f}  {s99:7.1f}  {describe(small_latest)[0]:14.1f}")
    print(f"  {size:>9}  {l50:7.1f}  {l99:7.1f}  {describe(large_latest)[0]:14.1f}")
    print(f"storing and indexing {releases} releases took {stored:.1f} s; "
          f"/subscribe (counting matches over all of them) took {subscribe[0]:.0f} ms")
    ok = ratio <= TARGET_RATIO
    print(f"{'PASS' if ok else 'FAIL'}  p50 at {size} is {ratio:.2f}x the p50 at 10 "
          f"(target <= {TARGET_RATIO}x)")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return 0 if asyncio.run(run(args.releases, args.rounds)) else 1


if __name__ == "__main__":
    sys.exit(main())
