"""Results put in on a real PostgreSQL: a new external id is one pending row with
its secret as an argon2id hash; the same result again is a duplicate that writes
nothing; a changed one is refused naming the change; two importers racing on
the same ids end with one row each; operators list, read, cancel and audit them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from callrouter.core.results_input import NewNotification, read_item
from callrouter.secrets_hash import verify_secret
from callrouter.secrets_pepper import Pepper
from callrouter.store.notifications import CancelStatus, Notifications, Outcome, PutStatus
from callrouter.store.queries import DatabaseUnavailable
from devstack.util import free_port
from tests.integration.conftest import Cluster, Migrated
from tests.unit.test_results_input import RULES

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EXPIRE = timedelta(hours=72)


def item(n: int, **changes: str) -> NewNotification:
    given = {
        "external_id": f"LAB-{n:05d}",
        "phone": f"8 916 {n:07d}",
        "secret": "12.03.1980",
        "test_type": "PCR",
        "result": "negative",
        "line": "clinic-central",
        **changes,
    }
    checked = read_item(given, RULES)
    assert isinstance(checked, NewNotification), checked
    return checked


@pytest.fixture
async def store(db: Migrated, empty_db: str, cluster: Cluster) -> AsyncIterator[Notifications]:
    notifications = Notifications(empty_db, cluster.password, EXPIRE, hash_threads=2)
    yield notifications
    await notifications.close()


async def rows(db: Migrated) -> dict[str, asyncpg.Record]:
    return {r["external_id"]: r for r in await db.conn.fetch("SELECT * FROM notifications")}


def statuses(outcomes: list[Outcome]) -> list[tuple[str, str]]:
    return [(o.status.value, o.reason) for o in outcomes]


async def test_a_new_result_is_one_pending_row_its_secret_only_an_argon2id_hash(
    db: Migrated, store: Notifications
) -> None:
    outcomes = await store.put([item(1)], T0)
    assert outcomes == [Outcome("LAB-00001", PutStatus.ACCEPTED)]
    row = (await rows(db))["LAB-00001"]
    assert (row["state"], row["number"], row["test_type"], row["result"], row["language"], row["line"]) == (
        "pending", "+79160000001", "PCR", "negative", "ru", "clinic-central",
    )  # fmt: skip
    assert row["received_at"] == row["due_at"] == row["updated_at"] == T0
    assert row["expires_at"] == T0 + EXPIRE
    assert (row["attempts"], row["reason"], row["leased_by"], row["lease_until"]) == ("[]", "", None, None)
    assert row["fingerprint"] == item(1).fingerprint
    assert row["secret_hash"].startswith("$argon2id$") and verify_secret(row["secret_hash"], "12031980")
    assert not any("12031980" in str(value) or "1980" in str(value) for value in row.values())


async def test_the_same_result_again_is_a_duplicate_and_writes_nothing(
    db: Migrated, store: Notifications
) -> None:
    await store.put([item(1)], T0)
    before = await rows(db)
    again = await store.put([item(1, secret="12/03/1980", result="NEGATIVE")], T0 + timedelta(hours=1))
    assert again == [Outcome("LAB-00001", PutStatus.DUPLICATE)]
    assert await rows(db) == before


@pytest.mark.parametrize(
    ("changes", "changed"),
    [
        ({"result": "positive"}, "result"),
        ({"phone": "+44 20 7946 0958"}, "phone"),
        ({"test_type": "HbA1c"}, "test_type"),
        ({"line": "lab-london", "phone": "+7 916 000-00-01"}, "language and line"),  # London's is English
        ({"language": "en"}, "language"),
        ({"secret": "1203"}, "secret"),
        ({"result": "positive", "test_type": "HbA1c"}, "test_type and result"),
    ],
)
async def test_a_changed_result_under_a_known_id_is_refused_naming_the_change(
    db: Migrated, store: Notifications, changes: dict[str, str], changed: str
) -> None:
    await store.put([item(1)], T0)
    before = await rows(db)
    refused = await store.put([item(1, **changes)], T0)
    assert statuses(refused) == [("refused", f"external id LAB-00001 exists with a different {changed}")]
    assert await rows(db) == before


async def test_a_batch_is_answered_in_order_and_an_id_given_twice_is_put_in_once(
    db: Migrated, store: Notifications
) -> None:
    await store.put([item(1)], T0)
    batch = [item(2), item(1), item(3), item(2), item(2, result="positive"), item(1, result="positive")]
    assert statuses(await store.put(batch, T0)) == [
        ("accepted", ""),
        ("duplicate", ""),
        ("accepted", ""),
        ("duplicate", ""),
        ("refused", "external id LAB-00002 exists with a different result"),
        ("refused", "external id LAB-00001 exists with a different result"),
    ]
    stored = await rows(db)
    assert sorted(stored) == ["LAB-00001", "LAB-00002", "LAB-00003"]
    assert {r["result"] for r in stored.values()} == {"negative"}
    assert await store.put([], T0) == []


async def test_two_importers_racing_on_the_same_ids_end_with_one_row_each(
    db: Migrated, store: Notifications, empty_db: str, cluster: Cluster
) -> None:
    other = Notifications(empty_db, cluster.password, EXPIRE, hash_threads=2)
    ids = range(1, 41)
    mine = [item(n) for n in ids]
    theirs = [item(n, result="positive") if n % 4 == 0 else item(n) for n in reversed(ids)]
    try:
        first, second = await asyncio.gather(store.put(mine, T0), other.put(theirs, T0))
    finally:
        await other.close()
    assert len(await rows(db)) == 40
    by_id: dict[str, list[PutStatus]] = {}
    for outcome in [*first, *second]:
        by_id.setdefault(outcome.external_id, []).append(outcome.status)
    for external_id, seen in by_id.items():
        number = int(external_id.removeprefix("LAB-"))
        assert seen.count(PutStatus.ACCEPTED) == 1, (external_id, seen)
        other_status = PutStatus.REFUSED if number % 4 == 0 else PutStatus.DUPLICATE
        assert sorted(seen) == sorted([PutStatus.ACCEPTED, other_status]), (external_id, seen)


async def test_postgresql_unreachable_is_database_unavailable(cluster: Cluster) -> None:
    nowhere = Notifications(f"postgresql://callrouter@127.0.0.1:{free_port()}/x", "pw", EXPIRE, timeout=3)
    try:
        for attempt in (nowhere.put([item(1)], T0), nowhere.listing(), nowhere.get("LAB-00001")):
            with pytest.raises(DatabaseUnavailable):
                await attempt
    finally:
        await nowhere.close()


# ---- what operators see and do -----------------------------------------------------------


async def test_one_is_shown_with_its_result_but_never_its_secrets_hash_or_fingerprint(
    store: Notifications,
) -> None:
    await store.put([item(1, result="positive")], T0)
    shown = await store.get("LAB-00001")
    assert shown is not None
    assert shown["result"] == "positive" and shown["state"] == "pending" and shown["attempts"] == []
    assert shown["number"] == "+79160000001", "the API masks it"
    assert shown["received_at"] == T0.isoformat() and shown["expires_at"] == (T0 + EXPIRE).isoformat()
    assert not {"secret", "secret_hash", "fingerprint"} & set(shown)
    assert not any("argon2" in str(value) for value in shown.values())
    assert await store.get("LAB-99999") is None
    for never in ("LAB\x00", "", "x" * 129):  # no query: PostgreSQL's text holds no NUL
        assert await store.get(never) is None
        assert await store.audit(never) is None
        assert (await store.cancel(never, "x", T0)).status is CancelStatus.NOT_FOUND
        with pytest.raises(KeyError):
            await store.listing(after=never)


async def test_the_list_filters_by_state_line_and_time_latest_first_in_pages(
    db: Migrated, store: Notifications
) -> None:
    for hour in range(6):
        line = "lab-london" if hour % 2 else "clinic-central"
        await store.put([item(hour, line=line, phone="+442079460958")], T0 + timedelta(hours=hour))
    await db.conn.execute("UPDATE notifications SET state = 'delivered' WHERE external_id = 'LAB-00005'")

    def ids(listed: list[dict[str, Any]]) -> list[int]:
        return [int(n["external_id"].removeprefix("LAB-")) for n in listed]

    assert ids(await store.listing()) == [5, 4, 3, 2, 1, 0]
    assert ids(await store.listing(state="pending", line="lab-london")) == [3, 1]
    assert ids(await store.listing(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))) == [2, 1]
    page = await store.listing(limit=4)
    assert ids(page) == [5, 4, 3, 2]
    assert ids(await store.listing(limit=4, after=page[-1]["external_id"])) == [1, 0]
    with pytest.raises(KeyError):
        await store.listing(after="LAB-99999")
    with pytest.raises(ValueError):
        await store.listing(state="lost")
    with pytest.raises(ValueError):
        await store.listing(limit=0)


async def test_only_a_pending_one_is_cancelled(db: Migrated, store: Notifications) -> None:
    await store.put([item(1), item(2), item(3)], T0)
    await db.conn.execute("UPDATE notifications SET state = 'dialling' WHERE external_id = 'LAB-00002'")
    await db.conn.execute("UPDATE notifications SET state = 'delivered' WHERE external_id = 'LAB-00003'")
    later = T0 + timedelta(minutes=5)
    cancelled = await store.cancel("LAB-00001", "sent by mail", later)
    assert cancelled.status is CancelStatus.CANCELLED and cancelled.notification is not None
    assert (cancelled.notification["state"], cancelled.notification["reason"]) == (
        "cancelled",
        "sent by mail",
    )
    row = (await rows(db))["LAB-00001"]
    assert (row["state"], row["reason"], row["updated_at"]) == ("cancelled", "sent by mail", later)
    answers = [await store.cancel(i, "x", later) for i in ("LAB-00001", "LAB-00002", "LAB-00003", "nope")]
    assert [a.message for a in answers] == [
        "already final: cancelled",
        "being dialled",
        "already final: delivered",
        "not found",
    ]
    assert (await rows(db))["LAB-00002"]["state"] == "dialling", "a router's, left alone"


async def test_the_audit_is_every_disclosure_oldest_first(db: Migrated, store: Notifications) -> None:
    await store.put([item(1), item(2)], T0)
    notification_id = (await rows(db))["LAB-00001"]["notification_id"]
    calls = [uuid.uuid4(), uuid.uuid4()]
    for minutes, call in ((30, calls[1]), (10, calls[0])):
        await db.conn.execute(
            "INSERT INTO notification_audit (notification_id, at, node, call_id, verified_by, played)"
            " VALUES ($1, $2, 'asterisk-1', $3, 'secret', 'negative')",
            notification_id,
            T0 + timedelta(minutes=minutes),
            call,
        )
    audit = await store.audit("LAB-00001")
    assert audit is not None
    assert [(a["at"], a["call_id"]) for a in audit] == [
        ((T0 + timedelta(minutes=10)).isoformat(), str(calls[0])),
        ((T0 + timedelta(minutes=30)).isoformat(), str(calls[1])),
    ]
    assert audit[0]["verified_by"] == "secret" and audit[0]["played"] == "negative"
    assert await store.audit("LAB-00002") == []
    assert await store.audit("nope") is None


def test_the_outcome_reason_is_empty_unless_refused() -> None:
    assert Outcome("a", PutStatus.ACCEPTED).reason == ""
    refused = replace(Outcome("a", PutStatus.REFUSED), changed=("phone",))
    assert refused.reason == "external id a exists with a different phone"


async def test_under_a_pepper_the_row_names_it_and_a_result_put_in_again_is_checked_under_it(
    db: Migrated, empty_db: str, cluster: Cluster
) -> None:
    pepper = Pepper(b"the centre's own pepper, 32 byte")
    peppered = Notifications(empty_db, cluster.password, EXPIRE, hash_threads=2, pepper=pepper)
    plain = Notifications(empty_db, cluster.password, EXPIRE)
    try:
        assert changes(await plain.put([item(1)], T0)) == [("accepted", ())]  # before the pepper
        assert changes(await peppered.put([item(2)], T0)) == [("accepted", ())]
        stored = await rows(db)
        assert stored["LAB-00002"]["secret_hash"].startswith(f"$callrouter-pepper${pepper.id}$argon2id$")
        assert verify_secret(stored["LAB-00002"]["secret_hash"], "12031980", pepper)
        assert not verify_secret(stored["LAB-00002"]["secret_hash"], "12031980")
        # Put in again under the pepper: the same secret is a duplicate, another refused;
        # the row from before the pepper is still checked as it was made.
        again = [item(2), item(2, secret="13.03.1980"), item(1), item(1, secret="13.03.1980")]
        assert changes(await peppered.put(again, T0)) == [
            ("duplicate", ()), ("refused", ("secret",)), ("duplicate", ()), ("refused", ("secret",)),
        ]  # fmt: skip
        # Without the pepper the peppered row cannot be checked: refused, never taken for the same.
        assert changes(await plain.put([item(2)], T0)) == [("refused", ("secret",))]
        with pytest.raises(asyncpg.CheckViolationError):  # the column takes a labelled PHC string only
            await db.conn.execute(
                "UPDATE notifications SET secret_hash = '$callrouter-pepper$nothex!!$argon2id$x'"
                " WHERE external_id = 'LAB-00002'"
            )
    finally:
        await peppered.close()
        await plain.close()


def changes(outcomes: list[Outcome]) -> list[tuple[str, tuple[str, ...]]]:
    return [(o.status.value, o.changed) for o in outcomes]


async def test_a_lease_is_shown_only_while_the_result_is_being_dialled(
    db: Migrated, store: Notifications
) -> None:
    await store.put([item(1)], T0)
    await db.conn.execute(
        "UPDATE notifications SET state = 'dialling', leased_by = 'node-1/a',"
        " lease_until = now() + interval '1 minute'"
    )
    shown = await store.get("LAB-00001")
    assert shown is not None and shown["leased_by"] == "node-1/a" and shown["lease_until"] is not None
    for state in ("delivered", "pending", "cancelled"):  # the columns keep the last holder
        await db.conn.execute("UPDATE notifications SET state = $1", state)
        shown = await store.get("LAB-00001")
        assert shown is not None and (shown["leased_by"], shown["lease_until"]) == (None, None), state
