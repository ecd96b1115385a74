"""A wake finds the deadlines due through ``Board.due_order`` (a heap that keeps
stale pairs until they come up) rather than by reading every deadline: under
random sets, moves and drops of deadlines, the pairs a step takes as due, and
the board's next wake (and whether a wake has anything to do), are exactly
what reading every deadline gives; and a step that is not in place leaves the
heap of the board it was given as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from callrouter import compiled, config
from callrouter.core.board import STALE_KEPT, Board, Key, _Step

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
BOARD = compiled.board(config.parse(EXAMPLE.read_text(), str(EXAMPLE), environ={}))
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
KEYS = [(kind, str(n)) for kind in ("call", "leg", "agent", "entry") for n in range(6)]

# One step: (in place, the deadlines set (None: dropped), then a wake at this many seconds).
Step = tuple[bool, list[tuple[Key, int | None]], int]
changes = st.lists(st.tuples(st.sampled_from(KEYS), st.none() | st.integers(0, 120)), max_size=12)
steps = st.lists(st.tuples(st.booleans(), changes, st.integers(0, 60)), min_size=1, max_size=30)


def scanned(deadlines: dict[Key, datetime], now: datetime) -> list[tuple[datetime, Key]]:
    """Every deadline read (the rule before the heap)."""
    return sorted((at, key) for key, at in deadlines.items() if at <= now)


@given(steps)
def test_the_heap_finds_exactly_the_deadlines_reading_every_one_finds(day: list[Step]) -> None:
    board = Board.create(BOARD.rules, BOARD.centre)  # its own: a step in place changes it
    now = T0
    for in_place, sets, wait in day:
        given_heap = list(board.due_order)
        s = _Step(board, now, in_place)
        for key, seconds in sets:
            s.deadline(key, None if seconds is None else now + timedelta(seconds=seconds))
        now += timedelta(seconds=wait)
        s.now = now
        expected = scanned(dict(s.board.deadlines), now)
        assert s.board.due_by(now) == bool(expected), "a wake has something to do exactly when some is due"
        due = s.due()
        assert due == expected
        for _, key in due:  # as ``_wake`` does: each dropped as it is acted on
            s.deadline(key, None)
        if not in_place:
            assert board.due_order == given_heap, "the board given is never changed"
        board = s.board
        assert not board.due_by(now)
        assert board.next_wake() == min(board.deadlines.values(), default=None)
        assert {(at, key) for key, at in board.deadlines.items()} <= set(board.due_order)


def test_a_deadline_moved_again_and_again_leaves_no_pile_of_stale_pairs() -> None:
    s = _Step(BOARD, T0, in_place=False)
    for n in range(1000):
        s.deadline(("call", "c1"), T0 + timedelta(seconds=n % 7 + 1))
    assert len(s.board.due_order) <= 2 + STALE_KEPT + 1
    s.now = T0 + timedelta(seconds=10)
    assert s.due() == [(T0 + timedelta(seconds=999 % 7 + 1), ("call", "c1"))]
