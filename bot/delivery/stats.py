"""What the delivery loop has done since start-up, counted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeliveryStats:
    """Counters since start-up of one :class:`~bot.delivery.Deliverer` (for a look from a
    debugger or a test: nothing else reads them)."""

    sent: int = 0
    plain_text: int = 0
    retried: int = 0
    failed: int = 0
    chats_ended: int = 0
    migrated: int = 0
    rate_limited: int = 0
