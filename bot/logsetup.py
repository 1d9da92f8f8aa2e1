"""Logging for the CLI: readable lines on stderr, and the bot token never printed."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    """Replaces secrets (the bot token, which sits in every Bot API URL) in log records."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(s in message for s in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, "<token>")
                record.msg, record.args = message, None
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                if any(s in text for s in self.secrets):
                    for secret in self.secrets:
                        text = text.replace(secret, "<token>")
                    record.exc_info, record.exc_text = None, text
        return True


def configure_logging(verbose: bool = False, *, secrets: Iterable[str] = (),
                      level: int = logging.INFO) -> None:
    """Set up the root logger; httpx request lines (which carry URLs) stay hidden.

    ``level`` applies unless ``verbose`` asks for everything.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else level)
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite", "telegram.ext.ExtBot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
