"""Scale-out benchmark: several ``newsbot run`` processes on one PostgreSQL, webhook mode.

A fresh PostgreSQL database, the Bot API emulator (in this process, enforcing Telegram's
limits strictly: 30 messages/s overall, 1/s per chat, no burst beyond one second's worth),
and N real ``newsbot run`` subprocesses with the same config, each with its own
``--listen`` port; the emulator plays Telegram and the TLS proxy, pushing updates to one of
them. S private chats are subscribed to a topic; a new release appended to the release file
is picked up by the source-polling leader and fanned out by every process together.

1. One fan-out: the overall rate (first to last alert seen), 429s, duplicates.
2. A second fan-out, and ``kill -9`` of the source-polling leader once a third of it is out:
   lost alerts (chats that never get it), duplicates, the time until another process holds
   the sources lease, and the time to finish the fan-out.

    python bench/scale_out.py [--processes 3] [--subscribers 600] [--paid]

``--paid`` sets ``paid_broadcast = true`` and ``messages_per_second = 1000`` (the emulator
then counts alerts against its 1000/s paid-broadcast limit) to see the rate this machine
reaches. Needs PostgreSQL on ``NEWSBOT_BENCH_POSTGRES_URL`` (default: the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as `python bench/scale_out.py` from a checkout
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bot.emulator import Emulator, FloodLimits  # noqa: E402
from bot.store import Store  # noqa: E402

TOKEN = "515151:scale-out-benchmark"
SERVER = os.environ.get("NEWSBOT_BENCH_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/postgres")
PUBLIC = "https://bot.example.org/"
SECRET = "scale-out-bench-secret_0123456789"
TOPIC = "coal"


def release(n: int) -> dict[str, str]:
    return {"id": f"bench-scale-{n}", "kind": "Press release", "date": "2004-11-03",
            "title": f"Coal mine safety week, part {n}", "place": "GENEVA",
            "summary": "Mining accidents fall where coal mines keep the ILO's safety code."}


async def create_database() -> tuple[str, str]:
    name = f"newsbot_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(SERVER)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, SERVER.rpartition("/")[0] + "/" + name


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(SERVER)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def write_config(folder: Path, emu: Emulator, database: str, releases: Path,
                 paid: bool) -> Path:
    config = folder / "bench.toml"
    delivery = ("paid_broadcast = true\nmessages_per_second = 1000\n" if paid else "")
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{emu.base_url}"\n'
        f'webhook_url = "{PUBLIC}telegram/hook"\nwebhook_secret = "{SECRET}"\n'
        f'[storage]\ndatabase = "{database}"\n'
        f'[sources]\nfiles = ["{releases}"]\npoll_seconds = 1\n'
        f'[delivery]\ninterval_seconds = 0.5\n{delivery}'
        f'[search]\ntopics_file = "{ROOT / "data" / "topics.toml"}"\n')
    return config


async def start(config: Path, port: int, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        "--listen", f"127.0.0.1:{port}", stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("wb"), cwd=str(ROOT), env=os.environ.copy())


async def holder(store: Store, name: str) -> str | None:
    async with store.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT owner FROM locks WHERE name = :n"),
                                   {"n": name})).scalar()


class Watch:
    """Counts the alerts of one release per chat, as the emulator stores them."""

    def __init__(self, emu: Emulator, chats: list[int], title: str) -> None:
        self.emu, self.chats, self.title = emu, chats, title
        self.first: float | None = None
        self.last: float | None = None
        self.seen = 0

    def counts(self) -> list[int]:
        return [sum(1 for m in self.emu.sent(c) if self.title in m.get("text", ""))
                for c in self.chats]

    def look(self) -> int:
        total = sum(1 for n in self.counts() if n)
        now = time.monotonic()
        if total and self.first is None:
            self.first = now
        if total > self.seen:
            self.seen, self.last = total, now
        return total

    def rate(self) -> float:
        if self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return (self.seen - 1) / (self.last - self.first)


async def wait_until(check, timeout: float, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(step)
    return False


async def main(args: argparse.Namespace) -> int:
    name, url = await create_database()
    limits = FloodLimits(per_second=30, per_chat_per_second=1, per_group_per_minute=20,
                         burst=1)
    procs: list[asyncio.subprocess.Process] = []
    rows: list[tuple[str, str]] = []
    try:
        async with Emulator(limits=limits) as emu:
            emu.add_bot(TOKEN, username="scale_bench_bot")
            folder = Path(tempfile.mkdtemp(prefix="newsbot-scale-"))
            releases = folder / "releases.json"
            releases.write_text((ROOT / "data" / "releases.json").read_text())
            store = await Store.open(url)
            users = [emu.add_user(f"U{n}") for n in range(args.subscribers)]
            chats = [emu.private_chat(u)["id"] for u in users]
            for chat in chats:
                await store.save_chat(chat, "private")
                await store.add_subscription(chat, 0, TOPIC)
            config = write_config(folder, emu, url, releases, args.paid)
            ports = [18300 + n for n in range(args.processes)]
            emu.route_webhook(PUBLIC, f"http://127.0.0.1:{ports[-1]}/")
            for n, port in enumerate(ports):
                procs.append(await start(config, port, folder / f"p{n}.log"))

            async def started() -> bool:
                hooks = sum(1 for r in emu.requests if r.method == "setWebhook")
                return hooks >= len(procs) and await holder(store, "sources") is not None

            if not await wait_until(started, 120):
                print("the processes did not start; logs in", folder)
                return 1
            await asyncio.sleep(3)  # every process up (webhook set, first index built)

            # -- 1: one fan-out ------------------------------------------------------------
            before_429 = emu.stats.flood_429
            data = json.loads(releases.read_text())
            data.append(release(1))
            releases.write_text(json.dumps(data))
            watch = Watch(emu, chats, release(1)["title"])

            async def done() -> bool:
                return watch.look() == len(chats)

            await wait_until(done, 600, 0.1)
            await asyncio.sleep(2)
            counts = watch.counts()
            rows += [("fan-out: alerts delivered", f"{sum(1 for c in counts if c)} / {len(chats)}"),
                     ("fan-out: rate (first to last)", f"{watch.rate():.1f} msg/s"),
                     ("fan-out: 429 answers", str(emu.stats.flood_429 - before_429)),
                     ("fan-out: duplicates", str(sum(c - 1 for c in counts if c > 1)))]

            if len(procs) < 2:  # nobody to take over: the first part is the whole story
                await store.close()
                return print_table(args, rows)

            # -- 2: kill -9 the leader mid fan-out ----------------------------------------------
            before_429 = emu.stats.flood_429
            data.append(release(2))
            releases.write_text(json.dumps(data))
            watch = Watch(emu, chats, release(2)["title"])

            async def a_third() -> bool:
                return watch.look() >= len(chats) // 3

            await wait_until(a_third, 300, 0.05)
            leader = await holder(store, "sources") or ""
            victim = next(p for p in procs if leader.endswith(f":{p.pid}"))
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            killed = time.monotonic()

            async def taken_over() -> bool:
                return (await holder(store, "sources") or leader) != leader

            await wait_until(taken_over, 60, 0.1)
            takeover = time.monotonic() - killed
            await wait_until(done, 600, 0.1)
            finished = time.monotonic() - killed
            await asyncio.sleep(2)
            counts = watch.counts()
            rows += [("kill -9 leader: lost", str(sum(1 for c in counts if not c))),
                     ("kill -9 leader: duplicates", str(sum(c - 1 for c in counts if c > 1))),
                     ("kill -9 leader: sources lease taken over after", f"{takeover:.1f} s"),
                     ("kill -9 leader: fan-out finished after", f"{finished:.1f} s"),
                     ("kill -9 leader: 429 answers", str(emu.stats.flood_429 - before_429)),
                     ("kill -9 leader: rate (first to last)", f"{watch.rate():.1f} msg/s")]
            await store.close()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        await drop_database(name)
    return print_table(args, rows)


def print_table(args: argparse.Namespace, rows: list[tuple[str, str]]) -> int:
    mode = "paid broadcast, 1000/s" if args.paid else "30/s"
    print(f"\n{args.processes} processes, {args.subscribers} subscribers, PostgreSQL, "
          f"webhook mode, {mode}\n")
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=600)
    parser.add_argument("--paid", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
