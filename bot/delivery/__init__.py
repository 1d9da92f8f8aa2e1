"""Delivery: sends due outbox rows to Telegram as fast as its limits allow, and no faster.

* :mod:`bot.delivery.loop`: the :class:`Deliverer`, one background task per running bot that
  claims due rows and dispatches them, several in flight but never two to one chat;
* :mod:`bot.delivery.sender`: one row (an alert or a digest) sent, and Telegram's answer
  recorded on it (sent, retried with backoff, chat ended or moved, plain-text fallback);
* :mod:`bot.delivery.lane`: the one outgoing lane every message of the bot takes (the
  python-telegram-bot rate limiter): replies before alerts, Telegram's limits kept;
* :mod:`bot.delivery.budget`: the lane's global slots shared by several processes on
  PostgreSQL;
* :mod:`bot.delivery.lock`: on SQLite only one process delivers (a lock in the store); on
  PostgreSQL every process does, and a dead process's claims are given back.
"""

from bot.delivery.lock import LOCK_NAME, DeliveryLockHeld, holder_is_dead
from bot.delivery.loop import Deliverer
from bot.delivery.stats import DeliveryStats

__all__ = ["LOCK_NAME", "Deliverer", "DeliveryLockHeld", "DeliveryStats", "holder_is_dead"]
