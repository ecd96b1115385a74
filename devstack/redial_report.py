"""The demo report's redial storm section: people who called again, as
PostgreSQL recorded them.

Every figure is read from the records the router wrote (``calls`` with its
``repeat_kind``, ``call_events``, ``callbacks``), never from what the demo's
callers meant to do: calls against people, the places kept (resumed, taken
over, a callback's), the queue entries that saved, and the callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from callrouter.core.numbers import mask

CALLS = """
SELECT count(*)                                                              AS calls,
       count(DISTINCT caller_number)                                         AS numbers,
       count(*) FILTER (WHERE caller_number IS NULL)                         AS withheld,
       count(*) FILTER (WHERE repeat_kind IS NOT NULL)                       AS repeats,
       count(*) FILTER (WHERE repeat_kind = 'resumed')                       AS resumed,
       count(DISTINCT caller_number) FILTER (WHERE repeat_kind = 'resumed')  AS resumed_people,
       count(*) FILTER (WHERE repeat_kind = 'resumed' AND outcome = 'answered') AS resumed_answered,
       count(*) FILTER (WHERE repeat_kind = 'already_waiting')               AS already_waiting,
       count(*) FILTER (WHERE outcome = 'replaced')                          AS replaced,
       count(*) FILTER (WHERE repeat_kind = 'recent_contact')                AS recent_contact,
       count(*) FILTER (WHERE repeat_kind = 'callback_pending')              AS callback_pending,
       count(*) FILTER (WHERE queued_at IS NOT NULL)                         AS queued
FROM calls WHERE started_at >= to_timestamp($1) AND direction = 'inbound'
"""
PER_PERSON = """
SELECT n AS calls, count(*) AS people
FROM (SELECT count(*) AS n FROM calls
      WHERE started_at >= to_timestamp($1) AND direction = 'inbound' AND caller_number IS NOT NULL
      GROUP BY caller_number) p
GROUP BY n ORDER BY n
"""
OFFERS = """
SELECT count(DISTINCT e.call_id) FILTER (WHERE e.kind = 'callback_offered')     AS offered,
       count(DISTINCT e.call_id) FILTER (WHERE e.kind = 'callback_offer_taken') AS pressed,
       count(DISTINCT e.call_id) FILTER (WHERE e.kind = 'callback_requested')   AS confirmed,
       count(DISTINCT e.call_id) FILTER (WHERE e.kind = 'callback_booked')      AS accepted
FROM call_events e JOIN calls c USING (call_id)
WHERE c.started_at >= to_timestamp($1)
"""
CALLBACK_STATES = """
SELECT state, count(*) AS n FROM callbacks WHERE requested_at >= to_timestamp($1) GROUP BY state
"""
DIALS = """
SELECT a ->> 'outcome' AS outcome, count(*) AS n
FROM callbacks, jsonb_array_elements(attempts) a
WHERE requested_at >= to_timestamp($1) GROUP BY 1 ORDER BY 2 DESC, 1
"""
STORIES = """
SELECT caller_number, started_at, line, topic, outcome, agent, queued_at, repeat_kind
FROM calls
WHERE started_at >= to_timestamp($1) AND caller_number IN (
    SELECT caller_number FROM calls
    WHERE started_at >= to_timestamp($1)
      AND repeat_kind IN ('resumed', 'already_waiting', 'callback_pending'))
ORDER BY caller_number, started_at
"""


@dataclass(frozen=True)
class Figures:
    """What PostgreSQL says of the calls since a moment."""

    calls: int
    people: int  # distinct numbers, and each withheld call as one (nobody to recognise)
    withheld: int
    per_person: dict[int, int]  # calls a person made -> how many people made that many
    repeats: int  # calls recognised as a person calling again
    resumed: int
    resumed_people: int
    resumed_answered: int
    already_waiting: int
    replaced: int  # older calls released because their person called again
    recent_contact: int
    callback_pending: int
    queued: int  # calls that joined the queue
    offered: int  # calls offered a callback
    pressed: int  # ... that pressed 1 at the offer
    confirmed: int  # ... that confirmed (or keyed) a number
    accepted: int  # callbacks booked
    callbacks: dict[str, int]  # callback state -> how many
    dials: dict[str, int]  # outcome of a callback's dial attempt -> how many

    @property
    def entries_avoided(self) -> int:
        """Calls that took over or got back a place instead of joining at the back."""
        return self.already_waiting + self.resumed + self.callback_pending


async def figures(conn: asyncpg.Connection, since: float) -> Figures:
    """The figures of every call started since ``since`` (epoch seconds)."""
    calls = dict(await conn.fetchrow(CALLS, since))  # its columns are named as the figures
    offers = dict(await conn.fetchrow(OFFERS, since))
    return Figures(
        people=calls.pop("numbers") + calls["withheld"],
        per_person={r["calls"]: r["people"] for r in await conn.fetch(PER_PERSON, since)},
        callbacks={r["state"]: r["n"] for r in await conn.fetch(CALLBACK_STATES, since)},
        dials={r["outcome"]: r["n"] for r in await conn.fetch(DIALS, since)},
        **calls,
        **offers,
    )


async def section(conn: asyncpg.Connection, since: float, note: str = "") -> str:
    """The section as printed; ``note`` is said under the callbacks (what the
    stack could not do)."""
    return render(await figures(conn, since), await conn.fetch(STORIES, since), note)


def render(f: Figures, stories: list[asyncpg.Record], note: str = "") -> str:
    withheld = f"; {f.withheld} withheld, each one person" if f.withheld else ""
    calls = f"{_count(f.calls, 'call')} from {_count(f.people, 'person')} (told apart by number{withheld})"
    states = f.callbacks
    still_open = states.get("pending", 0) + states.get("dialling", 0)
    dials = ", ".join(f"{n} {outcome}" for outcome, n in f.dials.items()) or "none"
    rows = [
        ("calls", calls),
        ("called", _spread(f.per_person)),
        ("recognised", f"{_count(f.repeats, 'call')} from a person calling again:"),
        (
            "  resumed their place",
            f"{_count(f.resumed, 'call')} ({_count(f.resumed_people, 'person')}) redialled after hanging up"
            f" in line: back at their first join time; {f.resumed_answered} then answered",
        ),
        (
            "  took over a place",
            f"{_count(f.already_waiting, 'call')} came in while the person's first call waited: one place;"
            f" {_count(f.replaced, 'older call')} released",
        ),
        ("  repeat contacts", f"{_count(f.recent_contact, 'call')} came again after an answered call"),
        (
            "  callback pending",
            f"{_count(f.callback_pending, 'call')} came in while their callback waited:"
            " its place, the callback cancelled",
        ),
        (
            "queue entries avoided",
            f"{f.entries_avoided} of the {_count(f.queued, 'call')} that queued took over or got back a place"
            " instead of joining at the back",
        ),
        (
            "callbacks",
            f"offered {f.offered} / accepted {f.accepted} / completed {states.get('completed', 0)}"
            f" / failed {states.get('failed', 0)} (cancelled {states.get('cancelled', 0)},"
            f" still open {still_open})",
        ),
        ("", f"of those offered, {f.pressed} pressed 1 and {f.confirmed} confirmed the number"),
        ("", f"dial attempts: {dials}"),
    ]
    if note:
        rows.append(("", note))
    out = ["redial storm: people who called again, as PostgreSQL recorded it"]
    out += [f"  {name:<23} {text}".rstrip() for name, text in rows]
    return "\n".join(out + _stories(stories))


def _count(n: int, noun: str) -> str:
    """E.g. "1 call", "2 calls", "1 person", "2 people"."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {'people' if noun == 'person' else noun + 's'}"


def _spread(per_person: dict[int, int]) -> str:
    """E.g. "38 people once, 14 twice, 13 three times"."""
    times = {1: "once", 2: "twice", 3: "three times"}
    parts: list[str] = []
    for n, people in sorted(per_person.items()):
        who = f"{people} {'person' if people == 1 else 'people'}" if not parts else str(people)
        parts.append(f"{who} {times.get(n, f'{n} times')}")
    return ", ".join(parts) or "-"


def _stories(rows: list[asyncpg.Record], most: int = 3) -> list[str]:
    """A few people's calls in order, one of each way a place was kept: the join
    time their place has ('in line since') shows it kept."""
    people: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        people.setdefault(r["caller_number"], []).append(r)
    chosen: list[str] = []
    for kind in ("resumed", "already_waiting", "callback_pending"):
        having = [
            n
            for n, calls in people.items()
            if n not in chosen and any(r["repeat_kind"] == kind for r in calls)
        ]
        if having:
            chosen.append(max(having, key=lambda n: len(people[n])))
    if not chosen:
        return []
    lines = ["", "  for example (each call of one person; 'in line since' is their place's join time):"]
    for number in chosen[:most]:
        for n, r in enumerate(people[number]):
            who = mask(number) if n == 0 else ""
            since = f"in line since {r['queued_at']:%H:%M:%S}" if r["queued_at"] else "not in line"
            outcome = " ".join(filter(None, [r["outcome"] or "in progress", r["agent"]]))
            lines.append(
                f"    {who:<13} {r['started_at']:%H:%M:%S} {r['line'] or '-':<18} {r['topic'] or '-':<18}"
                f" {outcome:<16} {since:<22} {r['repeat_kind'] or ''}".rstrip()
            )
    return lines
