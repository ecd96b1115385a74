"""A week of calls for the KPI report, small enough to count by hand: Monday
2026-11-23 00:00 up to Monday 2026-11-30 00:00 in Europe/Moscow (UTC+3 all year,
no daylight saving), T = 20 s, target 80%. The records hold UTC times; the report
must put them back on Moscow's wall clock.

Every figure the tests check is worked out below, next to the calls, once; the
unit test (core), the integration test (every format through PostgreSQL) and the
Chromium test (the page) all check these same numbers.

    call line       caller  start (MSK)     topic      outcome        wait  talk  repeat
    c1   central    01      Mon 09:00:00    operator   answered        10   180
    c2   central    02      Mon 09:10:00    operator   answered        30   120
    c3   central    01      Mon 10:00:00    operator   abandoned       40         recent_contact (of c1)
    c4   north      03      Tue 14:00:00    infection  short_abandon    3
    c5   north      withheld Tue 14:30:00   infection  answered        20    60
    c6   north      withheld Tue 15:00:00   -          menu_hangup
    c7   north      04      Wed 08:00:00    -          after_hours
    c17  north      10      Wed 12:00:00    infection  overflow        90
    c18  (no line)  13      Wed 12:30:00    -          no_line                         (not offered)
    c9   central    06      Thu 11:00:00    operator   abandoned       15
    c10  central    06      Thu 11:01:00    operator   answered        75   200  resumed (c9's join time)
    c11  central    07      Fri 16:00:00    infection  callback       100
    c12  central    08      Fri 16:05:00    operator   replaced      (55)              (c13 took its place)
    c13  central    08      Fri 16:06:00    operator   answered        60    90  already_waiting
    c14  results    09      Sat 10:00:00    -          results                         (counted apart)
    c15  results    11      Sat 10:05:00    operator   answered         8   100        (consultation)
    c8   ambulance  05      Sun 23:59:00    urgent     answered         5   300
    c0   central    12      Sun 22 Nov 23:59:59, c16 Mon 30 Nov 00:00:00             (outside the week)
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callrouter.core.kpi import Scope
from callrouter.core.records import (
    CallbackRecord,
    CallbackState,
    CallRecord,
    Outcome,
    RepeatKind,
)

ZONE = "Europe/Moscow"
MONDAY = date(2026, 11, 23)
START = datetime.combine(MONDAY, time(0), tzinfo=ZoneInfo(ZONE))
END = START + timedelta(days=7)
SCOPE = Scope(START, END, ZONE, service_level_seconds=20.0, service_level_target=0.8)
NODE = "asterisk-1"
ANS, ABD, R = Outcome.ANSWERED, Outcome.ABANDONED, RepeatKind


def local(day: int, clock: str) -> datetime:
    """``day`` days after Monday 23 November, at ``clock`` in Moscow, as UTC (the records' way)."""
    wall = datetime.combine(MONDAY + timedelta(days=day), time.fromisoformat(clock), tzinfo=ZoneInfo(ZONE))
    return wall.astimezone(UTC)


def call(
    name: str,
    line: str | None,
    caller: str | None,
    started: datetime,
    outcome: Outcome,
    topic: str | None = None,
    wait: float | None = None,
    talk: float | None = None,
    *,
    queued_at: datetime | None = None,
    repeat: RepeatKind | None = None,
    repeat_of: str | None = None,
    direction: str = "inbound",
) -> CallRecord:
    """A call's final record: queued 10 s after it started (unless ``queued_at``), then
    waited ``wait`` s (to the agent's answer, or to the end), then talked ``talk`` s;
    ``repeat_of``: the name of the earlier call."""
    answered_by_agent = ended = None
    if wait is not None:
        queued_at = queued_at or started + timedelta(seconds=10)
        end_of_wait = queued_at + timedelta(seconds=wait)
        answered_by_agent = end_of_wait if talk is not None else None
        ended = end_of_wait + timedelta(seconds=talk or 0)
    else:
        ended = started + timedelta(seconds=30)
    return CallRecord(
        call_id(name), NODE, f"1795400000.{name}", "+78162700101", line,
        f"+791600000{caller}" if caller else None, "number" if caller else "withheld", started,
        answered_at=started, ended_at=ended, outcome=outcome, topic=topic, queued_at=queued_at,
        agent="agent1" if answered_by_agent else None, agent_answered_at=answered_by_agent,
        repeat_of=call_id(repeat_of) if repeat_of else None, repeat_kind=repeat, direction=direction,
    )  # fmt: skip


def call_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kpi/{name}"))


CENTRAL, NORTH = "clinic-central", "clinic-north"
# fmt: off
CALLS = [
    call("c0", CENTRAL, "12", local(-1, "23:59:59"), ANS, "operator", 5, 60),
    call("c1", CENTRAL, "01", local(0, "09:00:00"), ANS, "operator", 10, 180),
    call("c2", CENTRAL, "02", local(0, "09:10:00"), ANS, "operator", 30, 120),
    call("c3", CENTRAL, "01", local(0, "10:00:00"), ABD, "operator", 40, repeat=R.RECENT_CONTACT,
         repeat_of="c1"),
    call("c4", NORTH, "03", local(1, "14:00:00"), Outcome.SHORT_ABANDON, "infection", 3),
    call("c5", NORTH, None, local(1, "14:30:00"), ANS, "infection", 20, 60),
    call("c6", NORTH, None, local(1, "15:00:00"), Outcome.MENU_HANGUP),
    call("c7", NORTH, "04", local(2, "08:00:00"), Outcome.AFTER_HOURS),
    call("c17", NORTH, "10", local(2, "12:00:00"), Outcome.OVERFLOW, "infection", 90),
    call("c18", None, "13", local(2, "12:30:00"), Outcome.NO_LINE),
    call("c9", CENTRAL, "06", local(3, "11:00:00"), ABD, "operator", 15),
    call("c10", CENTRAL, "06", local(3, "11:01:00"), ANS, "operator", 75, 200,
         queued_at=local(3, "11:00:10"), repeat=R.RESUMED),
    call("c11", CENTRAL, "07", local(4, "16:00:00"), Outcome.CALLBACK, "infection", 100),
    call("c12", CENTRAL, "08", local(4, "16:05:00"), Outcome.REPLACED, "operator", 55),
    call("c13", CENTRAL, "08", local(4, "16:06:00"), ANS, "operator", 60, 90,
         queued_at=local(4, "16:05:10"), repeat=R.ALREADY_WAITING),
    call("c14", CENTRAL, "09", local(5, "10:00:00"), Outcome.RESULTS, direction="results"),
    call("c15", NORTH, "11", local(5, "10:05:00"), ANS, "operator", 8, 100, direction="results"),
    call("c8", "ambulance", "05", local(6, "23:59:00"), ANS, "urgent", 5, 300,
         queued_at=local(6, "23:59:05")),
    call("c16", CENTRAL, "12", local(7, "00:00:00"), ANS, "operator", 5, 60),
]
# fmt: on
IN_WEEK = [c for c in CALLS if START <= c.started_at < END]  # what the store reads for the week


def callback(name: str, requested: datetime, state: CallbackState, caller: str) -> CallbackRecord:
    return CallbackRecord(
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"kpi/{name}")), requested + timedelta(minutes=5), state,
        f"+791600000{caller}", requested, requested, "infection", CENTRAL, "ru", 0,
    )  # fmt: skip


# Callbacks requested in the week (and one the Sunday before, left out): 4 requested,
# completed 1, failed 1, cancelled 1, open 1 (pending).
CALLBACKS = [
    callback("cb0", local(-1, "12:00:00"), CallbackState.COMPLETED, "21"),
    callback("cb1", local(4, "16:01:40"), CallbackState.COMPLETED, "07"),
    callback("cb2", local(1, "09:00:00"), CallbackState.FAILED, "22"),
    callback("cb3", local(2, "09:00:00"), CallbackState.CANCELLED, "23"),
    callback("cb4", local(6, "20:00:00"), CallbackState.PENDING, "24"),
]
CALLBACK_STATES = {"completed": 1, "failed": 1, "cancelled": 1, "pending": 1}
# Results received in the week by state now (and one the week before, expired, left out):
# received 6 = delivered 2 + transferred 1 + verification_failed 1 + unreachable 1 + open 1.
NOTIFICATIONS = [
    ("n0", local(-3, "12:00:00"), "expired"),
    ("n1", local(5, "09:00:00"), "delivered"),
    ("n2", local(5, "09:00:00"), "delivered"),
    ("n3", local(5, "09:00:00"), "transferred"),
    ("n4", local(5, "09:00:00"), "verification_failed"),
    ("n5", local(5, "09:00:00"), "unreachable"),
    ("n6", local(6, "09:00:00"), "pending"),
]
NOTIFICATION_STATES = {
    "delivered": 2, "transferred": 1, "verification_failed": 1, "unreachable": 1, "pending": 1,
}  # fmt: skip

# ---- the figures, by hand ------------------------------------------------------
# offered: c1-c13 and c17, inbound with a line in the week = 14 (not c14/c15:
#   results; not c18: no line; not c0/c16: outside).
# unique callers: numbers 01 02 03 04 05 06 07 08 10 = 9, + 2 withheld calls (c5, c6) = 11.
# queued (wait ended as answered/abandoned/overflow/callback): c1 c2 c3 c4 c5 c8 c9 c10 c11
#   c13 c17 = 11 (c12 replaced: its place went on in c13).
# answered: c1 c2 c5 c8 c10 c13 = 6; waits 10+30+20+5+75+60 = 200 -> ASA 200/6 = 33.33 s.
# within T (<= 20 s): c1 10, c5 20, c8 5 = 3 -> SL1 = 3/6 = 50.0%.
# abandoned (short too): c3 40, c4 3, c9 15 = 3; after T: c3 = 1 -> SL2 = 3/(6+1) = 42.86%.
# Asterisk's perf2: (answered within T 3 + abandoned within T: c4, c9 = 2) / (6 + 3) = 5/9 = 55.6%.
# abandonment = 3/11 = 27.27%; short abandonment = 1/11 = 9.09%.
# AHT: talks 180+120+60+300+200+90 = 950 -> 950/6 = 158.33 s (2:38).
# repeats: c3 recent_contact, c10 resumed, c13 already_waiting = 3 -> 3/14 = 21.43%.
# FCR: answered from a number c1 c2 c8 c10 c13 = 5 (c5 withheld: left out); called again
#   (a recent contact names it): c1 (by c3) = 1 -> 1 - 1/5 = 80.0%.
OVERALL = {
    "offered": 14, "unique_callers": 11, "queued": 11, "answered": 6, "answered_within": 3,
    "abandoned": 3, "abandoned_after": 1, "short_abandoned": 1, "asa_seconds": 200 / 6,
    "aht_seconds": 950 / 6, "sl1": 3 / 6, "sl2": 3 / 7, "sl_perf2": 5 / 9,
    "abandonment": 3 / 11,
    "short_abandonment": 1 / 11, "repeat_calls": 3, "repeat_rate": 3 / 14,
    "fcr_answered": 5, "fcr_called_again": 1, "fcr": 4 / 5,
}  # fmt: skip
REPEATS = {"already_waiting": 1, "resumed": 1, "recent_contact": 1, "callback_pending": 0}
OUTCOMES = {
    "abandoned": 2, "after_hours": 1, "answered": 6, "callback": 1, "menu_hangup": 1, "overflow": 1,
    "replaced": 1, "short_abandon": 1,
}  # fmt: skip
# The headline as shown: 33.33 s is "33.3 s", 50.0%, 42.9%, 27.3%.
HEADLINE = {
    "offered": "14", "unique_callers": "11", "answered": "6", "asa": "33.3 s", "sl1": "50.0%",
    "sl2": "42.9%", "abandonment": "27.3%",
}  # fmt: skip
# Per line (offered, unique, queued, answered, ASA, SL1, SL2, abandonment, short, AHT, repeat rate,
# FCR):
# central: c1 c2 c3 c9 c10 c11 c12 c13 = 8; numbers 01 02 06 07 08 = 5; queued 7 (not c12);
#   answered c1 c2 c10 c13 = 4, waits 10+30+75+60 = 175 -> 43.75 s; within: c1 -> 1/4;
#   abandoned c3 (after T) c9 (within) -> SL2 1/(4+1); abandonment 2/7; short 0/7;
#   talk 180+120+200+90 = 590 -> 147.5 s; repeats 3/8; FCR: c1 c2 c10 c13, c1 called again: 3/4.
# north: c4 c5 c6 c7 c17 = 5; 03, withheld, withheld, 04, 10 = 5; queued c4 c5 c17 = 3;
#   answered c5 (20 s, within) -> SL1 1/1, SL2 1/(1+0) (c4's 3 s are within T: left out);
#   abandonment 1/3, short 1/3; AHT 60; no repeats; FCR: c5 withheld, nothing to divide: None.
# ambulance: c8 alone: 5 s wait, 300 s talk; FCR 1/1.
LINES: dict[str, tuple[float | None, ...]] = {
    CENTRAL: (8, 5, 7, 4, 175 / 4, 1 / 4, 1 / 5, 2 / 7, 0.0, 590 / 4, 3 / 8, 3 / 4),
    NORTH: (5, 5, 3, 1, 20.0, 1.0, 1.0, 1 / 3, 1 / 3, 60.0, 0.0, None),
    "ambulance": (1, 1, 1, 1, 5.0, 1.0, 1.0, 0.0, 0.0, 300.0, 0.0, 1.0),
}
# Per topic: operator = central without c11 (7 calls: 01 02 06 08; queued 6; the same 4
#   answered; abandonment 2/6; repeats 3/7); infection = c4 c5 c11 c17 (4 callers, all
#   queued; c5 answered; c4 short: abandonment 1/4, short 1/4); urgent = c8; "(none)" =
#   c6 c7: offered 2, unique 2, nothing queued: every rate but repeats is None. FCR as the
#   lines': operator 3/4 (as central), infection None (c5 withheld), urgent 1/1.
TOPICS: dict[str, tuple[float | None, ...]] = {
    "infection": (4, 4, 4, 1, 20.0, 1.0, 1.0, 1 / 4, 1 / 4, 60.0, 0.0, None),
    "operator": (7, 4, 6, 4, 175 / 4, 1 / 4, 1 / 5, 2 / 6, 0.0, 590 / 4, 3 / 7, 3 / 4),
    "urgent": (1, 1, 1, 1, 5.0, 1.0, 1.0, 0.0, 0.0, 300.0, 0.0, 1.0),
    "(none)": (2, 2, 0, 0, None, None, None, None, None, None, 0.0, None),
}
TABLE_FIELDS = (
    "offered", "unique_callers", "queued", "answered", "asa_seconds", "sl1", "sl2", "abandonment",
    "short_abandonment", "aht_seconds", "repeat_rate", "fcr",
)  # fmt: skip
# Load (offered by weekday x hour, Moscow): Mon 09: 2 (c1 c2), Mon 10: 1, Tue 14: 2 (c4 c5),
# Tue 15: 1, Wed 08: 1, Wed 12: 1 (c17), Thu 11: 2 (c9 c10), Fri 16: 3 (c11 c12 c13),
# Sun 23: 1 (c8: 20:59 UTC) = 14; every other of the 168 cells 0.
LOAD = {
    ("mon", 9): 2, ("mon", 10): 1, ("tue", 14): 2, ("tue", 15): 1, ("wed", 8): 1, ("wed", 12): 1,
    ("thu", 11): 2, ("fri", 16): 3, ("sun", 23): 1,
}  # fmt: skip
# Service level by hour of the day (hour: SL1, SL2); hours with no answered nor late abandon: None.
# 09: c1 within, c2 not -> 1/2, 1/2.  10: c3 abandoned after T -> SL1 None, SL2 0/(0+1).
# 11: c9 abandoned within T (left out), c10 answered late -> 0/1, 0/1.  14: c5 within -> 1, 1.
# 16: c13 answered late (c11 callback, c12 replaced: neither) -> 0, 0.  23: c8 -> 1, 1.
# 08 (after hours), 12 (overflow), 15 (menu): None, None.
BY_HOUR = {9: (0.5, 0.5), 10: (None, 0.0), 11: (0.0, 0.0), 14: (1.0, 1.0), 16: (0.0, 0.0), 23: (1.0, 1.0)}
# Waits by bin (bounds 5 10 15 20 30 45 60 90 120 ... 1800, then beyond): <=5: c4 3 (abandoned),
# c8 5 (answered); <=10: c1; <=15: c9; <=20: c5; <=30: c2; <=45: c3; <=60: c13; <=90: c10 75,
# c17 90 (overflow); <=120: c11 100 (callback) = 11 waits, the queued calls.
WAITS = {5.0: 2, 10.0: 1, 15.0: 1, 20.0: 1, 30.0: 1, 45.0: 1, 60.0: 1, 90.0: 2, 120.0: 1}
WAIT_BINS = 17  # 16 bounds and one beyond
RESULTS = {
    "calls": 2, "consultations": 1, "consultations_answered": 1, "received": 6, "open": 1,
    "states": {"delivered": 2, "transferred": 1, "verification_failed": 1, "unreachable": 1, "cancelled": 0,
               "expired": 0},
}  # fmt: skip
CALLBACK_FIGURES = {"requested": 4, "completed": 1, "failed": 1, "cancelled": 1, "open": 1}
