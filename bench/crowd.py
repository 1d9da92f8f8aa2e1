"""Crowd benchmark: N people write to the bot in the same second, then more during a fan-out.

The real bot (``bot.app.running``, as ``newsbot run`` starts it) long-polls the Bot API
emulator, which enforces Telegram's limits (30 messages/s overall, 1/s per private chat,
20/min per group) and answers 429 beyond them; ``--burst 1`` (the default) allows no burst to
one chat, like a strict Telegram.

1. **Crowd:** ``--people`` new users each send ``/subscribe trafficking`` or ``/search coal`` at
   once. Counted: replies, right replies (checked by content), people with no reply or more
   than one, 429s, and the time to the last reply (target: about N/30 s + a few seconds).
2. **During a fan-out:** one new release goes to ``--fanout`` subscribed chats (600: about
   20 s of sending at Telegram's limit); meanwhile ``--writers`` more people write, one every
   ``--every`` seconds. Their reply latency p50/p95 (target: a second or two, not after the
   broadcast) and the 429s of this phase.

    python bench/crowd.py [--people 300] [--fanout 600] [--writers 40] [--busy]

Prints the figures with PASS/FAIL for each target; exits non-zero when one fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as `python bench/crowd.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bench.busy import busy_core  # noqa: E402
from bot.app import build_application, running  # noqa: E402
from bot.config import (  # noqa: E402
    DeliverySettings,
    Settings,
    SourceSettings,
    StorageSettings,
    TelegramSettings,
)
from bot.context import Services  # noqa: E402
from bot.emulator import Emulator, FloodLimits  # noqa: E402
from bot.releases import Release  # noqa: E402

TOKEN = "434343:crowd-benchmark"
SUBSCRIBE, SEARCH = "/subscribe trafficking", "/search coal"
TOPIC = "child labour"
NEW_RELEASE = Release(
    id="2004-11-02-bench-crowd-child-labour", kind="Press release",
    title="New ILO report: millions of children still in hazardous work",
    date=date(2004, 11, 2), place="GENEVA",
    summary="The ILO's programme on the elimination of child labour publishes new figures on "
            "children in hazardous work in agriculture, mining and domestic service.",
    url="https://www.ilo.org/global/about-the-ilo/newsroom/news/bench-crowd",
    topics=("child labour",))
#: Seconds without any new bot message after which the crowd is taken to be answered.
QUIET = 2.0
#: Reply latency during the fan-out: p95 within this many seconds.
DURING_TARGET = 2.0


def right_reply(command: str, text: str) -> bool:
    """Whether ``text`` answers ``command`` (not an error, not someone else's answer)."""
    if command == SUBSCRIBE:
        return text.startswith("✅ Subscribed") and "trafficking" in text
    return "Small coal mine operators in Hunan" in text


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def quiet(emu: Emulator, seconds: float, limit: float) -> None:
    """Until the bot has sent nothing new for ``seconds`` (or ``limit`` seconds passed)."""
    deadline = time.monotonic() + limit
    count, since = len(emu.sent()), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < seconds:
        await asyncio.sleep(0.1)
        if len(emu.sent()) != count:
            count, since = len(emu.sent()), time.monotonic()


async def crowd(emu: Emulator, people: int) -> dict[str, Any]:
    chats = []
    for n in range(people):
        user = emu.add_user(f"Person {n}")
        chats.append((user, emu.private_chat(user), SUBSCRIBE if n % 2 else SEARCH))
    before_429 = emu.count_429
    start = time.monotonic()
    for user, chat, command in chats:
        emu.send_message(chat, command, from_user=user)
    last = start
    answered: set[int] = set()
    deadline = start + people / 30 + 60
    while len(answered) < people and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        for _user, chat, _command in chats:
            if chat["id"] not in answered and emu.sent(chat["id"]):
                answered.add(chat["id"])
                last = time.monotonic()
    await quiet(emu, QUIET, 30)
    replies = {chat["id"]: emu.sent(chat["id"]) for _u, chat, _c in chats}
    right = sum(1 for _u, chat, command in chats
                if any(right_reply(command, m.get("text", "")) for m in replies[chat["id"]]))
    return {
        "people": people,
        "replies": sum(len(r) for r in replies.values()),
        "answered": sum(1 for r in replies.values() if r),
        "right": right,
        "none": sum(1 for r in replies.values() if not r),
        "several": sum(1 for r in replies.values() if len(r) > 1),
        "429": emu.count_429 - before_429,
        "last": last - start,
    }


async def during_fanout(emu: Emulator, svc: Services, subscribers: int, writers: int,
                        every: float) -> dict[str, Any]:
    key = svc.topics.parse(TOPIC).key
    chat_ids = set()
    for n in range(subscribers):
        chat_id = emu.private_chat(emu.add_user(f"Reader {n}"))["id"]
        await svc.store.save_chat(chat_id, "private")
        await svc.store.add_subscription(chat_id, 0, key)
        chat_ids.add(chat_id)
    before_429 = emu.count_429
    start = time.monotonic()
    await svc.ingestor.ingest([NEW_RELEASE], "bench", notify=True)

    def alerts() -> int:
        return sum(1 for c in chat_ids if emu.sent(c))

    while alerts() < 5:  # the fan-out is under way
        await asyncio.sleep(0.01)
    latencies: list[float] = []
    wrong = 0

    async def write(n: int) -> None:
        nonlocal wrong
        user = emu.add_user(f"Writer {n}")
        chat = emu.private_chat(user)
        command = SUBSCRIBE if n % 2 else SEARCH
        sent = time.monotonic()
        emu.send_message(chat, command, from_user=user)
        await emu.wait_for_messages(chat["id"], 1, timeout=120)
        latencies.append(time.monotonic() - sent)
        if not right_reply(command, emu.sent(chat["id"])[0].get("text", "")):
            wrong += 1

    tasks = []
    for n in range(writers):
        tasks.append(asyncio.create_task(write(n)))
        await asyncio.sleep(every)
    writing_ended = alerts()
    await asyncio.gather(*tasks)
    while alerts() < subscribers and time.monotonic() - start < subscribers / 10 + 60:
        await asyncio.sleep(0.05)
    return {
        "subscribers": subscribers,
        "delivered": alerts(),
        "alerts_when_writing_ended": writing_ended,
        "writers": writers,
        "wrong": wrong,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies, default=float("nan")),
        "429": emu.count_429 - before_429,
        "fanout_seconds": time.monotonic() - start,
    }


async def run(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    limits = FloodLimits(per_second=30, per_chat_per_second=1, per_group_per_minute=20,
                         burst=args.burst)
    async with Emulator(limits=limits) as emu:
        emu.add_bot(TOKEN, username="crowd_bench_bot")
        settings = Settings(
            telegram=TelegramSettings(token=TOKEN, api_base_url=emu.base_url, poll_timeout=1),
            storage=StorageSettings(database=f"sqlite:///{workdir / 'crowd.sqlite3'}"),
            sources=SourceSettings(files=(ROOT / "data" / "releases.json",),
                                   poll_seconds=3600.0),
            delivery=DeliverySettings(),
            topics_file=ROOT / "data" / "topics.toml",
        )
        async with running(build_application(settings)) as svc:
            first = await crowd(emu, args.people)
            second = await during_fanout(emu, svc, args.fanout, args.writers, args.every)
    return first, second


def report(first: dict[str, Any], second: dict[str, Any]) -> bool:
    people = first["people"]
    target_last = people / 30 + 5
    checks = [
        (f"crowd of {people}: {first['answered']} answered, {first['replies']} replies",
         first["answered"] == people),
        (f"right replies: {first['right']}/{people}", first["right"] == people),
        (f"people with no reply: {first['none']}, with more than one: {first['several']}",
         first["none"] == 0 and first["several"] == 0),
        (f"429s from the emulator (crowd): {first['429']} (target 0)", first["429"] == 0),
        (f"last reply {first['last']:.1f} s after they wrote (target <= N/30 + 5 = "
         f"{target_last:.0f} s)", first["last"] <= target_last),
        (f"fan-out to {second['subscribers']} chats: {second['delivered']} delivered in "
         f"{second['fanout_seconds']:.1f} s; {second['alerts_when_writing_ended']} had gone "
         f"when the last writer wrote", second["delivered"] == second["subscribers"]),
        (f"{second['writers']} people writing during it: reply latency p50 "
         f"{second['p50']:.2f} s, p95 {second['p95']:.2f} s, max {second['max']:.2f} s "
         f"(target p95 <= {DURING_TARGET:g} s), wrong replies {second['wrong']}",
         second["p95"] <= DURING_TARGET and second["wrong"] == 0),
        (f"429s from the emulator (fan-out): {second['429']} (target 0)", second["429"] == 0),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=300, help="people writing at once")
    parser.add_argument("--fanout", type=int, default=600,
                        help="subscribed chats the release goes to in the second phase")
    parser.add_argument("--writers", type=int, default=40,
                        help="people writing during the fan-out, one every --every seconds")
    parser.add_argument("--every", type=float, default=0.25,
                        help="seconds between two writers during the fan-out")
    parser.add_argument("--burst", type=float, default=1.0,
                        help="messages one chat may take back to back (1: a strict Telegram)")
    parser.add_argument("--busy", action="store_true",
                        help="run a CPU-bound process beside it (the other core busy)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the bot does")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"crowd: {args.people} people at once, then {args.writers} writing during a fan-out "
          f"to {args.fanout} chats; emulator limits 30/s overall, 1/s per chat, burst "
          f"{args.burst:g}{'; another core busy' if args.busy else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="newsbot-crowd-") as tmp, busy_core(args.busy):
        first, second = asyncio.run(run(args, Path(tmp)))
    return 0 if report(first, second) else 1


if __name__ == "__main__":
    sys.exit(main())
