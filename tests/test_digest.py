"""Digest rules without Telegram: time slots (DST-safe), parsing, rendering, planning, schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import clock
from bot.digest import (
    DAILY,
    INSTANT,
    WEEKLY,
    DigestError,
    DigestItem,
    DigestSchedule,
    next_slot,
    parse_schedule,
    parse_time,
    parse_zone,
    render_digest,
    split_cadence,
    strongest,
)
from bot.releases import Release
from bot.render import MAX_MESSAGE, telegram_length
from bot.store import SCHEMA_VERSION, Delivery, Store


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def release(n: int, title: str = "Release", url: str | None = "https://ilo.org/r") -> Release:
    return Release(id=f"r{n}", kind="Press release", title=f"{title} {n}",
                   date=date(2004, 11, 2), place="Geneva", summary="Summary.",
                   url=url and f"{url}{n}")


# -- time slots -----------------------------------------------------------------------------

def test_daily_slot_is_the_next_time_of_day_in_utc_by_default() -> None:
    schedule = DigestSchedule()
    assert next_slot(ts("2024-11-05T07:59:00+00:00"), schedule, DAILY) == \
        ts("2024-11-05T08:00:00+00:00")
    # At or after the time: tomorrow's.
    assert next_slot(ts("2024-11-05T08:00:00+00:00"), schedule, DAILY) == \
        ts("2024-11-06T08:00:00+00:00")


def test_weekly_slot_is_on_monday() -> None:
    schedule = DigestSchedule(8 * 60, "UTC")
    tuesday = ts("2024-11-05T09:00:00+00:00")
    assert next_slot(tuesday, schedule, WEEKLY) == ts("2024-11-11T08:00:00+00:00")
    monday_early = ts("2024-11-11T07:00:00+00:00")
    assert next_slot(monday_early, schedule, WEEKLY) == ts("2024-11-11T08:00:00+00:00")
    monday_late = ts("2024-11-11T08:30:00+00:00")
    assert next_slot(monday_late, schedule, WEEKLY) == ts("2024-11-18T08:00:00+00:00")


def test_slots_keep_the_local_time_across_daylight_saving() -> None:
    paris = DigestSchedule(8 * 60, "Europe/Paris")
    # Summer time starts on 31 March 2024: 08:00 in Paris is 07:00 UTC before, 06:00 after.
    before = next_slot(ts("2024-03-30T12:00:00+00:00"), paris, DAILY)
    after = next_slot(before, paris, DAILY)
    assert before == ts("2024-03-31T06:00:00+00:00")
    assert after == ts("2024-04-01T06:00:00+00:00")
    assert next_slot(ts("2024-03-29T12:00:00+00:00"), paris, DAILY) == \
        ts("2024-03-30T07:00:00+00:00")
    # A time that does not exist that night (02:30) still gives one slot, that morning.
    gap = next_slot(ts("2024-03-30T12:00:00+00:00"), DigestSchedule(150, "Europe/Paris"), DAILY)
    assert datetime.fromtimestamp(gap, UTC).date() == date(2024, 3, 31)
    # New York, other side of the date line from UTC for an evening time.
    ny = DigestSchedule(22 * 60, "America/New_York")
    assert next_slot(ts("2024-11-05T12:00:00+00:00"), ny, DAILY) == \
        ts("2024-11-06T03:00:00+00:00")


# -- parsing --------------------------------------------------------------------------------

def test_parse_time_and_zone() -> None:
    assert parse_time("8:30") == 510 and parse_time("18:05") == 1085
    assert parse_time("20h15") == 1215
    for bad in ("24:00", "8", "08:60", "noon", "-1:00", "8:5"):
        with pytest.raises(DigestError):
            parse_time(bad)
    assert parse_zone("europe/paris") == "Europe/Paris"
    assert parse_zone("UTC") == "UTC"
    for bad in ("Mars/Olympus", "../etc/passwd", "", "<b>"):
        with pytest.raises(DigestError):
            parse_zone(bad)
    assert parse_schedule("7:00", DigestSchedule(0, "Asia/Tokyo")) == \
        DigestSchedule(420, "Asia/Tokyo")
    with pytest.raises(DigestError):
        parse_schedule("7:00 UTC extra", DigestSchedule())


def test_split_cadence_takes_a_trailing_word() -> None:
    assert split_cadence("child labour daily") == ("child labour", DAILY)
    assert split_cadence("daily") == ("", DAILY)
    assert split_cadence("mining WEEKLY") == ("mining", WEEKLY)
    assert split_cadence("trafficking instant") == ("trafficking", INSTANT)
    assert split_cadence("daily wages") == ("daily wages", None)
    assert strongest([WEEKLY, DAILY]) == DAILY and strongest([DAILY, INSTANT]) == INSTANT


# -- rendering ------------------------------------------------------------------------------

def test_digest_escapes_and_links() -> None:
    item = DigestItem(1, release(1, title="Wages <b>&</b> hours"), ("wages",), DAILY)
    [part] = render_digest([item])
    assert escape("Wages <b>&</b> hours") in part.html
    assert '<a href="https://ilo.org/r1">' in part.html
    assert part.row_ids == (1,)
    assert "1 new release" in part.html and "daily digest" in part.html
    assert "Wages <b>&</b> hours 1" in part.plain and "https://ilo.org/r1" in part.plain


def test_long_digest_is_cut_into_parts_holding_everything_once() -> None:
    items = [DigestItem(n, release(n, title="Long title " * 25), (f"t{n % 3}",), WEEKLY)
             for n in range(1, 61)]
    parts = render_digest(items)
    assert len(parts) > 2
    for n, part in enumerate(parts, 1):
        assert telegram_length(part.html) <= MAX_MESSAGE
        assert telegram_length(part.plain) <= MAX_MESSAGE
        assert f"60 new releases ({n}/{len(parts)})" in part.html
    ids = [i for part in parts for i in part.row_ids]
    assert ids == list(range(1, 61))
    assert render_digest([]) == []


# -- planning and the store -----------------------------------------------------------------

@pytest.fixture
async def store(tmp_path: Path) -> Store:
    return await Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}")


async def test_digest_rows_are_due_at_the_chats_slot(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    now = ts("2024-11-05T10:00:00+00:00")
    monkeypatch.setattr(clock, "now", lambda: now)
    await store.set_digest_schedule(7, DigestSchedule(9 * 60, "Europe/Paris"))

    async with store.ingest_batch() as batch:
        [new] = (await batch.upsert([release(1)])).new
        await batch.enqueue([Delivery(new.id, 7, 0, ("x",), DAILY),
                             Delivery(new.id, 8, 0, ("x",), WEEKLY),
                             Delivery(new.id, 9, 0, ("x",), INSTANT)])
    rows = {r.chat_id: r for r in await store.outbox_rows()}
    assert rows[7].digest == DAILY
    assert rows[7].next_attempt_at == ts("2024-11-06T08:00:00+00:00")  # 09:00 in Paris
    assert rows[8].digest == WEEKLY
    assert rows[8].next_attempt_at == ts("2024-11-11T08:00:00+00:00")
    assert rows[9].digest == "" and rows[9].next_attempt_at <= now + 5
    assert await store.due_digest_rows(7, 0, now) == []
    assert [r.id for r in await store.due_digest_rows(7, 0, now + 86400)] == [rows[7].id]
    # A new time moves the pending row.
    assert await store.set_digest_schedule(7, DigestSchedule(11 * 60, "UTC")) == 1
    [moved] = await store.outbox_rows(7)
    assert moved.next_attempt_at == ts("2024-11-05T11:00:00+00:00")
    await store.close()


async def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    store = await Store.open(url)
    await store.add_subscription(1, 0, "mining")
    async with store.engine.begin() as conn:  # make it look like a database of schema 1
        await conn.execute(sa.text("ALTER TABLE subscriptions DROP COLUMN cadence"))
        await conn.execute(sa.text("ALTER TABLE outbox DROP COLUMN digest"))
        await conn.execute(sa.text("DROP TABLE digest_schedules"))
        await conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    await store.close()
    store = await Store.open(url)
    assert await store.schema_version() == SCHEMA_VERSION
    [sub] = await store.subscriptions(1)
    assert sub.topic == "mining" and sub.cadence == INSTANT
    assert await store.set_cadence(1, 0, "mining", DAILY)
    assert (await store.subscriptions(1))[0].cadence == DAILY
    assert await store.digest_schedule(1) == DigestSchedule()
    await store.close()
