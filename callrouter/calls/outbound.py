"""The I/O of outbound dialling (callbacks; later results calls): taking a
callback's lease in PostgreSQL, and calling the person through the configured
route. What is dialled when, and what each outcome means, is the switchboard's
(``core.dialler``, ``core.callbacks``); this only reports back what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callrouter.ari.client import AriClient, AriError
from callrouter.core import switchboard as sb
from callrouter.store.leases import LeaseAnswer

log = logging.getLogger(__name__)


class Leases(Protocol):
    async def try_take(self, callback_id: str, holder: str, seconds: float) -> LeaseAnswer: ...


# What the switchboard is told of a lease not taken (any other answer: it waits).
_NEVER = {LeaseAnswer.ABSENT: sb.Lease.ABSENT, LeaseAnswer.CLOSED: sb.Lease.CLOSED}
# How long a lease's question waits for the records on their way (a new callback's row).
WRITTEN_WAIT_SECONDS = 2.0
# The database's answer as the switchboard reads it (held by another router: wait).
_LEASE = {**_NEVER, LeaseAnswer.TAKEN: sb.Lease.TAKEN, LeaseAnswer.HELD: sb.Lease.WAIT}


@dataclass(frozen=True)
class Route:
    """Where callbacks are dialled: ``PJSIP/{number}@trunk`` with the E.164 number's digits."""

    dial: str = "PJSIP/{number}@trunk"
    lease_seconds: float = 120.0

    def endpoint(self, number: str) -> str:
        return self.dial.format(number=number.lstrip("+"))


class Outbound:
    def __init__(
        self,
        ari: AriClient,
        app: str,
        holder: str,
        route: Route,
        leases: Leases | None,
        step: Callable[[sb.Event], None],
        unwritten: Callable[[], int] = lambda: 0,
    ) -> None:
        """``unwritten``: how many records the record writer still holds (memory and
        spool); while any wait, a callback's missing or ended row is no verdict."""
        self._ari = ari
        self._app = app
        self._holder = holder
        self._route = route
        self._leases = leases
        self._step = step
        self._unwritten = unwritten

    async def lease(self, callback_id: str) -> None:
        """No lease, no dialling: a database that cannot answer means the callback waits.
        One it holds no open row for is never leased: the switchboard ends it, unless
        its record may be among those not written yet (asked first: a record written
        during the question was on its way before it)."""
        answer = LeaseAnswer.HELD
        if self._leases is not None:
            on_its_way = self._unwritten() > 0  # asked first: one written during the question was
            answer = await self._try_take(callback_id)
            if answer in _NEVER and on_its_way and await self._written(WRITTEN_WAIT_SECONDS):
                # A callback just made (POST /callbacks): its row was on its way. Asked again
                # once it is written, rather than waiting out a postponement.
                on_its_way = False
                answer = await self._try_take(callback_id)
            if answer in _NEVER and on_its_way:
                answer = LeaseAnswer.HELD
        if answer in _NEVER:
            log.warning("callback %s not leased: %s in the database", callback_id, answer.value)
        self._step(sb.CallbackLeased(callback_id, _LEASE[answer]))

    async def _try_take(self, callback_id: str) -> LeaseAnswer:
        assert self._leases is not None
        try:
            return await self._leases.try_take(callback_id, self._holder, self._route.lease_seconds)
        except Exception as exc:  # the database away, or anything else: never dial without it
            log.warning("callback %s not leased (%s): it waits", callback_id, exc)
            return LeaseAnswer.HELD

    async def _written(self, within: float) -> bool:
        """Whether the record writer holds nothing any more, within ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while self._unwritten() > 0:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def dial(self, command: sb.Dial) -> None:
        try:
            await self._ari.originate(
                command.channel_id,
                (Route(command.route) if command.route else self._route).endpoint(command.number),
                self._app,
                command.app_args,
                command.ring_seconds,
                f'"{command.label}" <>',
            )
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("dialling callback channel %s failed: %s", command.channel_id, exc)
            self._step(sb.DialGone(command.channel_id, "originate failed"))
