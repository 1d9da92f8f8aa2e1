"""Fault injection: make the next matching Bot API calls fail or hang, to test error handling.

Semantics of ``delay`` (chosen for realism): a delayed call is *carried out* at once (a delayed
``sendMessage`` is delivered and shows in ``Emulator.sent()``) and only the HTTP answer is held
back for ``delay`` seconds. A client whose read timeout is shorter sees a timeout for a message
that was in fact sent, which is exactly how "sent twice" happens against the real Telegram.
With both ``delay`` and ``error``, the call is not carried out and the error comes after the delay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "FaultInjector", "FiredFault"]

_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    420: "Flood",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    """One armed fault: the next ``remaining`` calls of ``method`` (to ``chat_id``) misbehave."""

    method: str
    chat_id: int | None
    remaining: int
    error: int | None
    description: str | None
    retry_after: int | None
    delay: float | None

    def matches(self, method: str, chat_id: int | None) -> bool:
        """Whether a call of ``method`` to ``chat_id`` triggers this fault."""
        if self.method != "*" and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def response(self) -> tuple[int, dict[str, Any]] | None:
        """The HTTP status and Telegram-shaped body to answer with, or None for delay only."""
        if self.error is None:
            return None
        body: dict[str, Any] = {"ok": False, "error_code": self.error}
        if self.error == 429:
            retry_after = self.retry_after if self.retry_after is not None else 1
            default = f"Too Many Requests: retry after {retry_after}"
            body["description"] = self.description or default
            body["parameters"] = {"retry_after": retry_after}
        else:
            body["description"] = self.description or _DESCRIPTIONS.get(self.error, "Error")
            if self.retry_after is not None:
                body["parameters"] = {"retry_after": self.retry_after}
        return self.error, body


@dataclass(frozen=True)
class FiredFault:
    """A record of a fault that was applied to a call, for tests to inspect."""

    method: str
    chat_id: int | None
    error: int | None
    delay: float | None
    time: float


@dataclass
class FaultInjector:
    """The armed faults of one emulator; reach it as ``Emulator.faults``."""

    pending: list[Fault] = field(default_factory=list)
    fired: list[FiredFault] = field(default_factory=list)

    def add(
        self,
        method: str = "sendMessage",
        *,
        chat_id: int | None = None,
        times: int = 1,
        error: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"`` for any) fail or hang.

        ``error`` is the HTTP status / ``error_code`` to answer with. It defaults to 500, to 429
        when ``retry_after`` is given, and to no error at all when only ``delay`` is given (the call
        is carried out and its answer held back; see the module docstring). ``chat_id`` restricts
        the fault to calls addressed to that chat (``@username`` calls match the chat's id).
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        if error is None:
            if retry_after is not None:
                error = 429
            elif delay is None:
                error = 500
        if error is not None and not 400 <= error <= 599:
            raise ValueError(f"error must be an HTTP error status, not {error}")
        self.pending.append(Fault(method, chat_id, times, error, description, retry_after, delay))

    def clear(self) -> None:
        """Disarm every pending fault."""
        self.pending.clear()

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        """Consume and return the first fault matching this call, if any (used by the server)."""
        for fault in self.pending:
            if fault.matches(method, chat_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.pending.remove(fault)
                self.fired.append(
                    FiredFault(method, chat_id, fault.error, fault.delay, time.time())
                )
                return fault
        return None
