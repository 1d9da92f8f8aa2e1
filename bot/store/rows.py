"""The values the store hands out and takes: releases' rows, chats, subscriptions, outbox rows.

Plain frozen dataclasses, and the functions that turn database rows into them and back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.digest import INSTANT
from bot.releases import Release, release_key


@dataclass(frozen=True)
class UpsertResult:
    """What an ingest did: releases new to the store, changed ones, and untouched ones."""

    new: list[Release]
    updated: list[Release]
    unchanged: int
    deliveries: int = 0
    #: The release revision this upsert took (each upsert takes one, even storing nothing).
    revision: int = 0


@dataclass(frozen=True)
class Subscription:
    """One chat's (or forum thread's) interest in a topic; ``topic == ""`` means everything.

    ``cadence`` is how its releases go out: "instant", "daily" or "weekly" (see bot.digest).
    """

    id: int
    chat_id: int
    thread_id: int
    topic: str
    created_at: float
    cadence: str = INSTANT


@dataclass(frozen=True)
class Addressed:
    """A release addressed to a chat (or a forum thread of it) because of these topics."""

    release_id: str
    chat_id: int
    thread_id: int
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Delivery(Addressed):
    """An outbox row to create: this release goes to this chat because of these topics."""

    #: "instant": due now; "daily" / "weekly": due at the chat's next digest slot.
    cadence: str = INSTANT


@dataclass(frozen=True)
class OutboxRow(Addressed):
    """A delivery waiting in the outbox (or done with)."""

    id: int
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    #: "" for an alert, else the digest ("daily" / "weekly") this row goes out in.
    digest: str = ""
    claimed_by: str | None = None
    #: The claim's lease (wall clock) while pending; after a send, the chat's next turn.
    claimed_until: float | None = None


@dataclass(frozen=True)
class Chat:
    """A chat the bot knows: private, group, supergroup or channel."""

    id: int
    type: str
    title: str | None
    username: str | None
    active: bool
    #: Chosen with /language (None: not chosen).
    language: str | None = None
    #: The language the chat was last spoken to in, when none was chosen.
    auto_language: str | None = None


@dataclass(frozen=True)
class SourceState:
    """What the store remembers of a source between polls."""

    name: str
    fingerprint: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_poll_at: float | None = None
    last_ok_at: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_poll_at: float | None = None



def release_row(release: Release, source: str | None, now: float,
                 revision: int) -> dict[str, Any]:
    return {
        "key": release_key(release.id), "id": release.id, "kind": release.kind,
        "title": release.title, "date": release.date,
        "place": release.place, "summary": release.summary, "url": release.url,
        "topics": json.dumps(list(release.topics), ensure_ascii=False),
        "language": release.language, "release_group": release.group,
        "source": source, "added_at": now, "updated_at": now, "revision": revision,
    }


def release_from_row(row: Any) -> Release:
    when = row["date"]
    return Release(
        id=row["id"], kind=row["kind"], title=row["title"],
        date=when if isinstance(when, date) else date.fromisoformat(str(when)),
        place=row["place"], summary=row["summary"], url=row["url"],
        topics=tuple(json.loads(row["topics"] or "[]")),
        language=row["language"] or "en", group=row["release_group"],
    )


def outbox_from_row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row["id"], release_id=row["release_id"], chat_id=row["chat_id"],
        thread_id=row["thread_id"], topics=tuple(json.loads(row["topics"] or "[]")),
        status=row["status"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], last_error=row["last_error"],
        digest=row["digest"] or "",
        claimed_by=row.get("claimed_by"), claimed_until=row.get("claimed_until"),
    )


def chat_from_row(row: Any) -> Chat:
    return Chat(id=row["id"], type=row["type"], title=row["title"],
                username=row["username"], active=bool(row["active"]),
                language=row["language"], auto_language=row["auto_language"])
