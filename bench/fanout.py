"""Fan-out benchmark: one new release to many subscribed private chats, within Telegram's limits.

Everything is the real code path except Telegram itself: a release file polled by the real
``SourcePoller`` (as the ``poll-sources`` job does), the real ``Ingestor`` writing release and
outbox rows in one transaction, the real ``Deliverer`` sending through ``telegram.Bot`` over
HTTP to the Bot API emulator, which enforces Telegram's flood limits (30 messages/s overall,
1/s per chat) and answers 429 when they are exceeded.

The new release is written to the file just after a poll, so the measured time to the first
delivery includes a whole poll interval: the worst case a subscriber sees.

    python bench/fanout.py [--chats 1000] [--poll-seconds 2] [--busy]

``--busy`` keeps the machine's other core busy with a CPU-bound process meanwhile: the pace
must hold (no 429, no catch-up burst) when the event loop is not the only thing running.

Prints the achieved messages/s, the 429 count, and the time from the release appearing to the
first and to the last delivery, with PASS/FAIL for each target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import telegram
from telegram.request import HTTPXRequest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as `python bench/fanout.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bench.busy import busy_core  # noqa: E402
from bot.config import DeliverySettings, SourceSettings  # noqa: E402
from bot.delivery import Deliverer  # noqa: E402
from bot.emulator import Emulator, FloodLimits  # noqa: E402
from bot.ingest import Ingestor  # noqa: E402
from bot.poller import SourcePoller  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.topics import TopicMatcher  # noqa: E402

TOKEN = "424242:fanout-benchmark"
TOPIC = "child labour"
NEW_RELEASE = {
    "id": "2004-11-02-bench-child-labour",
    "kind": "Press release",
    "title": "New ILO report: millions of children still in hazardous work",
    "date": "2004-11-02",
    "place": "GENEVA",
    "summary": "The ILO's programme on the elimination of child labour publishes new figures "
               "on children in hazardous work in agriculture, mining and domestic service.",
    "url": "https://www.ilo.org/global/about-the-ilo/newsroom/news/bench",
    "topics": ["child labour"],
}

#: Targets from the issue.
MIN_RATE = 28.0


@dataclass
class Result:
    """What one run measured."""

    chats: int
    delivered: int
    rate: float
    count_429: int
    first_after: float
    last_after: float
    poll_seconds: float
    outbox: dict[str, int]


async def poll_loop(poller: SourcePoller, every: float, polled: asyncio.Event) -> None:
    """What the JobQueue's "poll-sources" job does: poll every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        await poller.poll_all()
        polled.set()


async def run(chats: int, poll_seconds: float, limits: FloodLimits,
              delivery: DeliverySettings, workdir: Path) -> Result:
    releases_file = workdir / "releases.json"
    shipped = json.loads((ROOT / "data" / "releases.json").read_text(encoding="utf-8"))
    releases_file.write_text(json.dumps(shipped), encoding="utf-8")

    topics_file = ROOT / "data" / "topics.toml"
    matcher = (TopicMatcher.from_file(topics_file) if topics_file.is_file()
               else TopicMatcher.default())
    store = await Store.open(f"sqlite:///{workdir / 'fanout.sqlite3'}")
    ingestor = Ingestor(store, SearchIndex(), matcher)
    poller = SourcePoller(SourceSettings(files=(releases_file,), poll_seconds=poll_seconds),
                          store, ingestor)
    try:
        async with Emulator(limits=limits) as emu:
            emu.add_bot(TOKEN)
            topic_key = matcher.parse(TOPIC).key
            chat_ids = []
            for n in range(chats):
                chat_id = emu.private_chat(emu.add_user(f"Reader {n}"))["id"]
                await store.save_chat(chat_id, "private")
                await store.add_subscription(chat_id, 0, topic_key)
                chat_ids.append(chat_id)
            await poller.poll_all()  # the first sync of a source is silent

            request = HTTPXRequest(connection_pool_size=64, read_timeout=delivery.request_timeout,
                                   write_timeout=delivery.request_timeout)
            async with telegram.Bot(TOKEN, base_url=emu.base_url, request=request) as bot:
                deliverer = Deliverer(bot, store, delivery, ingestor.deliveries_added)
                await deliverer.acquire_lock()
                deliverer.start()
                polled = asyncio.Event()
                polling = asyncio.create_task(poll_loop(poller, poll_seconds, polled))
                try:
                    await polled.wait()  # just polled: the next poll is a whole interval away
                    releases_file.write_text(json.dumps([*shipped, NEW_RELEASE]),
                                             encoding="utf-8")
                    appeared = time.time()
                    print(f"release written at +0.0 s; waiting for {chats} deliveries "
                          f"(about {chats / limits.per_second:.0f} s at Telegram's limit)...",
                          flush=True)
                    await emu.wait_for(lambda: emu.stats.messages_sent >= chats,
                                       timeout=poll_seconds + 10 + 3 * chats / MIN_RATE)
                finally:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
                    await deliverer.stop()
                    await deliverer.release_lock()

            ok = sorted(r.time for r in emu.requests if r.method == "sendMessage" and r.ok)
            per_chat = {c: len(emu.sent(c)) for c in chat_ids}
            delivered = sum(1 for n in per_chat.values() if n >= 1)
            duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
            if duplicates:
                print(f"warning: {duplicates} duplicate messages", flush=True)
            first, last = ok[0], ok[-1]
            rate = (len(ok) - 1) / (last - first) if last > first else float("inf")
            outbox = (await store.stats())["outbox"]
            return Result(chats, delivered, rate, emu.count_429, first - appeared,
                          last - appeared, poll_seconds, outbox)
    finally:
        await poller.close()
        await store.close()


def report(result: Result) -> bool:
    """Print the figures and PASS/FAIL per target; True when every target is met."""
    checks = [
        (f"delivered to every chat ({result.delivered}/{result.chats})",
         result.delivered == result.chats),
        (f"sustained rate {result.rate:.1f} messages/s (target >= {MIN_RATE:g})",
         result.rate >= MIN_RATE),
        (f"429 responses: {result.count_429} (target 0)", result.count_429 == 0),
        (f"first delivery {result.first_after:.2f} s after the release appeared "
         f"(target <= poll_seconds + 1 = {result.poll_seconds + 1:g} s)",
         result.first_after <= result.poll_seconds + 1),
        (f"last delivery {result.last_after:.2f} s after the release appeared", True),
        (f"outbox rows marked sent: {result.outbox}",
         result.outbox == {"sent": result.chats}),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=1000, help="subscribed private chats")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="how often the release file is polled")
    parser.add_argument("--rate", type=float, default=30.0,
                        help="messages/s: both the emulator's limit and [delivery]'s setting")
    parser.add_argument("--busy", action="store_true",
                        help="run a CPU-bound process beside it (the other core busy)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the bot does")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = FloodLimits(per_second=args.rate, per_chat_per_second=1, per_group_per_minute=20)
    delivery = DeliverySettings(messages_per_second=args.rate)
    print(f"fan-out: 1 release -> {args.chats} private chats, emulator limits "
          f"{args.rate:g}/s overall, 1/s per chat; poll every {args.poll_seconds:g} s"
          f"{'; another core busy' if args.busy else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="newsbot-fanout-") as tmp, busy_core(args.busy):
        result = asyncio.run(run(args.chats, args.poll_seconds, limits, delivery, Path(tmp)))
    return 0 if report(result) else 1


if __name__ == "__main__":
    sys.exit(main())
