"""What the delivery loop has done since start-up, counted (logged when it stops)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass
class DeliveryStats:
    """Counters since start-up of one :class:`~bot.delivery.Deliverer`."""

    sent: int = 0
    plain_text: int = 0
    retried: int = 0
    failed: int = 0
    chats_ended: int = 0
    migrated: int = 0
    rate_limited: int = 0


def counts_line(counters: DataclassInstance) -> str:
    """Counters (a dataclass of ints) as one log line: ``sent 1000, plain_text 0, …``."""
    return ", ".join(f"{name} {count}" for name, count in asdict(counters).items())
