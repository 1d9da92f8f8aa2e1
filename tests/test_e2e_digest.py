"""End to end: digests through the emulator, with the clock moved by the test (bot.clock)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot import clock
from bot.app import build_application, running
from bot.config import Settings, SourceSettings
from bot.emulator import Emulator
from bot.permissions import GROUP_REFUSAL
from bot.render import MAX_MESSAGE, telegram_length
from tests.helpers import BotHarness, eventually, make_settings, quiet
from tests.test_e2e_alerts import NEW_MINING, NEW_TRAFFICKING, append_release, stored

#: A Tuesday morning, before the default digest time (08:00 UTC).
START = "2024-11-05T06:00:00+00:00"


class FakeClock:
    """What bot.clock.now answers; the test moves it forward."""

    def __init__(self) -> None:
        self.t = datetime.fromisoformat(START).timestamp()

    def __call__(self) -> float:
        return self.t

    def set(self, when: str) -> None:
        self.t = datetime.fromisoformat(when).timestamp()


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def digest_settings(emulator: Emulator, tmp_path: Path, releases_file: Path) -> Settings:
    return dataclasses.replace(make_settings(tmp_path, emulator.base_url), sources=SourceSettings(
        files=(releases_file,), poll_seconds=0.3))


@pytest.fixture
async def digest_bot(emulator: Emulator, digest_settings: Settings,
                     fake_clock: FakeClock) -> AsyncIterator[BotHarness]:
    app = build_application(digest_settings)
    async with running(app) as services:
        yield BotHarness(emulator, services, digest_settings, emulator.add_user("Ada"), app)


def texts(emu: Emulator, chat_id: int, since: int) -> list[str]:
    return [m["text"] for m in emu.sent(chat_id)[since:]]


async def test_daily_digest_arrives_once_at_its_time_with_what_matched(
        digest_bot: BotHarness, releases_file: Path, fake_clock: FakeClock) -> None:
    emu, chat = digest_bot.emu, digest_bot.chat["id"]
    [answer] = await digest_bot.ask("/subscribe trafficking daily")
    assert "daily digest at 08:00 (UTC)" in answer["text"]
    assert "It matches 2 of the 10 releases so far." in answer["text"]
    assert "so far so far" not in answer["text"]
    await digest_bot.ask("/subscribe mekong daily")  # matches the same release: shown once
    before = len(emu.sent(chat))
    append_release(releases_file, NEW_TRAFFICKING)
    append_release(releases_file, NEW_MINING)
    await stored(digest_bot, NEW_MINING["title"])
    await quiet(digest_bot)
    assert len(emu.sent(chat)) == before  # no alert: it waits for the digest

    fake_clock.set("2024-11-05T08:00:01+00:00")
    await emu.wait_for_messages(chat, before + 1)
    await quiet(digest_bot)
    [digest] = texts(emu, chat, before)
    assert "Your daily digest: 1 new release" in digest
    assert digest.count(NEW_TRAFFICKING["title"]) == 1
    assert NEW_MINING["title"] not in digest
    rows = await digest_bot.services.store.outbox_rows(chat)
    assert [r.status for r in rows] == ["sent"]

    # The next day nothing new matched: no message at all.
    fake_clock.set("2024-11-06T08:00:01+00:00")
    await quiet(digest_bot)
    assert len(emu.sent(chat)) == before + 1


async def test_long_digest_comes_in_several_messages(
        digest_bot: BotHarness, releases_file: Path, fake_clock: FakeClock) -> None:
    emu, chat = digest_bot.emu, digest_bot.chat["id"]
    await digest_bot.ask("/subscribe daily")  # every new release, daily
    before = len(emu.sent(chat))
    data = json.loads(releases_file.read_text())
    titles = [f"Report {n} on <safety> & health at work" + " in many sectors" * 12
              for n in range(40)]
    data += [{"title": t, "date": "2004-11-04", "summary": "S.",
              "url": f"https://example.org/r/{n}?a=1&b=2"} for n, t in enumerate(titles)]
    releases_file.write_text(json.dumps(data))
    await stored(digest_bot, titles[-1])
    fake_clock.set("2024-11-05T08:00:01+00:00")
    await all_sent(digest_bot, chat, 40)
    await quiet(digest_bot)
    parts = emu.sent(chat)[before:]
    assert len(parts) >= 2
    assert all(telegram_length(p["text"]) <= MAX_MESSAGE for p in parts)
    assert all(f"40 new releases ({n}/{len(parts)})" in p["text"]
               for n, p in enumerate(parts, 1))
    joined = "\n".join(p["text"] for p in parts)
    for title in titles:  # every release once, none lost, none repeated
        assert joined.count(" ".join(title.split())) == 1


async def all_sent(bot: BotHarness, chat_id: int, count: int) -> None:
    """Wait until the chat has ``count`` outbox rows, all sent."""
    async def sent() -> bool:
        rows = await bot.services.store.outbox_rows(chat_id)
        return len(rows) == count and all(r.status == "sent" for r in rows)

    await eventually(sent, timeout=30, what=f"all {count} digest rows sent")


async def test_digest_due_while_down_is_sent_once_at_start(
        emulator: Emulator, digest_settings: Settings, releases_file: Path,
        fake_clock: FakeClock) -> None:
    user = emulator.add_user("Ada")
    async with running(build_application(digest_settings)) as services:
        bot = BotHarness(emulator, services, digest_settings, user)
        await bot.ask("/subscribe trafficking daily")
        append_release(releases_file, NEW_TRAFFICKING)
        await stored(bot, NEW_TRAFFICKING["title"])
    before = len(emulator.sent(user["id"]))
    fake_clock.set("2024-11-05T20:00:00+00:00")  # the bot was down at 08:00
    for _run in range(2):  # a second restart must not send it again
        app = build_application(digest_settings)
        async with running(app) as services:
            if _run == 0:
                await emulator.wait_for_messages(user["id"], before + 1)
            await quiet(BotHarness(emulator, services, digest_settings, user, app))
    sent = texts(emulator, user["id"], before)
    assert len(sent) == 1 and NEW_TRAFFICKING["title"] in sent[0]


async def test_weekly_digest_goes_out_on_monday(
        digest_bot: BotHarness, releases_file: Path, fake_clock: FakeClock) -> None:
    emu, chat = digest_bot.emu, digest_bot.chat["id"]
    [answer] = await digest_bot.ask("/subscribe mining weekly")
    assert "weekly digest on Mondays at 08:00" in answer["text"]
    before = len(emu.sent(chat))
    append_release(releases_file, NEW_MINING)
    await stored(digest_bot, NEW_MINING["title"])
    fake_clock.set("2024-11-06T08:00:01+00:00")  # Wednesday: not yet
    await quiet(digest_bot)
    assert len(emu.sent(chat)) == before
    fake_clock.set("2024-11-11T08:00:01+00:00")  # Monday
    await emu.wait_for_messages(chat, before + 1)
    [digest] = texts(emu, chat, before)
    assert "Your weekly digest: 1 new release" in digest and NEW_MINING["title"] in digest


async def test_instant_switches_back_and_sends_what_waited(
        digest_bot: BotHarness, releases_file: Path) -> None:
    await digest_bot.ask("/subscribe trafficking daily")
    append_release(releases_file, NEW_TRAFFICKING)
    await stored(digest_bot, NEW_TRAFFICKING["title"])
    [answer, alert] = await digest_bot.ask("/subscribe trafficking instant", count=2)
    assert "now gets “trafficking” as instant alerts again" in answer["text"]
    assert NEW_TRAFFICKING["title"] in alert["text"] and "Alert:" in alert["text"]
    [listing] = await digest_bot.ask("/subscriptions")
    assert "1. trafficking · instant alerts" in listing["text"]
    [again] = await digest_bot.ask("/subscribe trafficking")
    assert "already subscribed" in again["text"] and "instant alerts" in again["text"]


async def test_subscriptions_show_cadence_and_mixed_chats_get_instant_alerts_only_for_instant(
        digest_bot: BotHarness, releases_file: Path) -> None:
    emu, chat = digest_bot.emu, digest_bot.chat["id"]
    await digest_bot.ask("/subscribe mining")
    await digest_bot.ask("/subscribe trafficking weekly")
    [answer] = await digest_bot.ask("/subscribe trafficking daily")
    assert "now gets “trafficking”, as a daily digest" in answer["text"]
    [listing] = await digest_bot.ask("/subscriptions")
    assert "1. mining · instant alerts" in listing["text"]
    assert "2. trafficking · daily digest" in listing["text"]
    before = len(emu.sent(chat))
    append_release(releases_file, NEW_TRAFFICKING)
    append_release(releases_file, NEW_MINING)
    await emu.wait_for_messages(chat, before + 1)
    await quiet(digest_bot)
    [alert] = texts(emu, chat, before)
    assert NEW_MINING["title"] in alert  # the digest topic's release waits


async def test_digest_time_zone_and_replanning(
        digest_bot: BotHarness, releases_file: Path, fake_clock: FakeClock) -> None:
    emu, chat = digest_bot.emu, digest_bot.chat["id"]
    [shown] = await digest_bot.ask("/digest")
    assert "daily at 08:00 (UTC)" in shown["text"]
    await digest_bot.ask("/subscribe trafficking daily")
    append_release(releases_file, NEW_TRAFFICKING)
    await stored(digest_bot, NEW_TRAFFICKING["title"])
    [answer] = await digest_bot.ask("/digest 9:30 europe/paris")
    assert "daily at 09:30 (Europe/Paris)" in answer["text"]
    assert "1 release waiting for a digest moves" in answer["text"]
    before = len(emu.sent(chat))
    fake_clock.set("2024-11-05T08:15:00+00:00")  # 09:15 in Paris (winter time): not yet
    await quiet(digest_bot)
    assert len(emu.sent(chat)) == before
    fake_clock.set("2024-11-05T08:30:01+00:00")  # 09:30 in Paris
    await emu.wait_for_messages(chat, before + 1)
    assert NEW_TRAFFICKING["title"] in emu.sent(chat)[-1]["text"]
    [shown] = await digest_bot.ask("/digest")
    assert "09:30 (Europe/Paris)" in shown["text"]


@pytest.mark.parametrize("argument, problem", [
    ("25:00", "not a time of day"), ("8:00 Mars/Olympus", "not a time zone"),
    ("8:00 UTC now", "Give a time"), ("<b>", "not a time of day")])
async def test_bad_digest_time_gets_usage(digest_bot: BotHarness, argument: str,
                                          problem: str) -> None:
    [answer] = await digest_bot.ask(f"/digest {argument}")
    assert problem in answer["text"] and "Usage: /digest HH:MM" in answer["text"]
    [shown] = await digest_bot.ask("/digest")
    assert "08:00 (UTC)" in shown["text"]  # nothing changed


async def test_group_members_may_not_change_digests(digest_bot: BotHarness) -> None:
    emu = digest_bot.emu
    admin, member = emu.add_user("Grace"), emu.add_user("Bob")
    group = emu.add_group("Team", members={admin["id"]: "administrator",
                                           member["id"]: "member"})
    [refused] = await digest_bot.ask("/digest 10:00", chat=group, from_user=member)
    assert refused["text"] == _plain(GROUP_REFUSAL)
    [refused] = await digest_bot.ask("/subscribe mining daily", chat=group, from_user=member)
    assert refused["text"] == _plain(GROUP_REFUSAL)
    [shown] = await digest_bot.ask("/digest", chat=group, from_user=member)  # looking is fine
    assert "08:00 (UTC)" in shown["text"]
    [done] = await digest_bot.ask("/digest 10:00 Asia/Tokyo", chat=group, from_user=admin)
    assert "10:00 (Asia/Tokyo)" in done["text"]


def _plain(html: str) -> Any:
    return html.replace("<code>", "").replace("</code>", "")


async def test_a_digest_failing_halfway_does_not_resend_the_parts_already_sent(
        digest_bot: BotHarness, releases_file: Path, fake_clock: FakeClock) -> None:
    emu, chat = digest_bot.emu, digest_bot.chat["id"]
    await digest_bot.ask("/subscribe daily")
    before = len(emu.sent(chat))
    data = json.loads(releases_file.read_text())
    titles = [f"Bulletin {n:02d} " + "on decent work " * 16 for n in range(30)]
    titles = [t.strip() for t in titles]
    data += [{"title": t, "date": "2004-11-04", "summary": "S."} for t in titles]
    releases_file.write_text(json.dumps(data))
    await stored(digest_bot, titles[-1])
    fake_clock.set("2024-11-05T08:00:01+00:00")
    await emu.wait_for_messages(chat, before + 1)
    emu.faults.add("sendMessage", chat_id=chat, error=500)  # the next part fails once
    store = digest_bot.services.store

    async def failed() -> list[Any] | None:
        rows = await store.outbox_rows(chat)
        return rows if any(r.last_error for r in rows) else None

    # Until the failure is recorded: the rest waits for a retry.
    rows = await eventually(failed, what="the failed part recorded")
    sent_first = [r for r in rows if r.status == "sent"]
    assert 0 < len(sent_first) < 30
    fake_clock.t += 60  # past the retry time
    await all_sent(digest_bot, chat, 30)
    await quiet(digest_bot)
    joined = "\n".join(texts(emu, chat, before))
    for title in titles:
        assert joined.count(title) == 1
