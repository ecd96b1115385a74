"""The I/O of outbound dialling (callbacks; later results calls): taking a
callback's lease in PostgreSQL, and calling the person through the configured
route. What is dialled when, and what each outcome means, is the switchboard's
(``core.dialler``, ``core.callbacks``); this only reports back what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callrouter.ari.client import AriClient, AriError
from callrouter.core import switchboard as sb

log = logging.getLogger(__name__)


class Leases(Protocol):
    async def take(self, callback_id: str, holder: str, seconds: float) -> bool: ...


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
    ) -> None:
        self._ari = ari
        self._app = app
        self._holder = holder
        self._route = route
        self._leases = leases
        self._step = step

    async def lease(self, callback_id: str) -> None:
        """No lease, no dialling: a database that cannot answer means the callback waits."""
        taken = False
        if self._leases is not None:
            try:
                taken = await self._leases.take(callback_id, self._holder, self._route.lease_seconds)
            except Exception as exc:  # the database away, or anything else: never dial without it
                log.warning("callback %s not leased (%s): it waits", callback_id, exc)
        self._step(sb.CallbackLeased(callback_id, taken))

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
