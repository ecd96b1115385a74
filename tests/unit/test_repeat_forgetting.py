"""What the switchboard remembers of people is forgotten once every window of it has
passed, as before, but found through ``Board.forgetting`` (who may be forgotten
when) rather than by reading every memory at every check; and a step in place
changes the board's mappings where they are, with the same outcome."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callrouter import compiled, config
from callrouter.core import repeat
from callrouter.core import switchboard as sb
from callrouter.core.board import _forget_expired, _remember, _Step
from callrouter.core.records import PersonRecord

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
BOARD = compiled.board(config.parse(EXAMPLE.read_text(), str(EXAMPLE), environ={}))
RULES = BOARD.rules.repeat  # resume 600 s, contact 1 day
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def memory(rng: random.Random, person: str, now: datetime) -> PersonRecord:
    """Someone who gave up a place, talked to an agent, both, or (a place taken back) neither."""
    left = now - timedelta(seconds=rng.uniform(0, 900)) if rng.random() < 0.6 else None
    contact = now - timedelta(seconds=rng.uniform(0, 2 * 86_400)) if rng.random() < 0.5 else None
    joined = left - timedelta(minutes=3) if left else None
    return PersonRecord(
        person, now, left_at=left, joined_at=joined, topic="operator" if left else None, priority=0,
        contact_at=contact, contact_agent="agent1" if contact else None,
    )  # fmt: skip


def kept(people: dict[str, PersonRecord], now: datetime) -> set[str]:
    """What reading every memory keeps (the rule before the index)."""
    return {p for p, m in people.items() if not repeat.expired(RULES, m, now)}


def test_the_index_forgets_exactly_whom_reading_every_memory_would() -> None:
    rng = random.Random(17)
    board, now = BOARD, T0
    truth: dict[str, PersonRecord] = {}
    for round_ in range(40):
        s = _Step(board, now)
        for n in rng.sample(range(300), 25):  # some remembered again: their older mentions go stale
            m = memory(rng, f"p{n}", now)
            _remember(s, m)
            truth[m.person] = m
        _forget_expired(s)
        truth = {p: m for p, m in truth.items() if p in kept(truth, now)}
        board = s.board
        assert set(board.people) == set(truth), round_
        assert set().union(*board.forgetting.values()) >= set(board.people), "everyone is indexed"
        now += timedelta(seconds=rng.choice([30, 30, 300, 3600, 20_000]))
    assert len(board.people) < 300, "some were forgotten"


def test_memories_loaded_at_a_restart_are_indexed_too() -> None:
    rng = random.Random(3)
    records = [memory(rng, f"p{n}", T0) for n in range(200)]
    board, _ = sb.step(BOARD, sb.Remember(tuple(records)), T0)
    expected = kept({r.person: r for r in records}, T0)
    assert set(board.people) == expected
    later = T0 + timedelta(hours=20)
    s = _Step(board, later)
    _forget_expired(s)
    assert set(s.board.people) == kept(dict(board.people), later) and len(s.board.people) < len(expected)
    assert set(board.people) == expected, "the board given is never changed"


def test_a_step_in_place_changes_the_mappings_where_they_are_with_the_same_outcome() -> None:
    board, _ = sb.step(BOARD, sb.AgentCommand("agent1", "login"), T0)
    event = sb.Arrived("c1", "+78162700101", "+79161230001", T0, "p1", True)
    copied, out = sb.step(board, event, T0)
    assert board.calls == {} and board.deadlines == {}, "the board given is never changed"
    calls, deadlines = board.calls, board.deadlines
    in_place, out_in_place = sb.step(board, event, T0, in_place=True)
    assert out_in_place == out and in_place == copied
    assert in_place.calls is calls and in_place.deadlines is deadlines and "c1" in calls
