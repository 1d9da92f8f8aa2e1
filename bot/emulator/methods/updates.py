"""Getting updates: long polling (getUpdates) and webhooks (set, delete, info).

Pushing updates to a webhook is ``bot/emulator/webhooks.py``; these methods only keep the
settings it reads.
"""

from __future__ import annotations

import re
import time

from bot.emulator.errors import ApiError, bad_request
from bot.emulator.methods.api import BotApi, api_method
from bot.emulator.methods.params import JSON, get_bool, get_float, get_int, get_json, get_str
from bot.emulator.model import BotState

MAX_POLL_TIMEOUT = 50.0

_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _set_allowed_updates(bot: BotState, params: JSON) -> None:
    """Store ``allowed_updates`` when given; otherwise the previous setting stays, as on
    Telegram."""
    allowed = get_json(params, "allowed_updates", "allowed updates")
    if allowed is not None:
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise bad_request("can't parse allowed updates JSON object")
        bot.allowed_updates = list(allowed)


@api_method("getUpdates")
async def get_updates(api: BotApi, bot: BotState, params: JSON) -> list[JSON]:
    """Long polling: confirm by offset, filter by allowed_updates, wait up to timeout."""
    if bot.webhook_url:
        raise ApiError(409, _CONFLICT_WEBHOOK)
    offset = get_int(params, "offset") or 0
    limit = get_int(params, "limit") or 100
    limit = max(1, min(limit, 100))
    timeout = max(0.0, min(get_float(params, "timeout") or 0.0, MAX_POLL_TIMEOUT))
    _set_allowed_updates(bot, params)
    # A newer poll for the same token ends the older one with 409, as on Telegram.
    bot.poll_generation += 1
    generation = bot.poll_generation
    api.world.notify()
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]
    loop_time = time.monotonic
    deadline = loop_time() + timeout
    while True:
        if bot.poll_generation != generation:
            raise ApiError(409, _CONFLICT_POLL)
        if bot.webhook_url:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        bot.drop_unwanted_updates()
        remaining = deadline - loop_time()
        if bot.updates or api.world.stopping or remaining <= 0:
            return [dict(u) for u in bot.updates[:limit]]
        await api.world.wait_change(remaining)


@api_method("setWebhook")
def set_webhook(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Set (or with an empty url remove) the webhook; updates are then pushed to it, one
    at a time and in order (see ``webhooks.py``), and getUpdates answers 409."""
    url = get_str(params, "url") or ""
    if url and not url.startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = get_str(params, "secret_token") or ""
    if secret and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters"
                          if len(secret) <= 256 else "secret token is too long")
    max_connections = get_int(params, "max_connections")
    if max_connections is not None and not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: invalid max_connections specified")
    _set_allowed_updates(bot, params)
    if url != bot.webhook_url:
        bot.webhook_last_error, bot.webhook_last_error_date = "", 0
    bot.webhook_url, bot.webhook_secret = url, secret if url else ""
    if max_connections is not None:
        bot.webhook_max_connections = max_connections
    if get_bool(params, "drop_pending_updates"):
        bot.updates.clear()
    api.world.notify()  # a long poll still open ends with 409, pushes begin
    return True


@api_method("deleteWebhook")
def delete_webhook(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Forget the webhook; optionally drop pending updates."""
    bot.webhook_url = bot.webhook_secret = bot.webhook_last_error = ""
    bot.webhook_last_error_date = 0
    if get_bool(params, "drop_pending_updates"):
        bot.updates.clear()
    api.world.notify()
    return True


@api_method("getWebhookInfo")
def get_webhook_info(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """The WebhookInfo object."""
    bot.drop_unwanted_updates()
    info: JSON = {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook_url:
        info["max_connections"] = bot.webhook_max_connections
        if bot.allowed_updates is not None:
            info["allowed_updates"] = list(bot.allowed_updates)
    if bot.webhook_last_error:
        info["last_error_date"] = bot.webhook_last_error_date
        info["last_error_message"] = bot.webhook_last_error
    return info
