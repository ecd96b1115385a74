"""``callrouter simulate``'s engine: days through the production switchboard whose
outcome can be reasoned out exactly (one agent, calls far apart; two callers at
once and one agent), reproducible days, every call accounted for and ended, and
redials recognised by the switchboard's own repeat-caller rules."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from callrouter.core import switchboard as sb
from callrouter.core.records import CallRecord, Outcome, RepeatKind
from callrouter.simulate import figures, render
from callrouter.simulate.day import Day
from callrouter.simulate.engine import simulate
from callrouter.simulate.people import Draws, Person, first_calls, number_for
from callrouter.simulate.scenario import Scenario, ScenarioError, build, load_scenario
from tests.unit.test_switchboard_properties import check_agents

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"
TEN = 10 * 3600  # 10:00 in Moscow: the clinics are open
WRAP_UP = 10.0  # the example config's [queue] wrap_up_seconds
RING_TIMEOUT = 15.0  # the example config's [queue] ring_timeout_seconds


def scenario(**changes: Any) -> Scenario:
    """One agent (agent1, all day) and appointment bookings on clinic-central (keys 2, 1)."""
    data: dict[str, Any] = {
        "config": "callrouter.example.toml",
        "date": "2026-11-23",
        "handle": {"distribution": "fixed", "mean_seconds": 60},
        "patience": {"distribution": "infinite"},
        "arrivals": [{"line": "clinic-central", "topic": "appointment_book", "per_hour": [0]}],
        "shifts": [{"agents": ["agent1"], "start": "00:00", "end": "24:00"}],
        **changes,
    }
    return build(data, "test", ROOT)


def callers(scenario: Scenario, *seconds: float) -> list[Person]:
    """People calling at these seconds of the day, on the scenario's first arrival line."""
    stream = scenario.streams[0]
    return [Person(number_for(stream.country, n), stream, at) for n, at in enumerate(seconds)]


def wait(call: CallRecord) -> float:
    assert call.queued_at is not None and call.agent_answered_at is not None
    return (call.agent_answered_at - call.queued_at).total_seconds()


def test_one_agent_and_calls_far_apart_all_answered_after_the_ring() -> None:
    s = scenario()
    day = simulate(s, people=callers(s, TEN, TEN + 1800, TEN + 3600))
    assert [c.outcome for c in day.calls] == [Outcome.ANSWERED] * 3
    assert {c.agent for c in day.calls} == {"agent1"}
    for call, person in zip(day.calls, day.people, strict=True):
        # keys 2 and 1 a second apart, then the agent's phone rings 2 s
        assert call.queued_at == s.at(person.first_at + 2) and wait(call) == 2.0
        assert call.ended_at == s.at(person.first_at + 4 + 60), "talked for the fixed handle time"
        assert call.menu_path == "21" and call.repeat_kind is None
    summary = figures.summary(day)
    assert (summary.day.offered, summary.day.answered, summary.day.abandoned) == (3, 3, 0)
    assert (summary.day.asa_seconds, summary.day.sl1, summary.day.sl2) == (2.0, 1.0, 1.0)
    assert summary.day.never_served == 0 and summary.day.calls_per_person == 1.0
    ten = summary.hours[10]
    assert ten.offered == 2 and ten.agents == 1.0
    assert ten.occupancy == pytest.approx(2 * (2 + 60 + WRAP_UP) / 3600), "rung, talking, wrapping up"
    assert summary.day.agents == 1.0


def test_one_agent_two_callers_at_once_the_second_abandons_when_patience_runs_out() -> None:
    s = scenario(
        handle={"distribution": "fixed", "mean_seconds": 300},
        patience={"distribution": "fixed", "mean_seconds": 60},
    )
    day = simulate(s, people=callers(s, TEN, TEN))
    first, second = sorted(day.calls, key=lambda c: c.channel_id)
    assert first.outcome is Outcome.ANSWERED and wait(first) == 2.0
    assert second.outcome is Outcome.ABANDONED
    assert second.ended_at == s.at(TEN + 2 + 60), "hung up 60 s after joining the queue"
    summary = figures.summary(day).day
    assert (summary.answered, summary.abandoned, summary.never_served, summary.people) == (1, 1, 1, 2)
    assert summary.sl2 == 0.5, "answered within 20 s / (answered + abandoned after 20 s)"
    assert summary.abandonment == 0.5 and summary.asa_seconds == 2.0
    assert summary.mean_wait_seconds == (2 + 60) / 2, "the abandoned caller's wait counts too"


def redialled(withheld: bool = False) -> tuple[Scenario, Person, Person, Day]:
    """The talker keeps the one agent 600 s; the waiter gives up after 30 s and calls
    again 60 s later, once (``withheld``: both withhold their number)."""
    s = scenario(
        handle={"distribution": "fixed", "mean_seconds": 600},
        patience={"distribution": "fixed", "mean_seconds": 30},
        redial={"probability": 1, "max_attempts": 2, "delay": {"distribution": "fixed", "mean_seconds": 60}},
    )
    talker, waiter = callers(s, TEN, TEN + 10)
    talker.withheld = waiter.withheld = withheld
    return s, talker, waiter, simulate(s, people=[talker, waiter])


def test_a_redial_within_the_resume_window_takes_its_place_back() -> None:
    s, talker, waiter, day = redialled()
    assert len(waiter.calls) == 2, "one redial, then max_attempts"
    by_channel = {c.channel_id: c for c in day.calls}
    gave_up, again = (by_channel[c] for c in waiter.calls)
    assert gave_up.outcome is Outcome.ABANDONED and gave_up.repeat_kind is None
    assert again.started_at == s.at(TEN + 10 + 2 + 30 + 60), "60 s after hanging up"
    assert again.repeat_kind is RepeatKind.RESUMED and again.repeat_of == gave_up.call_id
    assert again.queued_at == gave_up.queued_at, "the place kept its first join time"
    assert again.menu_path is None, "the known topic skips the menu"
    assert again.outcome is Outcome.ABANDONED
    assert by_channel[talker.calls[0]].outcome is Outcome.ANSWERED
    summary = figures.summary(day).day
    assert (summary.offered, summary.people, summary.never_served) == (3, 2, 1)
    assert summary.calls_per_person == 1.5


def test_a_caller_who_withholds_their_number_is_not_recognised_when_calling_again() -> None:
    """The same day as the resume test, both people withholding: the redial queues anew."""
    _, _, waiter, day = redialled(withheld=True)
    assert {c.caller_presentation for c in day.calls} == {"withheld"} and {
        c.caller_number for c in day.calls
    } == {None}
    by_channel = {c.channel_id: c for c in day.calls}
    gave_up, again = (by_channel[c] for c in waiter.calls)
    assert again.queued_at is not None and gave_up.queued_at is not None
    assert again.repeat_kind is None and again.queued_at > gave_up.queued_at, "no place kept: a new one"
    assert again.menu_path == "21", "not known: through the menu again"
    # Not known to the switchboard, but to the day: two people, not one a call
    totals = figures.summary(day).day
    assert len(day.calls) == 3 and totals.offered == 3 and totals.people == 2
    assert totals.calls_per_person == 1.5


def test_who_withholds_is_drawn_with_the_people_the_same_for_every_run_of_the_seed() -> None:
    s = scenario(
        arrivals=[{"line": "clinic-central", "topic": "appointment_book", "per_hour": [0] * 9 + [400]}],
        callers={"withheld": 0.3},
    )
    people = first_calls(s, Draws(s.seed).arrivals)
    again = first_calls(s, Draws(s.seed).arrivals)
    assert [p.withheld for p in people] == [p.withheld for p in again]
    assert 0.2 < sum(p.withheld for p in people) / len(people) < 0.4, len(people)
    plain = first_calls(scenario(arrivals=s.file.arrivals), Draws(s.seed).arrivals)
    assert [(p.number, p.first_at) for p in plain] == [(p.number, p.first_at) for p in people], (
        "the same people"
    )
    assert not any(p.withheld for p in plain)


def test_menu_hangups_end_in_the_menu_and_do_not_call_again() -> None:
    s = scenario(
        callers={"menu_hangup": 1.0},
        redial={"probability": 1, "max_attempts": 3, "delay": {"distribution": "fixed", "mean_seconds": 60}},
    )
    people = callers(s, TEN, TEN + 600)
    day = simulate(s, people=people)
    assert [c.outcome for c in day.calls] == [Outcome.MENU_HANGUP] * 2
    for call, person in zip(day.calls, people, strict=True):
        assert call.queued_at is None and call.topic is None
        assert call.ended_at is not None and call.ended_at < s.at(person.first_at + 2), "before the last key"
        assert len(person.calls) == 1, "a menu hang-up is not redialled"
    assert [c.outcome for c in simulate(scenario(), people=callers(scenario(), TEN)).calls] == [
        Outcome.ANSWERED
    ]


def test_an_agent_who_lets_a_ring_go_is_paused_the_caller_offered_again_and_the_agent_resumes() -> None:
    """Two agents, every first ring missed at 50%: each miss is the ring timeout long,
    auto-pauses the agent, who resumes ``resume_seconds`` after; every call is answered."""
    s = scenario(
        misses={"probability": 0.5, "resume_seconds": 45},
        shifts=[{"agents": ["agent1", "agent2"], "start": "00:00", "end": "24:00"}],
    )
    people = callers(s, *(TEN + 400 * n for n in range(12)))
    day = simulate(s, people=people)
    assert [c.outcome for c in day.calls] == [Outcome.ANSWERED] * 12
    paused = [r for r in day.agent_states if r.state == "paused"]
    resumed = [r for r in day.agent_states if r.reason == "resume"]
    assert paused and len(resumed) == len(paused), "each auto-pause is resumed"
    for pause in paused:
        assert pause.reason == "auto-pause: No answer"
        back = min(r.at for r in resumed if r.agent == pause.agent and r.at > pause.at)
        assert back == pause.at + timedelta(seconds=45)
    missed = [c for c in day.calls if wait(c) > 2.0]
    assert missed, "some caller waited through a missed ring"
    for call in missed:
        assert wait(call) >= RING_TIMEOUT + 2.0, "the ring timeout, then the next agent's ring"


def test_a_ring_let_go_while_the_caller_hangs_up_leaves_no_resume_behind() -> None:
    """Callers who give up during a missed ring: the agent is not paused for it, and no
    resume is left over to cut a later pause short. Every auto-pause lasts ``resume_seconds``."""
    s = scenario(
        misses={"probability": 0.5, "resume_seconds": 600},
        patience={"distribution": "exponential", "mean_seconds": 20},
        shifts=[{"agents": ["agent1", "agent2"], "start": "00:00", "end": "24:00"}],
    )
    day = simulate(s, people=callers(s, *(TEN + 90 * n for n in range(80))))
    by_agent: dict[str, list[Any]] = {}
    for record in day.agent_states:
        by_agent.setdefault(record.agent, []).append(record)
    pauses = 0
    for records in by_agent.values():
        for record, after in pairwise(records):
            if record.state == "paused":
                pauses += 1
                assert (after.reason, after.at - record.at) == ("resume", timedelta(seconds=600)), (
                    record,
                    after,
                )
    assert pauses >= 3
    assert any(c.outcome is Outcome.ABANDONED for c in day.calls), "some gave up (during rings too)"


def test_callers_of_a_stream_with_its_own_language_choose_it_and_wait_for_an_agent_who_speaks_it() -> None:
    """English callers on a Russian line press the language key first; agent1 (Russian
    only) is never offered them, agent2 (both) takes them, however long they wait."""
    s = scenario(
        arrivals=[{"line": "clinic-central", "topic": "appointment_book", "per_hour": [0], "language": "en"}],
        shifts=[{"agents": ["agent1", "agent2"], "start": "00:00", "end": "24:00"}],
        handle={"distribution": "fixed", "mean_seconds": 300},
    )
    assert s.streams[0].keys == ("9", "2", "1")
    day = simulate(s, people=callers(s, TEN, TEN + 5, TEN + 10))
    assert [c.outcome for c in day.calls] == [Outcome.ANSWERED] * 3
    assert {(c.language, c.agent, c.menu_path) for c in day.calls} == {("en", "agent2", "921")}
    assert sorted(wait(c) for c in day.calls)[-1] > 300, "the third waits for agent2, agent1 idle"
    russian = scenario(shifts=[{"agents": ["agent1"], "start": "00:00", "end": "24:00"}])
    assert russian.streams[0].keys == ("2", "1")


def test_a_language_a_line_cannot_choose_is_refused_by_its_path() -> None:
    with pytest.raises(ScenarioError) as raised:
        scenario(
            arrivals=[
                {"line": "clinic-central", "topic": "appointment_book", "per_hour": [1], "language": "de"},
                {"line": "ambulance", "topic": "urgent", "per_hour": [1], "language": "en"},
            ]
        )
    problems = raised.value.problems
    assert any(
        p.startswith("arrivals[0].language: 'de' cannot be chosen on clinic-central") for p in problems
    )
    assert any(
        p.startswith("arrivals[1].language: 'en' cannot be chosen on ambulance") and "skips the menu" in p
        for p in problems
    ), problems


def test_each_arrival_stream_talks_for_its_own_handle_time() -> None:
    """A stream with its own ``handle`` talks for it; the others for the scenario's."""
    s = scenario(
        arrivals=[
            {"line": "clinic-central", "topic": "appointment_book", "per_hour": [0]},
            {"line": "ambulance", "topic": "urgent", "per_hour": [0],
             "handle": {"distribution": "fixed", "mean_seconds": 400}},
        ],
        shifts=[{"agents": ["agent1", "agent3"], "start": "00:00", "end": "24:00"}],
    )  # fmt: skip
    clinic, ambulance = s.streams
    people = [
        Person(number_for("RU", n), stream, TEN + 1800 * n)
        for n, stream in enumerate((clinic, ambulance) * 2)
    ]
    day = simulate(s, people=people)
    talks = {
        (c.line, c.ended_at - c.agent_answered_at)
        for c in day.calls
        if c.outcome is Outcome.ANSWERED and c.ended_at and c.agent_answered_at
    }
    assert talks == {("clinic-central", timedelta(seconds=60)), ("ambulance", timedelta(seconds=400))}
    assert len(day.calls) == 4


def run_small(seed: int | None = None, **observe: Any) -> tuple[Scenario, Day]:
    s = load_scenario(SMALL, seed)
    return s, simulate(s, **observe)


def test_a_window_of_hours_counts_the_calls_that_started_in_them() -> None:
    _, day = run_small()
    summary = figures.summary(day)
    assert figures.window(day, 0, 24) == summary.day
    assert figures.window(day, 9, 10) == summary.hours[9]
    morning = figures.window(day, 8, 12)
    assert morning.offered == sum(h.offered for h in summary.hours[8:12])
    assert morning.agents == pytest.approx(sum(h.agents for h in summary.hours[8:12]) / 4)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    s, day = run_small()
    again_s, again = run_small()
    text = render.as_json_text(s, figures.summary(day))
    assert text == render.as_json_text(again_s, figures.summary(again))
    assert day.calls == again.calls, "every record the same, to the microsecond"
    other_s, other = run_small(seed=2)
    assert json.loads(render.as_json_text(other_s, figures.summary(other)))["seed"] == 2
    assert other.calls != day.calls


def test_every_call_ends_once_and_is_counted_once() -> None:
    seen: list[sb.Command] = []

    def observe(board: sb.Board, commands: list[sb.Command]) -> None:
        check_agents(board)  # no agent on two calls, nobody waits whom a free agent could take
        seen.extend(c for c in commands if isinstance(c, sb.CallOver))

    s, day = run_small(observe=observe)
    made = [channel for person in day.people for channel in person.calls]
    assert sorted(c.channel_id for c in day.calls) == sorted(made), "one final record a call made"
    assert len(seen) == len(made) == len({c.channel_id for c in day.calls})
    for call in day.calls:
        assert call.outcome is not None and call.ended_at is not None, call
    summary = figures.summary(day).day
    outcomes = summary.outcomes
    assert summary.offered == len(made) == sum(outcomes.values())
    assert summary.answered == outcomes["answered"]
    assert summary.abandoned == outcomes.get("abandoned", 0) + outcomes.get("short_abandon", 0)
    assert set(outcomes) <= {"answered", "abandoned", "short_abandon", "overflow", "callback", "busy"}
    assert summary.people == len(day.people) and summary.never_served < summary.people
    assert summary.callbacks_completed > 0 and outcomes["callback"] > 0, "the example takes callbacks"
    assert sum(h.offered for h in figures.summary(day).hours) == summary.offered
    assert day.ended_at is not None and day.ended_at < s.at(86_400 + 3600)


def test_callbacks_booked_are_dialled_and_completed_by_the_switchboard() -> None:
    _, day = run_small()
    booked = {c.call_id for c in day.calls if c.outcome is Outcome.CALLBACK}
    completed = {r.call_id for r in day.callbacks.values() if r.state.value == "completed"}
    assert completed and completed <= booked
    assert len(day.dials) >= len(completed)
    first = min(day.dials)
    assert first > min(c.ended_at for c in day.calls if c.outcome is Outcome.CALLBACK and c.ended_at)


def test_agents_log_in_and_out_with_their_shifts() -> None:
    s, day = run_small()
    agent2 = [r for r in day.agent_states if r.agent == "agent2" and r.reason in ("login", "logout")]
    assert [r.state for r in agent2] == ["idle", "logged_out"]
    assert agent2[0].at == s.at(8 * 3600)
    assert s.at(16 * 3600) <= agent2[1].at < s.at(16 * 3600) + timedelta(minutes=30), "after their last call"


def test_the_benchmarks_busy_weekday_is_a_valid_scenario(tmp_path: Path) -> None:
    """bench/simulate.py's day (only built here: the benchmark itself is not a test)."""
    from bench import simulate as bench

    (tmp_path / "callrouter.toml").write_text(bench.config_text(max(bench.needed(35_000))))
    (tmp_path / "day.toml").write_text(bench.scenario_text(35_000, 1))
    s = load_scenario(tmp_path / "day.toml")
    first = sum(rate * (end - start) for stream in s.streams for start, end, rate in stream.intervals)
    assert first == pytest.approx(35_000 * bench.FIRST_SHARE, rel=0.01)
    spans = [span for agent in s.shifts.values() for span in agent]
    staffed = [sum(1 for a, b in spans if a <= h * 3600 < b) for h in range(24)]
    assert staffed == bench.needed(35_000) and max(staffed) > 150


def test_redials_that_would_come_after_midnight_are_counted_not_made() -> None:
    """The one agent talks from 23:00 on; two callers give up after 30 s and call again
    600 s later: the one at 23:01 calls again that day, the one at 23:51 would call after
    midnight (not made, counted)."""
    s = scenario(
        arrivals=[{"line": "hotline-health", "topic": "operator", "per_hour": [0]}],
        handle={"distribution": "fixed", "mean_seconds": 7200},
        patience={"distribution": "fixed", "mean_seconds": 30},
        redial={"probability": 1, "max_attempts": 2, "delay": {"distribution": "fixed", "mean_seconds": 600}},
    )
    talker, early, late = callers(s, 23 * 3600, 23 * 3600 + 60, 23 * 3600 + 51 * 60)
    day = simulate(s, people=[talker, early, late])
    assert (len(talker.calls), len(early.calls), len(late.calls)) == (1, 2, 1)
    assert day.late_redials == 1


def test_a_day_reports_each_simulated_hour_it_reaches_in_order() -> None:
    s = scenario()
    reached: list[int] = []
    simulate(
        s,
        people=callers(s, TEN, 15 * 3600),
        progress=lambda at: reached.append(int((at - s.start).total_seconds())),
    )
    hours = [r // 3600 for r in reached]
    assert all(r % 3600 == 0 for r in reached) and hours == sorted(set(hours))
    assert 10 in hours and 15 in hours and hours[-1] >= 15
