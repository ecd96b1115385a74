"""The demo's redial storm, as planned: a few dozen people (numbers of their own),
several calls each, redials inside the demo's resume window, a second line
while the first waits, callbacks taken, the whole demo within its time, and
the demo's config valid with the storm's shorter windows."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

from callrouter import config
from devstack import demo, redial_storm
from devstack.redial_storm import PlannedCall

STORM = redial_storm.plan(demo.CLINICS)


def by_person(calls: list[PlannedCall]) -> dict[str, list[PlannedCall]]:
    people: dict[str, list[PlannedCall]] = defaultdict(list)
    for call in calls:
        people[call.number].append(call)
    return people


def test_a_few_dozen_people_call_several_times_each_on_numbers_of_their_own() -> None:
    people = by_person(STORM)
    assert 24 <= len(people) <= 48
    assert all(len(calls) >= 2 for calls in people.values())
    assert len(STORM) >= 2.2 * len(people)
    assert not set(people) & {c.number for c in demo.plan_callers()}, "the busy hour's callers call once"


def test_redials_come_after_the_hang_up_and_inside_the_resume_window() -> None:
    resume = float(redial_storm.CONFIG["resume_seconds = 600 "].split("=")[1])
    redials = 0
    for calls in by_person(STORM).values():
        for before, after in pairwise(calls):
            if after.offset >= before.ends:
                assert after.offset - before.ends < resume / 4, "well inside the window, however late"
                redials += 1
    assert redials >= 30


def test_some_call_a_second_line_while_the_first_still_waits() -> None:
    overlapping = [
        (first, second)
        for calls in by_person(STORM).values()
        for first, second in pairwise(calls)
        if second.offset < first.ends and second.did != first.did
    ]
    assert len(overlapping) >= 5


def test_nobody_presses_1_unless_taking_a_callback() -> None:
    """A redial that skips the menu is in line when its keys arrive, where 1 takes the callback offer."""
    takers = [c for c in STORM if c.keys == redial_storm.TAKE_CALLBACK]
    assert len(takers) == redial_storm.CALLBACKS
    for call in STORM:
        assert call in takers or "1" not in [key for _, key in call.keys], call


def test_the_demo_keeps_to_its_time() -> None:
    calls = demo.plan_all()
    assert max(c.ends for c in calls) < 100, "the callers' part of the demo, in seconds"
    assert calls == sorted(calls, key=lambda c: c.offset)


def test_the_demo_config_is_valid_with_the_storm_s_windows(tmp_path: Path) -> None:
    path = demo.demo_config(tmp_path / "callrouter.demo.toml")
    settings = config.parse(path.read_text(), str(path), environ={})
    file = settings.file
    assert (file.repeat.resume_seconds, file.callback.offer_after_seconds) == (60, 60)
    assert (file.callback.retry_seconds, file.callback.max_attempts) == (10, 2)
