"""Repeat callers in the switchboard: one person, one place in line. Pure steps on
the example's board (``test_switchboard``'s helpers), asserting on what callers
hear, the queue and the records."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.call_state import Phase
from callrouter.core.commands import SetVariable
from callrouter.core.place import Place
from callrouter.core.queue import GIVEN_BACK_GRACE
from callrouter.core.records import CallRecord, Outcome, PersonRecord, RepeatKind
from tests.unit.test_switchboard import (
    AMBULANCE,
    NORTH,
    T0,
    at,
    fresh,
    leg_for,
    on,
    originates,
    plays,
    queued,
)

ANNA = "+79161234567"
BORIS = "+79167654321"
KEY = fresh().rules.repeat.key_of  # people are known by a keyed hash of their number


def paused(*agents: str) -> sb.Board:
    """Agents logged in but on a break: callers wait."""
    board = fresh(*agents)
    for agent in agents:
        board, _ = sb.step(board, sb.AgentCommand(agent, "pause", "break"), T0)
    return board


def heard(commands: list[sb.Command], channel_id: str) -> list[str]:
    return [m for p in plays(commands, channel_id) for m in p.media]


def last_call_record(commands: list[sb.Command], channel_id: str) -> CallRecord:
    records = [
        c.record
        for c in commands
        if isinstance(c, sb.Write) and isinstance(c.record, CallRecord) and c.record.channel_id == channel_id
    ]
    return records[-1]


def people(commands: list[sb.Command]) -> list[PersonRecord]:
    return [c.record for c in commands if isinstance(c, sb.Write) and isinstance(c.record, PersonRecord)]


def hang_up(board: sb.Board, channel_id: str, seconds: float) -> tuple[sb.Board, list[sb.Command]]:
    return on(board, channel_id, ev.CallerHungUp(), seconds)


# ---- already waiting -------------------------------------------------------------------------
def test_the_same_number_on_a_second_line_takes_over_the_place_and_the_older_leg_is_released() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, _ = queued(board, "other", 2, number=BORIS)
    board, out = queued(board, "c2", 30, number=ANNA, did=NORTH)

    (entry,) = [e for e in board.centre.queue.entries.values() if e.caller_key == KEY(ANNA)]
    assert len(board.centre.queue) == 2, "one person, one entry"
    assert entry.entry_id == "place-c1" and entry.joined_at == at(1), "the first call's place and join time"
    assert entry.channel_id == "c2" and board.entries["place-c1"] == "c2"
    assert board.centre.queue.position("place-c1") == 1, "still ahead of the caller who joined in between"
    assert "repeat_kept_place" in " ".join(heard(out, "c2")), "told they keep their place"
    assert "repeat_replaced" in " ".join(heard(out, "c1")), "the older leg hears a short message"
    assert board.calls["c1"].phase is Phase.LEAVING and board.calls["c1"].entry_id is None

    record = last_call_record(out, "c2")
    assert record.repeat_kind is RepeatKind.ALREADY_WAITING
    assert record.repeat_of == board.calls["c1"].record.call_id
    assert record.queued_at == at(1)

    board, out = on(board, "c1", ev.PlaybackFinished(board.calls["c1"].playback_id or ""), 33)
    board, more = hang_up(board, "c1", 33.2)
    assert last_call_record(more, "c1").outcome is Outcome.REPLACED
    assert "place-c1" in board.centre.queue, "the older call's end leaves the place with the newer"


def test_a_place_taken_over_for_another_topic_overflows_on_that_topics_max_wait() -> None:
    """Results wait 600 s at most (then the operator), appointments 900 s (then "busy"),
    the operator topic has no maximum: a place taken over for another topic overflows
    on the new topic's maximum after its join time, never on the old one's."""
    board, _ = queued(fresh(), "c1", 0, keys="3", number=ANNA)  # results
    board, _ = queued(board, "c2", 100, keys="21", number=ANNA)  # appointments now
    assert board.deadlines[("entry", "place-c1")] == at(900)
    board, out = sb.step(board, sb.Wake(), at(600))
    assert board.calls["c2"].phase is Phase.QUEUED and not plays(out, "c2")
    board, out = sb.step(board, sb.Wake(), at(900))
    assert board.calls["c2"].phase is Phase.LEAVING and "overflow_busy" in " ".join(heard(out, "c2"))

    board, _ = queued(fresh(), "d1", 0, keys="0", number=BORIS)  # the operator: no maximum
    board, _ = queued(board, "d2", 100, keys="21", number=BORIS)
    assert board.deadlines[("entry", "place-d1")] == at(900), "had none: never overflowed"
    board, _ = queued(board, "d3", 200, keys="0", number=BORIS)  # the operator again
    assert ("entry", "place-d1") not in board.deadlines
    board, out = sb.step(board, sb.Wake(), at(900))
    assert board.calls["d3"].phase is Phase.QUEUED and not plays(out, "d3")


def test_taking_over_keeps_the_higher_priority_of_the_two() -> None:
    board = paused("agent1", "agent2", "agent3")
    board, _ = queued(board, "c1", 1, number=ANNA)
    low = board.centre.queue.entries["place-c1"].priority
    board, _ = queued(board, "c2", 5, number=ANNA, did=AMBULANCE, keys="")
    entry = board.centre.queue.entries["place-c1"]
    assert entry.priority > low and entry.channel_id == "c2"
    board, _ = queued(board, "c3", 9, number=ANNA, keys="0")
    assert board.centre.queue.entries["place-c1"].priority == entry.priority, "never lowered"


def test_an_agent_answering_the_taken_over_place_is_bridged_to_the_newer_call() -> None:
    board = fresh("agent1")
    board, out = queued(board, "c1", 1, number=ANNA)
    leg = leg_for(out).channel_id  # agent1 rings for the first call's place
    board, out = queued(board, "c2", 3, number=ANNA, did=NORTH)
    assert not originates(out), "the ringing agent is not rung again"
    assert "c2" in board.bridges and "c1" not in board.bridges, "the bridge made for the place moves"
    board, out = sb.step(board, sb.LegAnswered(leg), at(4))
    joins = [c for c in out if isinstance(c, sb.ToChannel) and isinstance(c.command, sb.JoinBridge)]
    assert [c.channel_id for c in joins] == ["c2"]


# ---- abandoned recently ---------------------------------------------------------------------
def test_a_redial_whose_kept_place_is_past_its_max_wait_is_not_overflowed_at_once() -> None:
    """Appointments wait 900 s at most: a caller who waited 800 s and redials 200 s later
    keeps their place (joined at 1 s) and is told so, then has a grace for the next agent
    rather than a "busy" at once; a caller who never left still overflows at 900 s."""
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA, keys="21")
    board, _ = queued(board, "stayed", 50, number=BORIS, keys="21")
    assert board.deadlines[("entry", "place-stayed")] == at(950)
    board, _ = hang_up(board, "c1", 800)
    board, out = queued(board, "c2", 1000, number=ANNA, keys="")
    assert "repeat_kept_place" in " ".join(heard(out, "c2"))
    entry = board.centre.queue.entries["place-c2"]
    assert entry.joined_at == at(1) and board.centre.queue.position("place-c2") == 1
    assert board.deadlines[("entry", "place-c2")] == at(1000) + GIVEN_BACK_GRACE
    board, out = sb.step(board, sb.Wake(), at(1001))
    assert board.calls["c2"].phase is Phase.QUEUED and not plays(out, "c2")
    assert board.calls["stayed"].phase is Phase.LEAVING, "overflowed at 950 s, as before"
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(1030))
    assert [o.app_args for o in originates(out)] == ["agent,place-c2,agent1"]


def test_a_redial_within_the_window_skips_the_menu_and_is_served_before_those_who_joined_after() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, _ = queued(board, "between", 60, number=BORIS)
    board, out = hang_up(board, "c1", 240)  # gave up after four minutes
    assert "place-c1" not in board.centre.queue, "a caller who is gone is never offered"
    assert last_call_record(out, "c1").outcome is Outcome.ABANDONED, "counted as abandoned, per call"
    (memory,) = people(out)
    assert (memory.person, memory.joined_at, memory.topic) == (KEY(ANNA), at(1), "operator")

    board, out = queued(board, "c2", 300, number=ANNA, keys="")  # no key: the menu is skipped
    entry = board.centre.queue.entries["place-c2"]
    assert entry.joined_at == at(1) and entry.topic == "operator"
    assert board.centre.queue.position("place-c2") == 1 and board.centre.queue.position("place-between") == 2
    assert "menu_main" not in " ".join(heard(out, "c2"))
    record = last_call_record(out, "c2")
    assert (record.repeat_kind, record.queued_at) == (RepeatKind.RESUMED, at(1))
    assert record.repeat_of == memory.left_call_id is not None
    (said,) = plays(out, "c2")  # the line's greeting, that they kept their place, and where
    assert [m.rsplit("/", 1)[-1] for m in said.media[:3]] == [
        "greeting-clinic-central",
        "repeat_kept_place",
        "queue_position",
    ]
    # Nothing plays before the kept place is set on the channel: Asterisk would set it
    # only once the playback ended, holding up what the router sends after it.
    c2 = [c.command for c in out if isinstance(c, sb.ToChannel) and c.channel_id == "c2"]
    place = [c for c in c2 if isinstance(c, SetVariable)][-1]
    kept = Place.from_variable(place.value)
    assert c2.index(place) < c2.index(said) and kept is not None and kept.joined_at == at(1)


def test_a_place_is_resumed_once_and_a_second_abandon_keeps_the_original_time() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, _ = hang_up(board, "c1", 100)
    board, _ = queued(board, "c2", 200, number=ANNA, keys="")
    board, _ = hang_up(board, "c2", 300)
    board, _ = queued(board, "c3", 400, number=ANNA, keys="")
    assert board.centre.queue.entries["place-c3"].joined_at == at(1)


def test_a_redial_after_the_window_starts_again_at_the_back() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, _ = hang_up(board, "c1", 100)
    board, out = queued(board, "c2", 100 + 601, number=ANNA)
    assert board.centre.queue.entries["place-c2"].joined_at == at(701)
    assert last_call_record(out, "c2").repeat_kind is None


def test_excluded_and_withheld_numbers_are_never_matched() -> None:
    for number in ("+78162700000", "+78162700093", "anonymous"):
        board = paused("agent1")
        board, _ = queued(board, "c1", 1, number=number)
        board, out = queued(board, "c2", 2, number=number, did=NORTH)
        assert len(board.centre.queue) == 2, number
        assert board.calls["c1"].phase is Phase.QUEUED
        assert last_call_record(out, "c2").repeat_kind is None
        board, out = hang_up(board, "c1", 10)
        assert not people(out), "nothing is remembered of them"


def test_a_call_lost_while_waiting_gives_up_its_place_but_a_redial_gets_it_back() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, out = sb.step(board, sb.OnCall("c1", ev.CommandFailed("play", "boom")), at(2))
    assert "place-c1" not in board.centre.queue, "an abnormal end never keeps a place in the queue"
    assert [p.person for p in people(out)] == [KEY(ANNA)]
    board, _ = queued(board, "c2", 30, number=ANNA, keys="")
    assert board.centre.queue.entries["place-c2"].joined_at == at(1)


# ---- answered recently -----------------------------------------------------------------------
def test_a_call_after_an_answered_one_is_a_repeat_contact_and_prefers_the_last_agent() -> None:
    board = fresh("agent1", "agent2")
    board, out = queued(board, "c1", 1, number=ANNA)
    first = leg_for(out)
    board, out = sb.step(board, sb.LegAnswered(first.channel_id), at(2))
    (memory,) = people(out)
    assert (memory.contact_agent, memory.contact_at) == (first.agent_id, at(2))
    board, _ = sb.step(board, sb.LegGone(first.channel_id, "normal"), at(60))
    board, _ = hang_up(board, "c1", 60)
    board, _ = sb.step(board, sb.Wake(), at(200))  # wrap-up over: both agents idle, the other idle longer

    board, out = queued(board, "c2", 3600, number=ANNA)
    assert leg_for(out).agent_id == first.agent_id, "the agent who spoke to them last"
    record = last_call_record(out, "c2")
    assert record.repeat_kind is RepeatKind.RECENT_CONTACT and record.repeat_of == memory.contact_call_id

    board, out = queued(board, "c3", 3600 + 86_401, number=BORIS)
    assert last_call_record(out, "c3").repeat_kind is None


def test_the_preferred_agent_is_never_taken_from_a_higher_priority_caller() -> None:
    board = fresh("agent3")
    board, out = queued(board, "c1", 1, number=ANNA)
    leg = leg_for(out)
    board, _ = sb.step(board, sb.LegAnswered(leg.channel_id), at(2))
    board, _ = sb.step(board, sb.LegGone(leg.channel_id, "normal"), at(30))
    board, _ = hang_up(board, "c1", 30)
    board, _ = sb.step(board, sb.AgentCommand("agent3", "pause", "break"), at(31))
    board, _ = queued(board, "c2", 40, number=ANNA)  # prefers agent1
    board, _ = queued(board, "amb", 50, number=BORIS, did=AMBULANCE, keys="")
    board, out = sb.step(board, sb.AgentCommand("agent3", "resume"), at(60))
    assert board.centre.agents["agent3"].entry_id == "place-amb", "the urgent caller first"


# ---- a restart -------------------------------------------------------------------------------
def test_what_was_remembered_survives_a_restart() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, out = hang_up(board, "c1", 100)
    remembered = tuple(people(out))

    restarted = paused("agent1")
    restarted, _ = sb.step(restarted, sb.Remember(remembered), at(150))
    restarted, _ = queued(restarted, "c2", 200, number=ANNA, keys="")
    assert restarted.centre.queue.entries["place-c2"].joined_at == at(1)


def test_memories_past_their_windows_are_not_loaded_and_are_dropped() -> None:
    old = PersonRecord(KEY(ANNA), T0, left_at=T0, joined_at=T0, topic="operator", priority=0)
    board, _ = sb.step(paused("agent1"), sb.Remember((old,)), T0 + timedelta(seconds=601))
    assert board.people == {}
    board, _ = sb.step(paused("agent1"), sb.Remember((old,)), T0 + timedelta(seconds=10))
    assert KEY(ANNA) in board.people
    board, _ = queued(board, "c1", 20, number=BORIS)
    board, _ = sb.step(board, sb.Wake(), T0 + timedelta(seconds=700))
    assert KEY(ANNA) not in board.people
    contact = replace(old, left_at=None, contact_at=T0, contact_agent="agent1")
    board, _ = sb.step(paused("agent1"), sb.Remember((contact,)), T0 + timedelta(hours=23))
    assert KEY(ANNA) in board.people


def test_a_withheld_caller_is_matched_on_the_asserted_number_only_where_the_config_allows() -> None:
    def two_private_calls(board: sb.Board) -> sb.Board:
        for n, channel_id in enumerate(("c1", "c2")):
            event = sb.Arrived(channel_id, NORTH, ANNA, at(n), f"place-{channel_id}", True, 0.0, "prohib")
            board, _ = sb.step(board, event, at(n))
            board, _ = on(board, channel_id, ev.Digit("0"), n + 0.5)
        return board

    board = two_private_calls(paused("agent1"))
    assert len(board.centre.queue) == 2, "by default a withheld number is never matched"
    assert all(e.caller_key is None for e in board.centre.queue.entries.values())

    allowing = paused("agent1")
    rules = replace(allowing.rules, repeat=replace(allowing.rules.repeat, match_withheld=True))
    board = two_private_calls(replace(allowing, rules=rules))
    (entry,) = board.centre.queue.entries.values()
    assert entry.channel_id == "c2" and board.calls["c1"].phase is Phase.LEAVING
    assert board.calls["c2"].record.caller_number is None, "matched, never shown or stored"


def test_people_are_known_by_a_keyed_hash_never_by_their_number() -> None:
    board = paused("agent1")
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, out = hang_up(board, "c1", 100)
    (memory,) = people(out)
    assert ANNA not in repr(memory) and ANNA.lstrip("+") not in repr(memory)
    other = replace(board.rules, repeat=replace(board.rules.repeat, secret=b"another key"))
    assert other.repeat.key_of(ANNA) != memory.person, "keyed: not a plain hash anyone can recompute"
