"""Logging for the CLI: readable lines on stderr, and the bot token never printed."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: What a Telegram bot token looks like (``123456789:AA...``), so it is hidden even when the
#: program does not know it (a config that failed to load, a token pasted into a URL).
_TOKEN_SHAPE = re.compile(r"\b\d{3,}:[A-Za-z0-9_-]{20,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secrets and anything shaped like a bot token as ``<token>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<token>")
    return _TOKEN_SHAPE.sub("<token>", text)


class RedactSecrets(logging.Filter):
    """Replaces secrets (the bot token, which sits in every Bot API URL) in log records."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message, self.secrets)
        if hidden != message:
            record.msg, record.args = hidden, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            hidden = redact(text, self.secrets)
            if hidden != text:
                record.exc_info, record.exc_text = None, hidden
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
    # PTB logs a traceback for any answer that is not JSON (a web server's 404 page) before
    # raising the error the caller reports in one line.
    logging.getLogger("telegram.request.BaseRequest").setLevel(
        logging.DEBUG if verbose else logging.CRITICAL)
