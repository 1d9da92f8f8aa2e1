"""The ``newsbot`` command: run, import, search, demo.

Every failure a user can cause ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.config import TOKEN_ENV, ConfigError, Settings, load_settings, with_listen
from bot.delivery import DeliveryLockHeld
from bot.logsetup import configure_logging, redact
from bot.numbers import parse_count
from bot.progress import ProgressBar
from bot.releases import Release
from bot.search import QueryError, SearchIndex
from bot.sources import SourceError, load_file
from bot.store import StoreError

log = logging.getLogger("newsbot")

#: The most results ``newsbot search --limit`` prints.
MAX_LIMIT = 10_000


class CliError(Exception):
    """A user-facing failure: printed as ``newsbot: error: ...``, exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "search":
        args.query += extra  # "-china" is a word to leave out, not an option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, CliError, StoreError, SourceError, DeliveryLockHeld) as exc:
        return _fail(str(exc), 2 if isinstance(exc, ConfigError) else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # whatever else: still one line, never a traceback
        log.debug("the error in full", exc_info=True)  # shown with --verbose
        return _fail(describe_failure(exc), 1)


def _fail(message: str, status: int) -> int:
    """Print one line on stderr, with the bot token (known or token-shaped) hidden."""
    line = " ".join(redact(message, [os.environ.get(TOKEN_ENV, "")]).split())
    print(f"newsbot: error: {line}", file=sys.stderr)
    return status


def describe_failure(exc: BaseException) -> str:
    """An unexpected exception as one readable line (the kinds a user can cause first)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"the disk is full{f' ({exc.filename})' if exc.filename else ''}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to be read"
    if isinstance(exc, MemoryError):
        return "out of memory"
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    if orig is not None:
        return f"database error: {type(orig).__name__}: {orig}"[:400]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:400] if text else type(exc).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="A Telegram bot serving press releases.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="PATH",
                       help="TOML config file (default: ./config.toml if present)")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        return p

    run = with_config(sub.add_parser("run", help="run the bot (long polling or webhook)"))
    run.add_argument("--listen", metavar="HOST:PORT",
                     help="serve the webhook, /healthz and /metrics here (overrides "
                          "[server] listen)")
    run.set_defaults(handler=cmd_run)

    imp = with_config(sub.add_parser("import", help="import release files into the store"))
    imp.add_argument("paths", nargs="+", metavar="PATH",
                     help="JSON, JSON Lines, RSS/Atom or plain-text listing files")
    imp.add_argument("--no-alerts", action="store_true",
                     help="store new releases without alerting subscribers (for archives)")
    imp.set_defaults(handler=cmd_import)

    search = with_config(sub.add_parser("search", help="search the releases"))
    search.add_argument("query", nargs="+", help="search words and filters")
    search.add_argument("--limit", type=_positive_int, default=10, metavar="N")
    search.add_argument("--json", action="store_true", help="print a JSON array")
    search.set_defaults(handler=cmd_search)

    demo = sub.add_parser("demo", help="talk to the bot through a local Telegram emulator")
    demo.add_argument("--interactive", action="store_true", help="type the messages yourself")
    demo.add_argument("--webhook", action="store_true",
                      help="receive updates by webhook (pushed) instead of long polling")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the bot's logs")
    demo.set_defaults(handler=cmd_demo)
    return parser


def _positive_int(text: str) -> int:
    value = parse_count(text, 1, MAX_LIMIT)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.listen is not None:
        settings = with_listen(settings, args.listen)
    token = settings.require_token()
    secret = settings.telegram.webhook_secret  # a very short one would blank common letters
    configure_logging(args.verbose, secrets=[token, secret if len(secret) >= 8 else ""])
    return asyncio.run(_run(settings))


async def _run(settings: Settings) -> int:
    from bot.app import build_application, running
    from bot.server import ListenError

    app = build_application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running(app) as svc:
            log.info("newsbot is running as @%s against %s (Ctrl+C stops it)",
                     app.bot.username, settings.telegram.api_base_url)
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(svc.fatal.wait())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if svc.store.gone:
                raise CliError(svc.store.gone)
            log.info("stopping")
    except ListenError as exc:
        raise CliError(f"{exc} ([server] listen or --listen)") from None
    except InvalidToken as exc:
        raise CliError(_refused(settings, exc)) from None
    except NetworkError as exc:
        raise CliError(f"cannot reach the Bot API at {settings.telegram.api_base_url}: "
                       f"{exc}") from None
    except TelegramError as exc:
        raise CliError(f"Telegram error at start-up: {exc}") from None
    return 0


def _refused(settings: Settings, exc: InvalidToken) -> str:
    """Why getMe was refused. PTB raises InvalidToken for 401 and 404 alike; only 401 means
    Telegram refused the token, a 404 is most often a wrong URL (a path that is no Bot API)."""
    url = settings.telegram.api_base_url
    # PTB's getMe re-raises with a message holding the token; the answer is in the cause.
    answer = str(exc.__cause__ or exc)
    if "unauthorized" in answer.lower() or "(401)" in answer:
        return (f"Telegram refused the bot token (401 Unauthorized) at {url}: check "
                f"[telegram] token or {TOKEN_ENV} ({settings.where})")
    return (f"the Bot API URL {url} answered 404 Not Found to getMe: check [telegram] "
            f"api_base_url ({settings.where}); Telegram also answers 404 to a token that is "
            f"not complete")


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(args.verbose, level=logging.WARNING)  # the summary lines say it all
    batches = []
    for raw in args.paths:  # parse everything first: a bad file must leave the store untouched
        path = Path(raw)
        if path.is_dir():
            raise CliError(f"{path}: is a folder; name the release files in it")
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        try:
            batches.append((path, load_file(path, max_bytes=settings.sources.max_file_bytes,
                                            language=settings.sources.language)))
        except SourceError as exc:
            others = " (none of the files was imported)" if len(args.paths) > 1 else ""
            raise CliError(f"{exc}{others}") from None
    return asyncio.run(_import(settings, batches, alerts=not args.no_alerts))


async def _import(settings: Settings, batches: list[tuple[Path, list[Release]]], *,
                  alerts: bool) -> int:
    from bot.app import open_services

    svc = await open_services(settings, load_index=False)  # it only writes
    try:
        for path, releases in batches:
            with ProgressBar(len(releases), label=path.name) as bar:
                result = await svc.ingestor.ingest(
                    releases, f"import:{path.resolve()}", notify=alerts, progress=bar.advance)
            line = (f"{path}: {len(result.new)} new, {len(result.updated)} updated, "
                    f"{result.unchanged} unchanged")
            if result.deliveries:
                line += f"; {result.deliveries} alerts queued"
            print(line)
    finally:
        await svc.store.close()
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(args.verbose, level=logging.WARNING)
    return asyncio.run(_search(settings, " ".join(args.query), args.limit, args.json))


async def _search(settings: Settings, query: str, limit: int, as_json: bool) -> int:
    index = await _index_for(settings)
    try:
        result = index.search(query, limit=limit)
    except QueryError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print(json.dumps([{**h.release.to_dict(), "score": round(h.score, 2)}
                          for h in result.hits], ensure_ascii=False, indent=2))
        return 0
    if not result.hits:
        hint = f" Did you mean: {result.suggestion}?" if result.suggestion else ""
        print(f"Nothing found for {query!r}.{hint}")
        return 0
    if result.partial:
        hint = f" Did you mean: {result.suggestion}?" if result.suggestion else ""
        print(f"No release has all of these words; these have some of them.{hint}")
    for hit in result.hits:
        r = hit.release
        meta = " · ".join(p for p in (r.date.isoformat(), r.place, r.kind) if p)
        print(f"{hit.score:6.1f}  {r.title}\n        {meta}  [{r.id}]")
    print(f"({len(result.hits)} of {result.total})")
    return 0


async def _index_for(settings: Settings) -> SearchIndex:
    """The index the bot would search: the store's releases plus the configured files.

    The files are read, not stored: a search changes nothing (the bot's poller stores them).
    """
    from bot.app import open_services

    svc = await open_services(settings)
    await svc.store.close()
    for path in settings.sources.files:
        try:
            svc.index.add_many(load_file(path, max_bytes=settings.sources.max_file_bytes,
                                         language=settings.sources.language))
        except SourceError as exc:
            log.warning("skipping a configured source: %s", exc)
        except OSError as exc:
            log.warning("skipping a configured source: %s: %s", path, exc.strerror or exc)
    return svc.index


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    configure_logging(args.verbose, level=logging.ERROR)
    return asyncio.run(run_demo(interactive=args.interactive, webhook=args.webhook))


if __name__ == "__main__":
    sys.exit(main())
