"""The switchboard records each change of a place (pure ``sb.step``): taken,
reprioritised, connected, left, overflowed; nothing per announcement. A restart's
stored places: resumed when the channel lost its own, closed when the call is gone."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callrouter import compiled, config
from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.call import call_id_for
from callrouter.core.place import Place
from callrouter.core.records import PlaceRecord, PlaceState
from callrouter.core.repeat import RepeatRules
from tests.unit.switchboard import CLINIC, EXAMPLE

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow: the clinics are open
NODE = "asterisk-1"
NUMBER = "+79161234567"


class Board:
    """A pure switchboard and the place records its steps wrote."""

    def __init__(self, *logged_in: str) -> None:
        settings = config.parse(EXAMPLE.read_text(), str(EXAMPLE), environ={})
        self.board = compiled.board(settings)
        self.now = T0
        self.places: list[PlaceRecord] = []
        self.commands: list[sb.Command] = []
        for agent in logged_in:
            self.step(sb.AgentCommand(agent, "login"))

    def step(self, event: sb.Event, after: float = 0.0) -> list[sb.Command]:
        self.now += timedelta(seconds=after)
        self.board, commands = sb.step(self.board, event, self.now)
        self.commands += commands
        self.places += [
            c.record for c in commands if isinstance(c, sb.Write) and isinstance(c.record, PlaceRecord)
        ]
        return commands

    def queue_for_operator(self, channel: str) -> str:
        """A caller arrives and presses 0 (the operator); their place id."""
        # One person per call (the same number twice would be one place).
        number = NUMBER if channel == "c1" else f"+7916555{zlib.crc32(channel.encode()) % 10_000:04d}"
        self.step(sb.Arrived(channel, CLINIC, number, self.now, f"place-{channel}", up=True))
        self.step(sb.OnCall(channel, ev.Digit("0")), after=1)
        entry_id = self.board.calls[channel].entry_id
        assert entry_id is not None
        return entry_id

    def states(self) -> list[tuple[str, PlaceState]]:
        return [(p.place_id, p.state) for p in self.places]


def test_a_place_taken_then_connected_is_written_twice_and_not_per_announcement() -> None:
    b = Board()  # nobody logged in: the caller waits
    place_id = b.queue_for_operator("c1")
    (taken,) = b.places
    assert taken == PlaceRecord(
        place_id, NODE, b.now, PlaceState.WAITING, b.board.rules.repeat.key_of(NUMBER), "operator",
        taken.priority, "ru", taken.line, b.now, call_id_for(NODE, "c1"),
    )  # fmt: skip
    for _ in range(5):  # announcements, music, timers: no place records
        b.step(sb.OnCall("c1", ev.PlaybackFinished(b.board.calls["c1"].playback_id or "")), after=10)
        b.step(sb.Wake(), after=30)
    assert len(b.places) == 1
    b.step(sb.AgentCommand("agent1", "login"), after=1)
    (leg,) = [c for c in b.commands if isinstance(c, sb.Originate)]
    assert len(b.places) == 1, "being offered is not a change of the place"
    b.step(sb.LegAnswered(leg.channel_id), after=3)
    assert b.states() == [(place_id, PlaceState.WAITING), (place_id, PlaceState.CONNECTED)]
    assert b.places[-1] == replace(taken, at=b.now, state=PlaceState.CONNECTED)
    b.step(sb.OnCall("c1", ev.CallerHungUp("normal")), after=60)
    assert len(b.places) == 2, "a connected place has ended already"


def test_a_reprioritised_place_is_written_with_its_new_priority() -> None:
    b = Board()
    place_id = b.queue_for_operator("c1")
    b.step(sb.Reprioritise(place_id, 99), after=5)
    assert [(p.state, p.priority) for p in b.places][-1] == (PlaceState.WAITING, 99)
    assert b.places[-1].joined_at == b.places[0].joined_at, "the same place, not a new one"


def test_a_caller_who_hangs_up_or_vanishes_while_waiting_leaves_the_place() -> None:
    b = Board()
    hung_up, vanished = b.queue_for_operator("c1"), b.queue_for_operator("c2")
    b.step(sb.OnCall("c1", ev.CallerHungUp("normal")), after=5)
    b.step(sb.OnCall("c2", ev.ChannelGone("not in Asterisk any more")), after=5)
    assert b.states()[2:] == [(hung_up, PlaceState.LEFT), (vanished, PlaceState.LEFT)]


def test_a_caller_who_hangs_up_while_their_agent_rings_leaves_the_place() -> None:
    b = Board("agent1")
    place_id = b.queue_for_operator("c1")
    b.step(sb.OnCall("c1", ev.CallerHungUp("normal")), after=2)
    assert b.states() == [(place_id, PlaceState.WAITING), (place_id, PlaceState.LEFT)]


def test_a_place_past_its_topic_s_maximum_wait_is_overflowed() -> None:
    b = Board()
    b.step(sb.Arrived("c1", CLINIC, NUMBER, b.now, "place-c1", up=True))
    b.step(sb.OnCall("c1", ev.Digit("2")), after=1)
    b.step(sb.OnCall("c1", ev.Digit("1")), after=1)  # booking: max wait 900 s, then "busy"
    place_id = b.board.calls["c1"].entry_id
    b.step(sb.Wake(), after=901)
    assert b.states() == [(place_id, PlaceState.WAITING), (place_id, PlaceState.OVERFLOWED)]


def test_a_place_overflowed_to_another_topic_waits_again_in_the_same_instant() -> None:
    b = Board()
    b.step(sb.Arrived("c1", CLINIC, NUMBER, b.now, "place-c1", up=True))
    b.step(sb.OnCall("c1", ev.Digit("3")), after=1)  # results: after 600 s, the operator
    b.step(sb.Wake(), after=601)
    assert [(p.state, p.topic) for p in b.places] == [
        (PlaceState.WAITING, "results"), (PlaceState.OVERFLOWED, "results"), (PlaceState.WAITING, "operator"),
    ]  # fmt: skip
    assert b.places[1].at == b.places[2].at and b.places[2].joined_at == b.places[0].joined_at


# ---- a restart ---------------------------------------------------------------------------
def stored(channel: str, **changes: object) -> PlaceRecord:
    base = PlaceRecord(
        f"place-{channel}", NODE, T0, PlaceState.WAITING, RepeatRules().key_of(NUMBER), "infection", 10, "ru",
        "clinic-central",
        T0 - timedelta(minutes=3), call_id_for(NODE, channel),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def found(channel: str, place: Place | None = None) -> sb.Found:
    return sb.Found(channel, CLINIC, NUMBER, T0 - timedelta(minutes=4), place)


def test_a_found_call_whose_channel_lost_its_place_resumes_the_stored_one() -> None:
    b = Board()
    b.now += timedelta(minutes=5)
    kept = stored("c1")
    b.step(sb.Adopt((found("c1"),), stored_places=(kept,)))
    (entry,) = b.board.centre.queue.entries.values()
    assert (entry.entry_id, entry.topic, entry.priority, entry.joined_at) == (
        kept.place_id, "infection", 10, kept.joined_at,
    )  # fmt: skip
    assert b.places == [replace(kept, at=b.now)], "written waiting again by this router"


def test_the_channel_s_place_wins_and_a_stored_place_no_longer_held_is_closed() -> None:
    b = Board()
    own = Place("urgent", 100, T0 - timedelta(minutes=1), "ru", None, "place-own")
    b.step(sb.Adopt((found("c1", own),), stored_places=(stored("c1"),)))
    assert list(b.board.centre.queue.entries) == ["place-own"]
    assert sorted(b.states()) == [("place-c1", PlaceState.LEFT), ("place-own", PlaceState.WAITING)]


def test_stored_places_whose_calls_are_gone_are_left_and_other_nodes_are_not_touched() -> None:
    b = Board()
    gone, elsewhere = stored("c-gone"), stored("c-other", node="asterisk-2", place_id="p-other")
    b.step(sb.Adopt((found("c1"),), stored_places=(gone, elsewhere)))
    assert b.places == [replace(gone, at=b.now, state=PlaceState.LEFT)]
    assert not b.board.centre.queue.entries, "c1 had no place: it starts afresh"
