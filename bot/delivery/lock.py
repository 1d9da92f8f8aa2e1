"""Who may deliver from a store: the single-instance lock on SQLite, dead claims on PostgreSQL.

On SQLite one process delivers: it holds a lock row in the store, renewed every third of
:data:`LOCK_TTL` while it runs, and a second process is told who holds it
(:class:`DeliveryLockHeld`). A holder that died on this host (:func:`holder_is_dead`) loses
the lock at once; one on another host when the lock expires.

On PostgreSQL every process delivers and there is no lock: outbox claims keep the processes
apart, and the claims of a process on this host that died are given back without waiting for
their lease to run out.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from bot import clock
from bot.store import Store, StoreGone

log = logging.getLogger(__name__)

LOCK_NAME = "delivery"
#: The lock outlives a crashed holder by this long; it is renewed every third of it.
LOCK_TTL = 30.0
#: How often a process on PostgreSQL looks for claims of processes on this host that died.
DEAD_CLAIMS_CHECK = 5.0


class DeliveryLockHeld(Exception):
    """Another process already delivers from this database; ``str()`` says which one."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(f"another newsbot process ({holder}) is already delivering from "
                         "this database; stop it first")


def holder_is_dead(owner: str) -> bool:
    """True when a lock ``owner`` (``host:pid``) is a process on this host that has exited.

    Holders on other hosts cannot be checked; their lock simply expires.
    """
    host, sep, pid_text = owner.rpartition(":")
    if not sep or host != socket.gethostname():
        return False
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


class DeliveryLock:
    """The right of ``owner`` to deliver from ``store`` (see the module docstring)."""

    def __init__(self, store: Store, owner: str, *, shared: bool) -> None:
        self.store = store
        self.owner = owner
        #: Several processes share the store (PostgreSQL): no lock, claims only.
        self.shared = shared
        #: How long the lock outlives a holder that stops renewing it.
        self.ttl = LOCK_TTL
        self._held = False
        self._renew_at = 0.0  # wall clock; the lock is trusted until then without asking
        self._dead_check_at = 0.0  # monotonic

    async def acquire(self) -> None:
        """Take the lock or raise :class:`DeliveryLockHeld` naming its holder.

        On PostgreSQL there is no such lock (every process delivers): claims left by this
        host's dead processes are given back instead. On SQLite the lock's holder is the only
        deliverer, so every claim left in the store is from an earlier run: all come back.
        """
        self._renew_at = 0.0
        if self.shared:
            self._dead_check_at = 0.0
            await self.free_dead_claims()
            return
        await self.hold()
        freed = await self.store.release_claims(
            await self.store.claim_holders(clock.now()) - {self.owner})
        if freed:
            log.info("%d alerts claimed by an earlier run are due again", freed)

    async def hold(self) -> None:
        """Renew the lock when a third of its life has passed; raise if someone else has it."""
        if self.shared or (self._held and time.time() < self._renew_at):
            return
        holder = await self.store.acquire_lock(LOCK_NAME, self.owner, self.ttl,
                                               is_stale=holder_is_dead)
        if holder is not None:
            self._held = False
            raise DeliveryLockHeld(holder)
        self._held = True
        self._renew_at = time.time() + self.renew_every

    @property
    def renew_every(self) -> float:
        """How often the holder renews the lock: whoever waits on its behalf wakes as often."""
        return self.ttl / 3

    async def release(self) -> None:
        """Give the lock up (a no-op unless it is held); never raises."""
        if not self._held:
            return
        self._held = False
        self._renew_at = 0.0
        try:
            await self.store.release_lock(LOCK_NAME, self.owner)
        except StoreGone:
            pass  # the stop was for this very reason, already told
        except Exception as exc:  # shutting down anyway; the lock expires on its own
            log.warning("could not release the delivery lock (it expires in %.0f s): %s",
                        self.ttl, exc)

    async def free_dead_claims(self) -> None:
        """Give back rows claimed by processes on this host that have died (PostgreSQL).

        Their claims would run out by themselves after the lease; a dead process cannot be
        sending them, so they need not wait. Others' hosts: the lease decides. Looks at most
        every :data:`DEAD_CLAIMS_CHECK` seconds.
        """
        if not self.shared or time.monotonic() < self._dead_check_at:
            return
        self._dead_check_at = time.monotonic() + DEAD_CLAIMS_CHECK
        dead = {owner for owner in await self.store.claim_holders(clock.now())
                if holder_is_dead(owner)}
        if dead and (freed := await self.store.release_claims(dead)):
            log.warning("%d alerts claimed by stopped process(es) %s are due again",
                        freed, ", ".join(sorted(dead)))
