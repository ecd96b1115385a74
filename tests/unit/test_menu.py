"""The voice menu: barge-in, silence (the short form, then the default topic),
invalid keys, failures, submenus, languages."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core import menu as mn
from callrouter.core.menu import (
    Action,
    Chosen,
    MenuNode,
    MenuOption,
    MenuSpec,
    MenuState,
    PlayPrompts,
    StopPrompt,
    WaitForDigit,
)

APPOINTMENTS = MenuNode(
    "menu_appointments",
    {
        "1": MenuOption(topic="appointment_book"),
        "2": MenuOption(topic="appointment_change"),
        "0": MenuOption(action=Action.BACK),
    },
)
SPEC = MenuSpec(
    root=MenuNode(
        "menu_main",
        {
            "1": MenuOption(topic="infection"),
            "2": MenuOption(submenu=APPOINTMENTS),
            "0": MenuOption(topic="operator"),
            "9": MenuOption(action=Action.LANGUAGE),
        },
        short_prompt="menu_short",
    ),
    default_topic="operator",
    languages=("ru", "en"),
    timeout_seconds=5.0,
    max_failures=3,
)
KEYS = "0123456789*#"


def started(language: str = "ru") -> MenuState:
    state, _ = mn.start(SPEC, language)
    return state


def waiting(language: str = "ru") -> MenuState:
    """The main prompt has been played; the menu waits for a key."""
    state, steps = mn.prompt_finished(SPEC, started(language))
    assert steps == [WaitForDigit(5.0)]
    return state


def test_start_plays_the_main_prompt_in_the_callers_language() -> None:
    state, steps = mn.start(SPEC, "en")
    assert steps == [PlayPrompts(("menu_main",), "en")]
    assert state == MenuState(language="en", playing=True)


def test_prompt_finished_waits_for_a_key() -> None:
    state, steps = mn.prompt_finished(SPEC, started())
    assert steps == [WaitForDigit(5.0)]
    assert not state.playing
    # A second "finished" for the same prompt asks for nothing more.
    assert mn.prompt_finished(SPEC, state) == (state, [])


# ---- barge-in ------------------------------------------------------------------------
def test_a_digit_while_the_prompt_plays_stops_it_first() -> None:
    state, steps = mn.digit(SPEC, started(), "1")
    assert steps == [StopPrompt(), Chosen("infection", "choice")]
    assert state.done
    assert state.keys == ("1",)


def test_a_digit_after_the_prompt_does_not_stop_anything() -> None:
    _, steps = mn.digit(SPEC, waiting(), "0")
    assert steps == [Chosen("operator", "choice")]


def test_barge_in_into_a_submenu() -> None:
    state, steps = mn.digit(SPEC, started(), "2")
    assert steps == [StopPrompt(), PlayPrompts(("menu_appointments",), "ru")]
    assert state.path == ("2",)
    assert state.playing
    state, steps = mn.digit(SPEC, state, "2")
    assert steps == [StopPrompt(), Chosen("appointment_change", "choice")]
    assert state.keys == ("2", "2")


def test_an_invalid_key_while_playing_stops_the_prompt_then_says_so() -> None:
    state, steps = mn.digit(SPEC, started(), "7")
    assert steps == [StopPrompt(), PlayPrompts(("invalid_option", "menu_main"), "ru")]
    assert state.failures == 1
    assert state.playing


# ---- silence and invalid keys ----------------------------------------------------------
def silent(spec: MenuSpec, state: MenuState) -> tuple[MenuState, list[mn.MenuStep]]:
    """The caller keys nothing: the timeout, then (if something was said) its end."""
    state, steps = mn.timed_out(spec, state)
    if state.playing:
        state, more = mn.prompt_finished(spec, state)
        assert more == [WaitForDigit(spec.timeout_seconds)]
    return state, steps


def test_silence_says_the_short_form_once_then_goes_to_the_default_topic() -> None:
    state, steps = mn.timed_out(SPEC, waiting())
    assert steps == [PlayPrompts(("menu_short",), "ru")]
    assert (state.failures, state.silences) == (1, 1)
    assert state.playing
    state, steps = mn.prompt_finished(SPEC, state)
    assert steps == [WaitForDigit(5.0)], "a key after the short form still counts"
    state, steps = mn.timed_out(SPEC, state)
    assert steps == [Chosen("operator", "silence")]
    assert state.done and state.failures == 2


def test_a_key_after_the_short_form_is_a_choice() -> None:
    state, _ = silent(SPEC, waiting())
    state, steps = mn.digit(SPEC, state, "1")
    assert steps == [Chosen("infection", "choice")]


@pytest.mark.parametrize(("repeats", "short_forms"), [(0, 0), (1, 1), (2, 2)])
def test_silent_to_default_after_counts_the_short_forms(repeats: int, short_forms: int) -> None:
    spec = replace(SPEC, silent_to_default_after=repeats, max_failures=10)
    state, _ = mn.prompt_finished(spec, mn.start(spec, "ru")[0])
    said = []
    while not state.done:
        state, steps = silent(spec, state)
        said += [s.prompts for s in steps if isinstance(s, PlayPrompts)]
    assert said == [("menu_short",)] * short_forms
    assert state.failures == short_forms + 1


def test_a_level_without_a_short_form_says_its_prompt_again() -> None:
    state, _ = mn.digit(SPEC, waiting(), "2")
    state, _ = mn.prompt_finished(SPEC, state)
    state, steps = mn.timed_out(SPEC, state)
    assert steps == [PlayPrompts(("menu_appointments",), "ru")]
    spec = replace(SPEC, root=replace(SPEC.root, short_prompt=None))
    _, steps = mn.timed_out(spec, mn.prompt_finished(spec, mn.start(spec, "ru")[0])[0])
    assert steps == [PlayPrompts(("menu_main",), "ru")]


def test_a_key_between_silences_counts_them_again_from_none() -> None:
    state, _ = silent(SPEC, waiting())  # the short form
    state, _ = mn.digit(SPEC, state, "2")  # into the submenu: the caller is there
    assert state.silences == 0
    state, _ = mn.prompt_finished(SPEC, state)
    state, steps = silent(SPEC, state)
    assert steps == [PlayPrompts(("menu_appointments",), "ru")], "not sent away at the first silence"
    state, steps = silent(SPEC, state)
    assert steps == [Chosen("operator", "failures")], "three silences: max_failures came first"


def test_invalid_keys_keep_to_max_failures() -> None:
    state = waiting()
    for n in range(1, 3):
        state, steps = mn.digit(SPEC, state, "7")
        state, _ = mn.prompt_finished(SPEC, state)
        assert steps == [PlayPrompts(("invalid_option", "menu_main"), "ru")], "the level, not its short form"
        assert (state.failures, state.silences) == (n, 0)
    _, steps = mn.digit(SPEC, state, "7")
    assert steps == [Chosen("operator", "failures")]


def test_a_timeout_while_the_prompt_plays_is_ignored() -> None:
    state = started()
    assert mn.timed_out(SPEC, state) == (state, [])


def test_an_invalid_key_says_invalid_option_then_the_level_prompt() -> None:
    state, steps = mn.digit(SPEC, waiting(), "5")
    assert steps == [PlayPrompts(("invalid_option", "menu_main"), "ru")]
    assert state.failures == 1
    assert state.keys == ("5",)
    # In the submenu, the submenu's own prompt follows.
    state, _ = mn.digit(SPEC, waiting(), "2")
    state, _ = mn.prompt_finished(SPEC, state)
    _, steps = mn.digit(SPEC, state, "#")
    assert steps == [PlayPrompts(("invalid_option", "menu_appointments"), "ru")]


def test_the_invalid_prompt_is_configurable() -> None:
    spec = MenuSpec(SPEC.root, "operator", ("ru",), invalid_prompt="wrong_key")
    _, steps = mn.digit(spec, mn.prompt_finished(spec, mn.start(spec, "ru")[0])[0], "5")
    assert steps == [PlayPrompts(("wrong_key", "menu_main"), "ru")]


def test_max_failures_silences_and_invalid_keys_together_choose_the_default_topic() -> None:
    state, _ = mn.timed_out(SPEC, waiting())  # 1: silence
    state, _ = mn.prompt_finished(SPEC, state)
    state, _ = mn.digit(SPEC, state, "8")  # 2: invalid
    state, _ = mn.prompt_finished(SPEC, state)
    state, steps = mn.timed_out(SPEC, state)  # 3: silence
    assert steps == [Chosen("operator", "failures")]
    assert state.done
    assert state.failures == 3


def test_max_failures_on_an_invalid_key_during_the_prompt_stops_it() -> None:
    state = waiting()
    for _ in range(2):
        state, _ = mn.digit(SPEC, state, "7")  # the repeat starts playing
    state, steps = mn.digit(SPEC, state, "7")
    assert steps == [StopPrompt(), Chosen("operator", "failures")]
    assert state.done


def test_one_failure_allowed() -> None:
    spec = MenuSpec(SPEC.root, "urgent", ("ru",), max_failures=1)
    state, _ = mn.prompt_finished(spec, mn.start(spec, "ru")[0])
    assert mn.timed_out(spec, state)[1] == [Chosen("urgent", "failures")]
    assert mn.digit(spec, state, "5")[1] == [Chosen("urgent", "failures")]


# ---- submenu and back ------------------------------------------------------------------
def test_submenu_then_back_then_a_choice_at_the_top() -> None:
    state, steps = mn.digit(SPEC, waiting(), "2")
    assert steps == [PlayPrompts(("menu_appointments",), "ru")]
    assert state.path == ("2",)
    assert mn.node_at(SPEC, state.path) is APPOINTMENTS
    state, steps = mn.digit(SPEC, state, "0")  # back, barging into the submenu prompt
    assert steps == [StopPrompt(), PlayPrompts(("menu_main",), "ru")]
    assert state.path == ()
    state, steps = mn.digit(SPEC, state, "0")  # at the top, 0 is the operator
    assert steps == [StopPrompt(), Chosen("operator", "choice")]
    assert state.keys == ("2", "0", "0")


def test_back_at_the_top_repeats_the_top() -> None:
    spec = MenuSpec(MenuNode("menu_main", {"*": MenuOption(action=Action.BACK)}), "operator", ("ru",))
    state, _ = mn.prompt_finished(spec, mn.start(spec, "ru")[0])
    state, steps = mn.digit(spec, state, "*")
    assert steps == [PlayPrompts(("menu_main",), "ru")]
    assert state.path == ()
    assert state.failures == 0


def test_a_choice_in_the_submenu() -> None:
    state, _ = mn.digit(SPEC, waiting(), "2")
    state, _ = mn.prompt_finished(SPEC, state)
    state, steps = mn.digit(SPEC, state, "1")
    assert steps == [Chosen("appointment_book", "choice")]
    assert state.done
    assert state.keys == ("2", "1")


# ---- language --------------------------------------------------------------------------
def test_language_action_cycles_the_languages_and_replays_the_level() -> None:
    state, steps = mn.digit(SPEC, waiting("ru"), "9")
    assert steps == [PlayPrompts(("menu_main",), "en")]
    assert state.language == "en"
    state, steps = mn.digit(SPEC, state, "9")  # while the English prompt plays
    assert steps == [StopPrompt(), PlayPrompts(("menu_main",), "ru")]
    assert state.language == "ru"
    assert state.failures == 0


def test_three_languages_cycle_in_order() -> None:
    spec = MenuSpec(SPEC.root, "operator", ("ru", "en", "tt"))
    state = mn.start(spec, "ru")[0]
    seen = []
    for _ in range(4):
        state, _ = mn.digit(spec, state, "9")
        seen.append(state.language)
    assert seen == ["en", "tt", "ru", "en"]


def test_an_unlisted_language_switches_to_the_first() -> None:
    state, steps = mn.digit(SPEC, waiting("de"), "9")
    assert state.language == "ru"
    assert steps == [PlayPrompts(("menu_main",), "ru")]


def test_prompts_after_a_language_switch_use_the_new_language() -> None:
    state, _ = mn.digit(SPEC, waiting("ru"), "9")
    state, _ = mn.prompt_finished(SPEC, state)
    state, steps = mn.timed_out(SPEC, state)
    assert steps == [PlayPrompts(("menu_short",), "en")]
    state, steps = mn.digit(SPEC, state, "2")
    assert steps == [StopPrompt(), PlayPrompts(("menu_appointments",), "en")]


# ---- done ------------------------------------------------------------------------------
@pytest.mark.parametrize("how", [["1"], ["2", "1"], ["7", "7", "7"]])
def test_nothing_happens_after_done(how: list[str]) -> None:
    state = waiting()
    for key in how:
        state, _ = mn.digit(SPEC, state, key)
    assert state.done
    assert mn.digit(SPEC, state, "1") == (state, [])
    assert mn.timed_out(SPEC, state) == (state, [])
    assert mn.prompt_finished(SPEC, state) == (state, [])


@given(st.lists(st.sampled_from(["finished", "timeout", *KEYS]), max_size=40))
def test_any_sequence_chooses_at_most_once_and_stops_only_what_plays(inputs: list[str]) -> None:
    state = started()
    chosen = []
    for item in inputs:
        before = state
        if item == "finished":
            state, steps = mn.prompt_finished(SPEC, state)
        elif item == "timeout":
            state, steps = mn.timed_out(SPEC, state)
        else:
            state, steps = mn.digit(SPEC, state, item)
        if before.done:
            assert (state, steps) == (before, [])
        if any(isinstance(s, StopPrompt) for s in steps):
            assert before.playing
            assert isinstance(steps[0], StopPrompt)
        chosen += [s for s in steps if isinstance(s, Chosen)]
        assert state.failures <= SPEC.max_failures
        assert state.silences <= SPEC.silent_to_default_after + 1
        assert all(s.reason != "silence" or item == "timeout" for s in steps if isinstance(s, Chosen))
        assert state.language in SPEC.languages
        if any(isinstance(s, PlayPrompts) for s in steps):
            assert state.playing
    assert len(chosen) <= 1
    assert bool(chosen) is state.done
