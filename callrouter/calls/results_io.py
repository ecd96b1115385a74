"""The I/O of results calls: taking due notifications (``store.results_dialler``),
checking a keyed secret against its argon2 hash (in a thread: slow by design),
and committing a disclosure's audit row. What is dialled when, and what is said,
is the switchboard's (``core.board_results``, ``core.results_call``); this only
reports back what happened. Any failure reads as "no": nothing taken, the secret
not matched, the disclosure not audited (so nothing is told). And at a stop, the
hang-up of the results calls still in their automated part (``hang_up_unattended``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from callrouter.ari.client import AriClient, AriNotFound
from callrouter.core import board_results
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.records import NotificationState
from callrouter.core.results import Notification, ResultKind
from callrouter.secrets_hash import verify_secret
from callrouter.store.results_dialler import ResultsDialler, TakenRow

log = logging.getLogger(__name__)

Verifier = Callable[[str, str], bool]  # (argon2 hash, digits) -> match


class ResultsIO:
    """Without a store (no ``[results]``), nothing is taken, no secret matches and
    nothing is audited: nothing is told."""

    def __init__(
        self,
        step: Callable[[sb.Event], None],
        clock: Callable[[], datetime],
        store: ResultsDialler | None = None,
        verify: Verifier = verify_secret,
        holder: str = "",
        lease_seconds: float = 900.0,
    ) -> None:
        self._store = store
        self._verify = verify
        self._holder = holder
        self._lease_seconds = lease_seconds
        self._step = step
        self._clock = clock
        self._secrets: dict[str, str] = {}  # notification id -> hash, while this router holds it

    async def carry_out(self, command: sb.TakeResults | sb.ForResults, holding: set[str]) -> None:
        """A results call's command; ``holding``: the notifications the switchboard holds now."""
        if isinstance(command, sb.TakeResults):
            for notification_id in set(self._secrets) - holding:
                del self._secrets[notification_id]
            await self.take(command)
        else:
            await self.for_call(command)

    async def take(self, command: sb.TakeResults) -> None:
        if self._store is None:
            self._step(sb.ResultsTaken((), 0))
            return
        try:
            taken = await self._store.take(
                self._holder, command.lines, command.limit, self._lease_seconds, command.holding
            )
        except Exception as exc:  # the database away: nothing is dialled now
            log.warning("due results not read (%s); looked for again later", exc)
            self._step(sb.ResultsTaken((), 0))
            return
        self._secrets.update({row.notification_id: row.secret_hash for row in taken.rows})
        self._step(sb.ResultsTaken(tuple(_notification(row) for row in taken.rows), taken.pending))

    async def for_call(self, command: sb.ForResults) -> None:
        match command.command:
            case cmd.VerifySecret(notification_id, digits):
                answer: ev.CallEvent = ev.SecretChecked(await self._check(notification_id, digits))
            case cmd.AuditDisclosure(notification_id, verified_by, played):
                ok = await self._audit(notification_id, command.call_id, verified_by, played)
                answer = ev.DisclosureAudited(ok)
        self._step(sb.OnCall(command.channel_id, answer))

    async def _check(self, notification_id: str, digits: str) -> bool:
        secret = self._secrets.get(notification_id)
        if secret is None:  # not one this router holds (or no store at all)
            return False
        try:
            return await asyncio.to_thread(self._verify, secret, digits)
        except Exception:  # never the digits in a log
            log.warning("the secret of notification %s could not be checked", notification_id)
            return False

    async def _audit(self, notification_id: str, call_id: str, verified_by: str, played: str) -> bool:
        if self._store is None:
            return False
        try:
            at = self._clock()
            return await self._store.audit(notification_id, at, self._holder, call_id, verified_by, played)
        except Exception as exc:
            log.warning("disclosure of %s not audited (%s): nothing is told", notification_id, exc)
            return False


def _notification(row: TakenRow) -> Notification:
    return Notification(
        row.notification_id, row.number, row.line, row.language, ResultKind(row.result), row.test_type,
        row.due_at, row.expires_at, NotificationState.DIALLING, row.attempts, row.disclosed,
        row.interrupted,
    )  # fmt: skip


async def hang_up_unattended(ari: AriClient, board: sb.Board, within: float) -> int:
    """At a stop (the dispatcher detached): hang up the results calls still in their
    automated part. The next router would find only silence there (and hang up); the
    patient hears a hang-up now, and the next router counts the attempt interrupted,
    as after a kill. How many were hung up within ``within`` seconds."""
    channels = board_results.unattended(board)
    if not channels:
        return 0
    hangups = [asyncio.create_task(ari.hangup(channel_id)) for channel_id in channels]
    done, late = await asyncio.wait(hangups, timeout=within)
    for task in late:
        task.cancel()
    failed = [exc for task in done if (exc := task.exception()) is not None]
    for exc in failed:  # gone already, or Asterisk away: nothing more to do at a stop
        if not isinstance(exc, AriNotFound):
            log.warning("hanging up a results call at stop failed: %s", exc)
    return len(done) - len(failed)
