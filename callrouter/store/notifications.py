"""Results notifications as operators put them in and read them back (the admin
API's ``/results``, ``callbacks results import``): one row per external id.

``put`` writes only new external ids, in one statement per batch (each row is
in or not; a batch that fails writes none). An id already there is a
duplicate when it says the same thing (its fingerprint) with the same secret
(checked against the stored argon2 hash), and is refused otherwise, naming what
changed. ``INSERT ... ON CONFLICT DO NOTHING`` then a comparison: two importers
racing on one id still end with one row. The secret is hashed in worker
threads before anything is written, and never leaves this module: no answer
carries it or its hash.

A router's changes (state, attempts, due time) are the record writer's
(postgres.py); cancelling takes only a pending notification, so one a router
has taken (``dialling``, set with its lease) is never cancelled under it.
DatabaseUnavailable when PostgreSQL cannot answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import asyncpg

from callrouter.core.records import NOTIFICATION_FINAL, NotificationState
from callrouter.secrets_hash import hash_secrets, verify_secrets
from callrouter.secrets_pepper import Pepper
from callrouter.store.queries import TIMEOUT_SECONDS, Pooled

COLUMNS = ("external_id", "number", "secret_hash", "test_type", "result", "language", "line", "fingerprint")
STORED = f"SELECT {', '.join(COLUMNS)} FROM notifications WHERE external_id = ANY($1::text[])"
# Sorted by external id: two importers insert their common ids in the same order (no deadlock).
INSERT = f"""
INSERT INTO notifications (notification_id, {", ".join(COLUMNS)}, received_at, due_at, expires_at, state,
                           updated_at)
SELECT given.*, $10::timestamptz, $10::timestamptz, $11::timestamptz, 'pending', $10::timestamptz
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[]) AS given
ORDER BY 2
ON CONFLICT (external_id) DO NOTHING
RETURNING external_id
"""
# What an operator sees of a notification: never its secret's hash nor its fingerprint
# (a sha256 of a phone number and a few known words is easily reversed).
SHOWN = """external_id, notification_id, state, number, test_type, result, language, line, received_at,
       due_at, expires_at, attempts, reason, updated_at, leased_by, lease_until"""
ONE = f"SELECT {SHOWN} FROM notifications WHERE external_id = $1"
LISTING = f"""
SELECT {SHOWN} FROM notifications
WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR line = $2)
  AND ($3::timestamptz IS NULL OR received_at >= $3) AND ($4::timestamptz IS NULL OR received_at < $4)
  AND ($5::timestamptz IS NULL OR (received_at, external_id) < ($5, $6::text))
ORDER BY received_at DESC, external_id DESC
LIMIT $7
"""
RECEIVED = "SELECT received_at FROM notifications WHERE external_id = $1"
CANCEL = f"""
UPDATE notifications SET state = 'cancelled', reason = $2, updated_at = $3
WHERE external_id = $1 AND state = 'pending'
RETURNING {SHOWN}
"""
STATE = "SELECT state FROM notifications WHERE external_id = $1"
AUDIT = """
SELECT a.at, a.node, a.call_id, a.verified_by, a.played
FROM notification_audit a JOIN notifications n USING (notification_id)
WHERE n.external_id = $1
ORDER BY a.at, a.id
"""
# What differs, in the words of the fields put in.
FIELD_OF = {"number": "phone", "test_type": "test_type", "result": "result", "language": "language",
            "line": "line"}  # fmt: skip


class NewItem(Protocol):
    """A notification to put in: ``core.results_input.NewNotification``."""

    @property
    def external_id(self) -> str: ...
    @property
    def secret(self) -> str: ...  # digits, hashed here: never stored, logged or returned

    def columns(self) -> dict[str, str]:
        """The columns of ``COLUMNS`` but the secret's hash, by name."""
        ...


class PutStatus(StrEnum):
    ACCEPTED = "accepted"  # a new notification, pending
    DUPLICATE = "duplicate"  # put in before, the same: still one notification
    REFUSED = "refused"  # the external id is another result's (``reason`` says what differs)


@dataclass(frozen=True)
class Outcome:
    external_id: str
    status: PutStatus
    changed: tuple[str, ...] = ()  # refused: the fields that differ from the stored ones

    @property
    def reason(self) -> str:
        if self.status is not PutStatus.REFUSED:
            return ""
        return f"external id {self.external_id} exists with a different {' and '.join(self.changed)}"


class CancelStatus(StrEnum):
    CANCELLED = "cancelled"
    NOT_FOUND = "not found"
    DIALLING = "being dialled"
    FINAL = "already final"


@dataclass(frozen=True)
class Cancelling:
    status: CancelStatus
    state: str | None = None  # the notification's state (cancelled, or why it was not)
    notification: dict[str, Any] | None = None  # cancelled: as ``get`` shows it

    @property
    def message(self) -> str:
        return (
            f"{self.status.value}: {self.state}" if self.status is CancelStatus.FINAL else self.status.value
        )


class Notifications(Pooled):
    def __init__(
        self,
        dsn: str,
        password: str | None,
        expire_after: timedelta,
        hash_threads: int = 1,
        timeout: float = TIMEOUT_SECONDS,
        pepper: Pepper | None = None,
    ) -> None:
        super().__init__(dsn, password, timeout)
        self._expire_after = expire_after
        self._threads = hash_threads
        self._pepper = pepper  # secrets hashed under it (``secrets_hash``)

    async def put(self, items: Sequence[NewItem], now: datetime) -> list[Outcome]:
        """One outcome per item, in order. An id given twice in ``items`` is put in
        once: the later ones are duplicates of the first or refused."""
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            first.setdefault(item.external_id, index)
        stored = await self._stored(list(first))
        new = [index for external_id, index in first.items() if external_id not in stored]
        hashes = await hash_secrets([items[index].secret for index in new], self._threads, self._pepper)
        inserted = await self._insert(
            [(items[index], phc) for index, phc in zip(new, hashes, strict=True)], now
        )
        for index, phc in zip(new, hashes, strict=True):
            if items[index].external_id in inserted:
                stored[items[index].external_id] = _as_stored(items[index], phc)
        raced = [external_id for external_id in first if external_id not in stored]
        stored |= await self._stored(raced)  # another importer's, inserted since we looked
        return await self._outcomes(items, first, inserted, stored)

    async def _outcomes(
        self, items: Sequence[NewItem], first: dict[str, int], inserted: set[str], stored: dict[str, Any]
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = []
        to_verify: list[int] = []
        for index, item in enumerate(items):
            external_id = item.external_id
            if external_id in inserted and first[external_id] == index:
                outcomes.append(Outcome(external_id, PutStatus.ACCEPTED))
                continue
            changed = _changed(item, stored[external_id])
            outcomes.append(Outcome(external_id, PutStatus.REFUSED, changed) if changed else None)
            if not changed:
                to_verify.append(index)
        pairs = [(stored[items[i].external_id]["secret_hash"], items[i].secret) for i in to_verify]
        for index, same in zip(
            to_verify, await verify_secrets(pairs, self._threads, self._pepper), strict=True
        ):
            external_id = items[index].external_id
            outcomes[index] = (
                Outcome(external_id, PutStatus.DUPLICATE)
                if same
                else Outcome(external_id, PutStatus.REFUSED, ("secret",))
            )
        return [outcome for outcome in outcomes if outcome is not None]

    async def _stored(self, external_ids: list[str]) -> dict[str, Any]:
        if not external_ids:
            return {}
        return {r["external_id"]: dict(r) for r in await self._fetch(STORED, external_ids)}

    async def _insert(self, rows: list[tuple[NewItem, str]], now: datetime) -> set[str]:
        if not rows:
            return set()
        ids = [uuid.uuid4() for _ in rows]
        stored = [_as_stored(item, phc) for item, phc in rows]
        columns = [[row[name] for row in stored] for name in COLUMNS]
        done = await self._fetch(INSERT, ids, *columns, now, now + self._expire_after)
        return {r["external_id"] for r in done}

    async def get(self, external_id: str) -> dict[str, Any] | None:
        """The notification as an operator sees it (its full number: the admin API
        masks it), or None."""
        if not _may_be_id(external_id):
            return None
        rows = await self._fetch(ONE, external_id)
        return _shown(rows[0]) if rows else None

    async def listing(
        self,
        state: str | None = None,
        line: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """The notifications received in [since, until) in ``state`` on ``line`` (any:
        None), latest first (by received_at, then external id); ``after``: the external
        id of the last one of the page before (KeyError: no such notification). Each as
        ``get`` shows it. ValueError: no such state, no limit."""
        if state is not None:
            state = NotificationState(state).value
        if limit < 1:
            raise ValueError(f"limit {limit} is not a positive number")
        at = None
        if after is not None:
            received = await self._fetch(RECEIVED, after) if _may_be_id(after) else []
            if not received:
                raise KeyError(after)
            at = received[0]["received_at"]
        rows = await self._fetch(LISTING, state, line, since, until, at, after, limit)
        return [_shown(r) for r in rows]

    async def cancel(self, external_id: str, reason: str, now: datetime) -> Cancelling:
        """Cancel a pending notification (one a router took is ``dialling`` and stays)."""
        if not _may_be_id(external_id):
            return Cancelling(CancelStatus.NOT_FOUND)
        for _ in range(3):  # a notification back to pending between the two statements: again
            rows = await self._fetch(CANCEL, external_id, reason, now)
            if rows:
                return Cancelling(CancelStatus.CANCELLED, "cancelled", _shown(rows[0]))
            states = await self._fetch(STATE, external_id)
            if not states:
                return Cancelling(CancelStatus.NOT_FOUND)
            state = states[0]["state"]
            if state == NotificationState.DIALLING:
                return Cancelling(CancelStatus.DIALLING, state)
            if state in NOTIFICATION_FINAL:
                return Cancelling(CancelStatus.FINAL, state)
        return Cancelling(CancelStatus.DIALLING, NotificationState.DIALLING.value)

    async def audit(self, external_id: str) -> list[dict[str, Any]] | None:
        """The notification's disclosures, oldest first; None: no such notification."""
        if not _may_be_id(external_id) or not await self._fetch(STATE, external_id):
            return None
        return [
            {
                "at": r["at"].isoformat(),
                "node": r["node"],
                "call_id": str(r["call_id"]),
                "verified_by": r["verified_by"],
                "played": r["played"],
            }
            for r in await self._fetch(AUDIT, external_id)
        ]


def _may_be_id(text: str) -> bool:
    """Whether ``text`` can be an external id put in (1-128 printable characters): any
    other (a NUL, say, which PostgreSQL's text cannot even hold) is no notification's."""
    return 1 <= len(text) <= 128 and text.isprintable()


def _as_stored(item: NewItem, phc: str) -> dict[str, Any]:
    return {**item.columns(), "secret_hash": phc}


def _changed(item: NewItem, row: dict[str, Any]) -> tuple[str, ...]:
    """The fields ``item`` says otherwise than the stored row (none: the same result)."""
    given = item.columns()
    changed = tuple(name for column, name in FIELD_OF.items() if given[column] != row[column])
    if not changed and given["fingerprint"] != row["fingerprint"]:
        return ("fingerprint",)  # made by another release's rule: not provably the same
    return changed


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _shown(r: asyncpg.Record) -> dict[str, Any]:
    # A lease holds only while it is being dialled: after that its columns keep the last
    # holder, which nothing reads (shown, it read as held by a router).
    held = r["state"] == "dialling"
    return {
        "external_id": r["external_id"],
        "notification_id": str(r["notification_id"]),
        "state": r["state"],
        "number": r["number"],
        "test_type": r["test_type"],
        "result": r["result"],
        "language": r["language"],
        "line": r["line"],
        "received_at": _time(r["received_at"]),
        "due_at": _time(r["due_at"]),
        "expires_at": _time(r["expires_at"]),
        "attempts": json.loads(r["attempts"]),  # [{"at", "outcome", "call_id"}, ...], oldest first
        "reason": r["reason"],
        "updated_at": _time(r["updated_at"]),
        "leased_by": r["leased_by"] if held else None,
        "lease_until": _time(r["lease_until"]) if held else None,
    }
