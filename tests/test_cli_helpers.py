"""Small pieces of the CLI: the progress bar and the log filter that hides the token."""

from __future__ import annotations

import io
import logging

from bot.logsetup import RedactSecrets
from bot.progress import ProgressBar


def test_progress_bar_draws_only_when_asked_or_on_a_terminal() -> None:
    stream = io.StringIO()
    with ProgressBar(2000, label="big.json", stream=stream) as bar:  # not a terminal
        bar.advance(2000)
    assert stream.getvalue() == ""
    with ProgressBar(2000, label="big.json", stream=stream, force=True) as bar:
        bar.advance(1000)
        bar.advance(1000)
    assert "big.json [" in stream.getvalue() and "2000/2000" in stream.getvalue()


def test_token_is_redacted_from_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(["123:SECRET"]))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("POST https://api.telegram.org/bot%s/getMe", "123:SECRET")
        try:
            raise RuntimeError("url https://api.telegram.org/bot123:SECRET/x failed")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "123:SECRET" not in text and text.count("<token>") >= 2, text
