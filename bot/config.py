"""Settings: a TOML file plus environment variables, turned into one frozen object.

Every error names the key and the file, so a user can fix a bad config from one line.
With no config file the defaults documented in ``config.example.toml`` apply, and relative
paths resolve against the current folder; with a file they resolve against its folder.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from bot.text.languages import LANGUAGES, language_of

DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
#: Keys whose values never appear in error messages.
_SECRET_KEYS = frozenset({"token"})


#: Messages per second Telegram allows one bot: free, and with allow_paid_broadcast.
FREE_LIMIT = 30.0
PAID_BROADCAST_LIMIT = 1000.0


class ConfigError(Exception):
    """A config file or value is unusable; ``str()`` is one line naming the file and key."""


@dataclass(frozen=True)
class TelegramSettings:
    """How to reach the Bot API."""

    token: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    poll_timeout: int = 30
    #: Public HTTPS URL Telegram pushes updates to; empty means long polling.
    webhook_url: str = ""
    #: Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token; required with webhook_url.
    webhook_secret: str = ""


@dataclass(frozen=True)
class BotSettings:
    """Behaviour of the chat side."""

    admins: tuple[int, ...] = ()
    page_size: int = 5
    max_subscriptions_per_chat: int = 50
    #: Chats told when a handler fails (see bot.operators); none by default.
    operator_chats: tuple[int, ...] = ()
    #: At most one notice per kind of error in this many minutes.
    operator_notice_minutes: float = 10.0


@dataclass(frozen=True)
class StorageSettings:
    """Where releases, subscriptions and the outbox live (an async SQLAlchemy URL)."""

    database: str = "sqlite:///data/newsbot.sqlite3"


@dataclass(frozen=True)
class SourceSettings:
    """Where new releases come from and how often they are checked."""

    files: tuple[Path, ...] = (Path("data/releases.json"),)
    feeds: tuple[str, ...] = ()
    poll_seconds: float = 60.0
    #: One source's poll at most: a feed request, or reading and parsing a file.
    feed_timeout: float = 20.0
    #: A release file larger than this is refused before it is read.
    max_file_bytes: int = 10 * 1024 * 1024
    #: The language (en, fr, es) of releases whose source does not say theirs.
    language: str = "en"


@dataclass(frozen=True)
class DeliverySettings:
    """Telegram's sending limits and the retry policy of the outbox."""

    messages_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_group_per_minute: float = 20.0
    interval_seconds: float = 1.0
    max_attempts: int = 8
    backoff_seconds: float = 5.0
    request_timeout: float = 10.0
    #: Send alerts with allow_paid_broadcast (Telegram Stars), allowing up to 1000/s.
    paid_broadcast: bool = False


@dataclass(frozen=True)
class ServerSettings:
    """The HTTP listener (webhook, /healthz, /metrics); ``listen`` None means none."""

    listen: tuple[str, int] | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its config; build it with :func:`load_settings`."""

    path: Path | None = None
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    bot: BotSettings = field(default_factory=BotSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    sources: SourceSettings = field(default_factory=SourceSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    topics_file: Path = Path("data/topics.toml")
    #: The search index snapshot; None: beside the SQLite file (see bot.indexkeeper).
    index_path: Path | None = None

    @property
    def where(self) -> str:
        """The config file's name for messages, or a note that defaults are in use."""
        return str(self.path) if self.path else "(defaults, no config file)"

    def require_token(self) -> str:
        """The bot token, or a :class:`ConfigError` saying where to put it."""
        if not self.telegram.token:
            raise ConfigError(
                f"{self.where}: [telegram] token is missing: set {TOKEN_ENV} "
                "or the token key (get one from @BotFather)"
            )
        return self.telegram.token


def load_settings(path: str | os.PathLike[str] | None = None,
                  env: dict[str, str] | None = None) -> Settings:
    """Read ``path`` (or ``./config.toml`` if it exists) and the environment into settings.

    An explicitly named file that does not exist is an error; a missing default file
    just means defaults.
    """
    env = dict(os.environ) if env is None else env
    if path is None:
        candidate = Path(DEFAULT_CONFIG_NAME)
        file = candidate if candidate.is_file() else None
    else:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{file}: config file not found")
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot read: {exc}") from None
    base = file.resolve().parent if file is not None else Path.cwd()
    return _Reader(raw, str(file) if file else "(defaults)", base).settings(file, env)


class _Reader:
    """Typed access to the raw TOML tables, raising errors that name file and key."""

    _KNOWN: ClassVar[dict[str, set[str]]] = {
        "telegram": {"token", "api_base_url", "poll_timeout", "webhook_url", "webhook_secret"},
        "server": {"listen"},
        "bot": {"admins", "page_size", "max_subscriptions_per_chat", "operator_chats",
                "operator_notice_minutes"},
        "storage": {"database"},
        "sources": {"files", "feeds", "poll_seconds", "feed_timeout", "max_file_bytes",
                    "language"},
        "delivery": {"messages_per_second", "per_chat_per_second", "per_group_per_minute",
                     "interval_seconds", "max_attempts", "backoff_seconds", "request_timeout",
                     "paid_broadcast"},
        "search": {"topics_file", "index_path"},
    }

    def __init__(self, raw: dict[str, Any], where: str, base: Path) -> None:
        self.raw, self.where, self.base = raw, where, base
        for table, value in raw.items():
            if table not in self._KNOWN:
                raise ConfigError(f"{where}: unknown table [{table}]")
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{table}] must be a table")
            for key in value:
                if key not in self._KNOWN[table]:
                    raise ConfigError(f"{where}: [{table}] {key}: unknown key")

    def _get(self, table: str, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.raw.get(table, {}).get(key, default)
        # bool is an int subclass in Python; a `true` where a number belongs is a mistake.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            names = " or ".join(t.__name__ for t in _as_tuple(kind))
            # The token's value is a secret even when it is of the wrong type.
            shown = f"a {type(value).__name__}" if key in _SECRET_KEYS else repr(value)
            raise ConfigError(f"{self.where}: [{table}] {key}: expected {names}, got {shown}")
        return value

    def _number(self, table: str, key: str, default: float, *, minimum: float = 0.0,
                integer: bool = False) -> Any:
        value = self._get(table, key, int if integer else (int, float), default)
        if not math.isfinite(value):  # TOML allows inf and nan; no setting means them
            raise ConfigError(f"{self.where}: [{table}] {key}: expected a finite number, "
                              f"got {value}")
        if value <= minimum:
            raise ConfigError(f"{self.where}: [{table}] {key}: must be greater than {minimum:g}")
        return value

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base / path

    def _str_list(self, table: str, key: str, default: list[str]) -> list[str]:
        values: list[str] = self._get(table, key, list, default)
        for item in values:
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(
                    f"{self.where}: [{table}] {key}: expected a list of strings, got {item!r}")
        return values

    def _ids(self, table: str, key: str, what: str) -> tuple[int, ...]:
        values: list[Any] = self._get(table, key, list, [])
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ConfigError(f"{self.where}: [{table}] {key}: expected a list of numeric {what}")
        return tuple(values)

    def database_url(self) -> str:
        url: str = self._get("storage", "database", str, StorageSettings.database).strip()
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            return prefix + str(self._path(url[len(prefix):]))
        if "://" not in url:
            raise ConfigError(f"{self.where}: [storage] database: not a database URL: {url!r}")
        return url

    def settings(self, file: Path | None, env: dict[str, str]) -> Settings:
        token = env.get(TOKEN_ENV) or self._get("telegram", "token", str, "") or None
        api = self._get("telegram", "api_base_url", str, DEFAULT_API_BASE_URL).rstrip("/")
        if not api.startswith(("http://", "https://")):
            raise ConfigError(f"{self.where}: [telegram] api_base_url: expected an http(s) URL")
        if "{token}" not in api and not urlsplit(api).path:
            # The token is appended to it: with no path it would run into the host or port.
            raise ConfigError(f"{self.where}: [telegram] api_base_url: the token is appended "
                              f"to it, so it needs a path, like {DEFAULT_API_BASE_URL}")
        feeds = self._str_list("sources", "feeds", [])
        for feed in feeds:
            if not feed.startswith(("http://", "https://")):
                raise ConfigError(f"{self.where}: [sources] feeds: not an http(s) URL: {feed!r}")
        source_language = self._get("sources", "language", str, "en")
        if language_of(source_language) != source_language.strip().lower():
            raise ConfigError(f"{self.where}: [sources] language: expected one of "
                              f"{', '.join(LANGUAGES)}, got {source_language!r}")
        d = DeliverySettings()
        webhook_url, webhook_secret = self.webhook()
        return Settings(
            path=file,
            telegram=TelegramSettings(
                token=token.strip() if token else None,
                api_base_url=api,
                poll_timeout=self._number("telegram", "poll_timeout", 30, integer=True),
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
            ),
            bot=BotSettings(
                admins=self._ids("bot", "admins", "user ids"),
                operator_chats=self._ids("bot", "operator_chats", "chat ids"),
                operator_notice_minutes=self._number("bot", "operator_notice_minutes",
                                                     BotSettings.operator_notice_minutes),
                page_size=self._number("bot", "page_size", 5, integer=True),
                max_subscriptions_per_chat=self._number(
                    "bot", "max_subscriptions_per_chat", 50, integer=True),
            ),
            storage=StorageSettings(database=self.database_url()),
            sources=SourceSettings(
                files=tuple(self._path(f) for f in
                            self._str_list("sources", "files", ["data/releases.json"])),
                feeds=tuple(feeds),
                poll_seconds=self._number("sources", "poll_seconds", 60.0),
                feed_timeout=self._number("sources", "feed_timeout", 20.0),
                max_file_bytes=self._number("sources", "max_file_bytes",
                                            SourceSettings.max_file_bytes, integer=True),
                language=source_language.strip().lower(),
            ),
            delivery=DeliverySettings(
                messages_per_second=self.messages_per_second(),
                paid_broadcast=self._get("delivery", "paid_broadcast", bool, False),
                per_chat_per_second=self._number(
                    "delivery", "per_chat_per_second", d.per_chat_per_second),
                per_group_per_minute=self._number(
                    "delivery", "per_group_per_minute", d.per_group_per_minute),
                interval_seconds=self._number("delivery", "interval_seconds", d.interval_seconds),
                max_attempts=self._number("delivery", "max_attempts", d.max_attempts,
                                          integer=True),
                backoff_seconds=self._number("delivery", "backoff_seconds", d.backoff_seconds),
                request_timeout=self._number("delivery", "request_timeout", d.request_timeout),
            ),
            topics_file=self._path(self._get("search", "topics_file", str, "data/topics.toml")),
            server=self.server(),
            index_path=self._index_path(),
        )

    def messages_per_second(self) -> float:
        """The overall rate: Telegram's free limit is 30/s; paid broadcasts allow 1000/s."""
        paid = self._get("delivery", "paid_broadcast", bool, False)
        rate: float = self._number("delivery", "messages_per_second",
                            DeliverySettings.messages_per_second)
        cap = PAID_BROADCAST_LIMIT if paid else FREE_LIMIT
        if rate > cap:
            hint = ("Telegram's limit for paid broadcasts" if paid else
                    "Telegram's free limit; set paid_broadcast = true to go up to "
                    f"{PAID_BROADCAST_LIMIT:g} (paid in Telegram Stars)")
            raise ConfigError(f"{self.where}: [delivery] messages_per_second: at most "
                              f"{cap:g} ({hint}), got {rate:g}")
        return rate

    def webhook(self) -> tuple[str, str]:
        """``[telegram] webhook_url`` and ``webhook_secret``, checked as Telegram checks them."""
        url = self._get("telegram", "webhook_url", str, "").strip()
        secret = self._get("telegram", "webhook_secret", str, "")
        try:
            check_webhook(url, secret)
        except ValueError as exc:
            raise ConfigError(f"{self.where}: [telegram] {exc}") from None
        return url, secret

    def server(self) -> ServerSettings:
        text = self._get("server", "listen", str, "").strip()
        try:
            return ServerSettings(listen=parse_listen(text) if text else None)
        except ValueError as exc:
            raise ConfigError(f"{self.where}: [server] listen: {exc}") from None

    def _index_path(self) -> Path | None:
        value = self._get("search", "index_path", str, "").strip()
        return self._path(value) if value else None


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


#: Paths the listener answers itself (see bot/server.py).
RESERVED_PATHS = frozenset({"/healthz", "/metrics"})

#: What Telegram accepts as a webhook secret_token: 1-256 of A-Z, a-z, 0-9, _ and -.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def check_webhook(url: str, secret: str) -> None:
    """Raise ``ValueError`` (naming the key) unless ``url``/``secret`` are usable together.

    Telegram only pushes to HTTPS URLs, and the secret is what tells Telegram's requests
    from anybody else's, so a webhook without one is refused.
    """
    if not url:
        if secret:
            raise ValueError("webhook_secret: set webhook_url too (or remove the secret)")
        return
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"webhook_url: Telegram requires an https:// URL, got {url!r}")
    if webhook_path(url) in RESERVED_PATHS:
        raise ValueError(f"webhook_url: the path {webhook_path(url)} is taken by the server's "
                         "own endpoint; use another, e.g. /telegram/hook")
    if not secret:
        raise ValueError("webhook_secret: required with webhook_url (1-256 characters of "
                         "A-Z, a-z, 0-9, _ and -)")
    if not _SECRET.fullmatch(secret):
        raise ValueError("webhook_secret: must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                         f"(got {len(secret)} characters)")


def webhook_path(url: str) -> str:
    """The path the listener serves the webhook on: the path of the public URL."""
    return urlsplit(url).path or "/"


def parse_listen(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:8080"`` for IPv6) as ``(host, port)``; ``ValueError`` if not."""
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:8080, got {text!r}")
    if any(c.isspace() for c in host) or ("/" in host):
        raise ValueError(f"not a host name or address: {host!r}")
    return host, int(port)


def with_listen(settings: Settings, text: str) -> Settings:
    """``settings`` listening on ``text`` (``newsbot run --listen``); ConfigError if bad."""
    try:
        listen = parse_listen(text)
    except ValueError as exc:
        raise ConfigError(f"--listen: {exc}") from None
    return replace(settings, server=ServerSettings(listen=listen))
