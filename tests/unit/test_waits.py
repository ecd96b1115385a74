"""Wait times for operations: how each wait ended and how long it was, the talk
after it, the queue and the agents as they stand now; counted by the real
dispatcher (through the fake Asterisk) the way /metrics exports them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from callrouter import config
from callrouter.calls.tally import centre_now
from callrouter.core import waits
from callrouter.core.agents import Agent, AgentState
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallRecord, Outcome
from callrouter.metrics import LiveCollector
from tests.unit.switchboard import Switchboard, settle
from tests.unit.test_config import MINIMAL, problems_of

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def record(outcome: Outcome | None, **times: float) -> CallRecord:
    """A call's final record; ``times``: seconds after T0 (queued, answered, ended)."""

    def at(name: str) -> datetime | None:
        return T0 + timedelta(seconds=times[name]) if name in times else None

    return CallRecord(
        "call-1", "node-a", "chan-1", "+78162700101", "clinic-central", "+79110000001", "allowed", T0,
        ended_at=at("ended"), outcome=outcome, topic="operator", queued_at=at("queued"),
        agent_answered_at=at("answered"),
    )  # fmt: skip


# ---- the pure figures --------------------------------------------------------------------
def test_an_answered_wait_runs_from_joining_to_the_agents_answer() -> None:
    done = record(Outcome.ANSWERED, queued=10, answered=42, ended=100)
    assert waits.wait_of(done) == waits.Wait("answered", 32.0, "operator", "clinic-central")
    assert waits.talk_of(done) == 58.0


@pytest.mark.parametrize(
    ("outcome", "name"),
    [
        (Outcome.ABANDONED, "abandoned"),
        (Outcome.SHORT_ABANDON, "abandoned"),
        (Outcome.OVERFLOW, "overflow"),
        (Outcome.CALLBACK, "callback"),
    ],
)
def test_other_waits_run_to_the_calls_end(outcome: Outcome, name: str) -> None:
    wait = waits.wait_of(record(outcome, queued=10, ended=25))
    assert wait is not None
    assert (wait.outcome, wait.seconds) == (name, 15.0)


@pytest.mark.parametrize("outcome", [Outcome.MENU_HANGUP, Outcome.REPLACED, Outcome.BUSY, None])
def test_calls_that_never_waited_or_whose_place_lives_on_count_no_wait(outcome: Outcome | None) -> None:
    assert waits.wait_of(record(outcome, queued=10, ended=25)) is None
    assert waits.wait_of(record(Outcome.ABANDONED, ended=25)) is None  # never queued


def test_the_queue_now_counts_callers_on_the_line_from_their_places_join_time() -> None:
    def entry(entry_id: str, topic: str, joined: float, channel: str | None) -> QueueEntry:
        return QueueEntry(entry_id, topic, "ru", "clinic-central", 0, T0 + timedelta(seconds=joined),
                          channel_id=channel)  # fmt: skip

    entries = [
        entry("a", "operator", 0, "chan-a"),
        entry("b", "operator", -300, "chan-b"),  # a resumed place: joined before this call began
        entry("c", "operator", -900, None),  # a callback: nobody on the line
        entry("d", "infection", 30, "chan-d"),
    ]
    now = waits.queue_now(entries, ["operator", "infection", "urgent"], T0 + timedelta(seconds=60))
    assert now == {
        "operator": waits.TopicNow(2, 360.0),
        "infection": waits.TopicNow(1, 30.0),
        "urgent": waits.TopicNow(0, 0.0),
    }


def test_agents_are_counted_in_every_state() -> None:
    agents = [Agent("a1", frozenset(), frozenset(), AgentState.IDLE), Agent("a2", frozenset(), frozenset())]
    assert waits.agents_now(agents) == {
        "logged_out": 1, "idle": 1, "ringing": 0, "on_call": 0, "wrap_up": 0, "paused": 0, "unreachable": 0,
    }  # fmt: skip


def test_a_logged_in_agent_whose_phone_is_unreachable_is_not_counted_idle() -> None:
    def agent(name: str, state: AgentState, reachable: bool) -> Agent:
        return Agent(name, frozenset(), frozenset(), state, reachable=reachable)

    agents = [
        agent("a1", AgentState.IDLE, False), agent("a2", AgentState.PAUSED, False),
        agent("a3", AgentState.IDLE, True), agent("a4", AgentState.LOGGED_OUT, False),
        agent("a5", AgentState.ON_CALL, False),  # a lapsed qualify mid-call: still on the call
    ]  # fmt: skip
    assert waits.agents_now(agents) == {
        "logged_out": 1, "idle": 1, "ringing": 0, "on_call": 1, "wrap_up": 0, "paused": 0, "unreachable": 2,
    }  # fmt: skip


# ---- the config: the service-level threshold is a bucket boundary -------------------------
def test_the_service_level_threshold_must_be_a_wait_bucket() -> None:
    (problem,) = problems_of("[queue]\nservice_level_seconds = 25\n" + MINIMAL)
    assert problem.startswith("queue.service_level_seconds: must be a boundary of the wait-time histogram")
    settings = config.parse("[queue]\nservice_level_seconds = 30\n" + MINIMAL, environ={})
    assert settings.file.queue.service_level_seconds == 30
    assert problems_of("[queue]\nservice_level_target = 1.5\n" + MINIMAL)[0].startswith(
        "queue.service_level_target"
    )


# ---- counted by the dispatcher --------------------------------------------------------------
def sample(board: Switchboard, name: str, **labels: str) -> float | None:
    return board.metrics.registry.get_sample_value(name, labels)


async def test_waits_and_talk_are_counted_when_calls_end(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    writing = await board.start()
    board.metrics.watch(LiveCollector(lambda: 0, lambda: 0, lambda: 0, centre=lambda: centre_now(
        board.dispatcher.board, board.clock())))  # fmt: skip

    await board.wait_for_operator("c1")  # answered after 12 s, talks 90 s
    board.clock.now += timedelta(seconds=12)
    live = generate_latest(board.metrics.registry).decode()
    assert 'callrouter_queue_callers{topic="operator"} 1.0' in live
    assert 'callrouter_queue_oldest_wait_seconds{topic="operator"} 12.0' in live
    assert 'callrouter_agents{state="ringing"} 1.0' in live
    assert 'callrouter_line_open{line="clinic-central"} 1.0' in live  # Monday 10:00 in Moscow
    board.answer_agents()
    await settle()
    board.clock.now += timedelta(seconds=90)
    board.hang_up("c1")
    await board.wait_for_operator("c2")  # hangs up after 40 s
    board.clock.now += timedelta(seconds=40)
    board.hang_up("c2")
    await settle()
    board.report_hang_ups()
    await settle()

    clinic = {"line_kind": "clinic", "topic": "operator"}
    answered, abandoned = {**clinic, "outcome": "answered"}, {**clinic, "outcome": "abandoned"}
    bucket = "callrouter_queue_wait_seconds_bucket"
    assert sample(board, bucket, **answered, le="10.0") == 0
    assert sample(board, bucket, **answered, le="15.0") == 1
    assert sample(board, "callrouter_queue_wait_seconds_sum", **answered) == 12
    assert sample(board, bucket, **abandoned, le="30.0") == 0
    assert sample(board, bucket, **abandoned, le="45.0") == 1
    assert sample(board, "callrouter_talk_seconds_sum", **clinic) == 90
    assert sample(board, "callrouter_talk_seconds_count", **clinic) == 1
    assert sample(board, "callrouter_menu_choices_total", topic="operator") == 2
    assert sample(board, "callrouter_queue_wait_seconds_count", line_kind="ambulance", topic="urgent",
                  outcome="callback") == 0  # fmt: skip
    assert sample(board, "callrouter_service_level_threshold_seconds") == 20
    assert sample(board, "callrouter_service_level_target_ratio") == 0.8
    # the threshold's bucket, by its le as the wait histogram writes it (the dashboards pick it so)
    assert sample(board, "callrouter_service_level_bucket", le="20.0") == 1
    assert sample(board, bucket, **answered, le="20.0") == 1  # the same le: the bucket it marks
    assert sample(board, "callrouter_line_info", line="ambulance", kind="ambulance") == 1
    after = generate_latest(board.metrics.registry).decode()
    assert 'callrouter_queue_callers{topic="operator"} 0.0' in after
    writing.cancel()
