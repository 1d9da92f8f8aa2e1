"""A local Telegram Bot API emulator over real HTTP, for the end-to-end tests, the fan-out
benchmark and ``newsbot demo``.

The real bot (python-telegram-bot, unchanged) is pointed at it with
``ApplicationBuilder().base_url(emu.base_url)``; simulated users act through the emulator's
methods (``send_message``, ``press_button``...), and tests inspect what the bot did through
``sent()``, ``requests`` and ``wait_for_messages()``. It knows nothing of the bot's own code.

Choices worth knowing (each explained where it is made):

* Message length: at most 4096 Unicode characters (code points) of the text *after* entity
  parsing, which is what Telegram checks; "😀" counts 1, ``<b>`` counts 0.
* HTML: Telegram's parser, error messages included (see ``html.py``). Unknown named references
  such as ``&nbsp;`` stay literal text, as on Telegram. MarkdownV2 is not validated.
* Fault ``delay``: the call is carried out and only the answer is held back, so a client timeout
  can hide a delivered message (the real "sent twice" case); see ``faults.py``.
* Flood limits: token buckets per bot (overall, per chat, per group/channel) with a small burst;
  ``retry_after`` is whole seconds, at least 1; see ``limits.py``.
* Membership defaults: the bot is in private chats and in new groups, but not in new channels
  (list its id in ``add_channel(admins=...)``, or use ``set_member``/``set_bot_status``).
* ``requests`` logs each call when it arrives (status ``PENDING`` = 0 until answered, 499 if the
  client hung up first, as PTB does with its pending long poll when stopping).
* Webhooks: while a bot has one, its updates are POSTed to it one at a time, in order, with the
  secret header, retried with backoff (``last_error_message`` in getWebhookInfo), and
  getUpdates answers 409. ``route_webhook(public, local)`` plays the TLS reverse proxy, so the
  bot keeps an https URL while listening on 127.0.0.1; see ``webhooks.py``.
* Updates from simulated users go to the first bot added. Privacy mode, files and
  auto-detected entities in *bot* messages are not emulated.
"""

from bot.emulator.errors import ApiError
from bot.emulator.faults import FaultInjector
from bot.emulator.html import HtmlParseError, parse_html
from bot.emulator.limits import FloodLimits
from bot.emulator.methods import EmulatorStats
from bot.emulator.server import ABANDONED, PENDING, Emulator, RequestRecord

__all__ = [
    "ABANDONED",
    "PENDING",
    "ApiError",
    "Emulator",
    "EmulatorStats",
    "FaultInjector",
    "FloodLimits",
    "HtmlParseError",
    "RequestRecord",
    "parse_html",
]
