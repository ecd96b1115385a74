"""The router's side of notifications in PostgreSQL: taking due ones (a lease, as
for callbacks: ``FOR UPDATE SKIP LOCKED``, an expiry, PostgreSQL's clock), and
the audit row committed before a result is told.

A router takes a notification by setting it ``dialling`` and holding its lease
(the holder is ``<node>/<process>``); its state from then on is the record
writer's (``NotificationRecord``: pending again, or final), never its lease. A
``dialling`` one is taken again when its lease expired (its router stopped),
or at once by a later process of the same node (a restart), never by the
process that holds it (its attempt is over, its record on the way); if it was
told during that attempt (``disclosed_in``, set with the audit row) it is
delivered, never told twice; else that attempt is counted (``interrupted``,
spaced and capped as a failed one), never simply made again at once. A number
is called once at a time: two results for one patient are two calls, one after
the other.

DatabaseUnavailable when PostgreSQL cannot answer: nothing is dialled, nothing told.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from callrouter.core.records import NotificationAttempt
from callrouter.store.queries import Pooled, is_uuid

# Whether a notification (table alias ``{t}``) may be taken now: due, of an open line, not
# one this router holds; or being dialled by a router that stopped (its lease expired, or
# an earlier process of this node).
_TAKEABLE = """{t}.line = ANY($2::text[]) AND NOT ({t}.notification_id = ANY($5::uuid[]))
      AND (({t}.state = 'pending' AND {t}.due_at <= now())
           OR ({t}.state = 'dialling'
               AND ({t}.lease_until <= now()
                    OR (split_part({t}.leased_by, '/', 1) = $6 AND {t}.leased_by <> $1))))"""
# One call to a number at a time: a notification is not taken while another of its
# number is being dialled (held, its lease running), nor beside an earlier one of its
# number that may be taken now (that one goes first; this one at a later look). The
# other is looked up by the open-number index (migration 0009), never by a scan.
TAKE = f"""
WITH due AS (
    SELECT n.notification_id, n.state AS was FROM notifications n
    WHERE {_TAKEABLE.format(t="n")}
      AND NOT EXISTS (
        SELECT 1 FROM notifications b
        WHERE b.number = n.number AND b.notification_id <> n.notification_id
          AND b.state IN ('pending', 'dialling')
          AND ((b.state = 'dialling' AND NOT ({_TAKEABLE.format(t="b")}))
               OR (({_TAKEABLE.format(t="b")})
                   AND (b.due_at, b.notification_id) < (n.due_at, n.notification_id))))
    ORDER BY n.due_at, n.notification_id
    LIMIT $3
    FOR UPDATE OF n SKIP LOCKED
)
UPDATE notifications n
SET leased_by = $1, lease_until = now() + make_interval(secs => $4), state = 'dialling',
    disclosed_in = CASE WHEN n.state = 'pending' THEN NULL ELSE n.disclosed_in END
FROM due WHERE n.notification_id = due.notification_id
RETURNING n.notification_id, n.number, n.line, n.language, n.result, n.test_type, n.due_at, n.expires_at,
          n.attempts, n.secret_hash, n.disclosed_in IS NOT NULL AS disclosed,
          due.was = 'dialling' AS interrupted
"""
PENDING = "SELECT count(*) AS pending FROM notifications WHERE state = 'pending'"
# Only while this router holds it, dialling: else nothing is audited, and nothing told.
AUDIT = """
WITH mine AS (
    UPDATE notifications SET disclosed_in = $4
    WHERE notification_id = $1 AND leased_by = $3 AND state = 'dialling'
    RETURNING notification_id
)
INSERT INTO notification_audit (notification_id, at, node, call_id, verified_by, played)
SELECT notification_id, $2, $3, $4, $5, $6 FROM mine
RETURNING id
"""


@dataclass(frozen=True)
class TakenRow:
    """A notification as taken (the shell makes the core's ``Notification`` of it)."""

    notification_id: str
    number: str
    line: str
    language: str
    result: str
    test_type: str
    due_at: datetime
    expires_at: datetime
    attempts: tuple[NotificationAttempt, ...]
    secret_hash: str
    disclosed: bool  # told during the attempt its last router was making
    interrupted: bool = False  # taken while dialling: its last router stopped during an attempt


@dataclass(frozen=True)
class Taken:
    rows: tuple[TakenRow, ...]
    pending: int


def _row(row: asyncpg.Record) -> TakenRow:
    attempts = tuple(
        NotificationAttempt(datetime.fromisoformat(a["at"]), a["outcome"], a.get("call_id"))
        for a in json.loads(row["attempts"])
    )
    return TakenRow(
        str(row["notification_id"]), row["number"], row["line"], row["language"], row["result"],
        row["test_type"], row["due_at"], row["expires_at"], attempts, row["secret_hash"], row["disclosed"],
        row["interrupted"],
    )  # fmt: skip


class ResultsDialler(Pooled):
    async def take(
        self, holder: str, lines: Sequence[str], limit: int, seconds: float, holding: Sequence[str] = ()
    ) -> Taken:
        """Up to ``limit`` due notifications of ``lines`` (none of ``holding``), leased
        to ``holder`` for ``seconds``, oldest due first; and how many are pending in all."""
        if limit < 1 or not lines:
            rows = []
        else:
            held = [h for h in holding if is_uuid(h)]
            node = holder.split("/", 1)[0]
            rows = await self._fetch(TAKE, holder, list(lines), limit, seconds, held, node)
        pending = (await self._fetch(PENDING))[0]["pending"]
        taken = sorted((_row(r) for r in rows), key=lambda n: (n.due_at, n.notification_id))
        return Taken(tuple(taken), int(pending))

    async def audit(
        self, notification_id: str, at: datetime, holder: str, call_id: str, verified_by: str, played: str
    ) -> bool:
        """The disclosure's audit row, committed; False when this router no longer
        holds the notification (nothing is written then, and nothing may be told)."""
        if not is_uuid(notification_id) or not is_uuid(call_id):
            return False
        rows = await self._fetch(AUDIT, notification_id, at, holder, call_id, verified_by, played)
        return bool(rows)
