"""The emulator's HTTP side: ``/bot<token>/<method>`` on 127.0.0.1, like api.telegram.org.

Requests may carry JSON, form-urlencoded or multipart bodies, or query parameters; in forms,
python-telegram-bot sends strings as they are and everything else JSON-encoded, so form values
are JSON-decoded unless the parameter is a string parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.emulator.errors import ApiError, bad_request
from bot.emulator.faults import FaultInjector
from bot.emulator.limits import FloodLimits
from bot.emulator.methods import BotApi, EmulatorStats
from bot.emulator.users import SimulatedUsers
from bot.emulator.webhooks import PushRecord, WebhookPusher

__all__ = ["ABANDONED", "PENDING", "Emulator", "RequestRecord"]

PENDING = 0  # RequestRecord.status while the call is still being answered (e.g. a long poll)
ABANDONED = 499  # the client hung up before the answer (nginx's "client closed request")

JSON = dict[str, Any]

# Parameters whose form value is a plain string and must not be JSON-decoded ("123" stays text).
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "inline_query_id", "next_offset",
        "url", "description", "short_description", "name", "title", "language_code",
        "custom_title", "query", "emoji", "secret_token", "ip_address", "inline_message_id",
        "business_connection_id", "message_effect_id", "action", "switch_pm_text",
        "switch_pm_parameter", "game_short_name", "cache_time_str",
    }
)  # fmt: skip


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity are not numbers Telegram accepts


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value, parse_constant=_no_constants)
    except ValueError:
        return value


@dataclass
class RequestRecord:
    """One Bot API call as the emulator saw it: for tests to check what the bot did."""

    method: str  # Bot API spelling when known (e.g. "sendMessage"), else as requested
    params: JSON
    status: int  # HTTP status; PENDING (0) until answered, ABANDONED (499) if the client left
    time: float  # time.time() when it arrived
    token: str = ""
    response: JSON = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether Telegram would have said ok."""
        return self.status == 200


class Emulator(SimulatedUsers):
    """A local Telegram Bot API over real HTTP, plus the simulated users of ``SimulatedUsers``.

    Use as ``async with Emulator() as emu:``; point the bot at ``emu.base_url``. Not
    thread-safe: call it from the event loop it runs on.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, limits: FloodLimits | None = None
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.limits = limits
        self.requests: list[RequestRecord] = []
        self.faults = FaultInjector()
        self.stats = EmulatorStats()
        self._api = BotApi(self, limits, self.stats)
        self.webhooks = WebhookPusher(self)
        self._runner: web.AppRunner | None = None
        self._stop_event = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to pass to ``ApplicationBuilder().base_url()`` (PTB appends token and method)."""
        return f"{self._root()}/bot"

    @property
    def base_file_url(self) -> str:
        """What to pass to ``ApplicationBuilder().base_file_url()`` (no files are served)."""
        return f"{self._root()}/file/bot"

    def _root(self) -> str:
        if self._runner is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    def route_webhook(self, public_prefix: str, local_prefix: str) -> None:
        """Play the TLS reverse proxy: pushes to ``public_prefix...`` go to ``local_prefix...``.

        E.g. ``route_webhook("https://bot.example.org/", "http://127.0.0.1:8080/")``.
        """
        self.webhooks.route(public_prefix, local_prefix)

    @property
    def webhook_pushes(self) -> list[PushRecord]:
        """Every POST of an update to a webhook so far, confirmed or not."""
        return self.webhooks.pushes

    @property
    def count_429(self) -> int:
        """How many 429 answers were given (flood limits and injected faults)."""
        return self.stats.count_429

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; ``port`` then holds it)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self.stopping = False
        self._stop_event = asyncio.Event()
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        # A short shutdown timeout: stop() has already released long polls and held answers.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self.webhooks.start()

    async def stop(self) -> None:
        """Answer pending long polls at once and close the server."""
        if self._runner is None:
            return
        self.stopping = True
        self._stop_event.set()
        self.notify()
        runner, self._runner = self._runner, None
        await self.webhooks.stop()
        await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- HTTP -------------------------------------------------------------------------------

    async def _handle_file(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        requested = request.match_info["method"]
        method = BotApi.canonical(requested) or requested
        # Logged on arrival, so a test sees a call (say a pending long poll) while it is open.
        record = RequestRecord(method, {}, PENDING, time.time(), token)
        self.requests.append(record)
        self.stats.requests += 1
        self.stats.by_method[method] += 1
        delay: float | None = None
        try:
            record.params = await self._read_params(request)
            status, body, delay = await self._process(token, method, record.params)
        except ApiError as err:
            status, body = err.code, err.body()
        transport = request.transport
        if transport is None or transport.is_closing():
            # The client hung up first (PTB aborts its pending long poll when it stops): nobody
            # gets this answer, so it is neither an error nor a 429 the bot saw.
            record.status = ABANDONED
            self.stats.abandoned += 1
            self.notify()
            return web.Response(status=ABANDONED)
        record.status, record.response = status, body
        if status != 200:
            self.stats.errors += 1
        if status == 429:
            self.stats.count_429 += 1
        self.notify()
        if delay:
            # Held back, not lost: the call already happened (see faults.py); stop() cuts it short.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)
        return web.json_response(body, status=status)

    async def _process(
        self, token: str, method: str, params: JSON
    ) -> tuple[int, JSON, float | None]:
        bot = self.bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        if BotApi.canonical(method) is None:
            raise ApiError(404, "Not Found")
        fault = self.faults.take(method, self._api.chat_id_of(params))
        if fault is not None:
            answer = fault.response()
            if answer is not None:
                return answer[0], answer[1], fault.delay
        result = await self._api.call(bot, method, params)
        return 200, {"ok": True, "result": result}, fault.delay if fault else None

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            try:
                data = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON body") from None
            if not isinstance(data, dict):
                raise bad_request("can't parse JSON body")
            params.update({k: v for k, v in data.items() if v is not None})
        elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = _decode_form_value(key, value)
                elif not isinstance(value, web.FileField):  # a part sent without a charset
                    params[key] = _decode_form_value(key, bytes(value).decode("utf-8", "replace"))
                else:  # an uploaded file: the emulator keeps only what it was
                    params[key] = {
                        "file_name": value.filename,
                        "content_type": value.content_type,
                        "size": len(value.file.read()),
                    }
        return params
