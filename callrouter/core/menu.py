"""The one voice menu, as pure transitions.

A digit interrupts the prompt (barge-in); an invalid key says so and repeats
the level's prompt; after ``max_failures`` (silences and invalid keys together)
the caller goes to the default topic. Silence takes a shorter way: the level's
short form is said (its prompt when it has none), and after
``silent_to_default_after`` such repeats without a key the caller goes to the
default topic, so a caller who keys nothing (a rotary phone, an elderly caller)
is not kept through the whole menu again and again. The language option cycles
the call's language and replays the current level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from callrouter.core.evolve import evolve, quick_init


class Action(StrEnum):
    LANGUAGE = "language"  # switch to the next configured language
    BACK = "back"  # one level up (top level: repeat)


@dataclass(frozen=True)
class MenuNode:
    prompt: str
    options: Mapping[str, MenuOption]
    short_prompt: str | None = None  # said after a silence (None: the prompt again)


@dataclass(frozen=True)
class MenuOption:
    topic: str | None = None
    submenu: MenuNode | None = None
    action: Action | None = None


@dataclass(frozen=True)
class MenuSpec:
    root: MenuNode
    default_topic: str
    languages: tuple[str, ...]
    timeout_seconds: float = 5.0
    max_failures: int = 3
    invalid_prompt: str = "invalid_option"
    silent_to_default_after: int = 1  # silences in a row answered by the short form; the next: default topic


# ---- what the menu asks for -----------------------------------------------------
@quick_init
@dataclass(frozen=True)
class PlayPrompts:
    prompts: tuple[str, ...]
    language: str


@quick_init
@dataclass(frozen=True)
class StopPrompt:
    pass


@dataclass(frozen=True)
class WaitForDigit:
    seconds: float


@quick_init
@dataclass(frozen=True)
class Chosen:
    topic: str
    reason: str  # "choice", "failures", "silence"


MenuStep = PlayPrompts | StopPrompt | WaitForDigit | Chosen


@quick_init
@dataclass(frozen=True)
class MenuState:
    path: tuple[str, ...] = ()  # the digits that led to the current level
    failures: int = 0
    language: str = "en"
    keys: tuple[str, ...] = ()  # every key pressed, for the record
    playing: bool = False
    done: bool = False
    silences: int = 0  # in a row: timeouts since the caller's last key


def node_at(spec: MenuSpec, path: tuple[str, ...]) -> MenuNode:
    node = spec.root
    for digit in path:
        submenu = node.options[digit].submenu
        assert submenu is not None
        node = submenu
    return node


def start(spec: MenuSpec, language: str) -> tuple[MenuState, list[MenuStep]]:
    state = MenuState(language=language, playing=True)
    return state, [PlayPrompts((spec.root.prompt,), language)]


def prompt_finished(spec: MenuSpec, state: MenuState) -> tuple[MenuState, list[MenuStep]]:
    if state.done or not state.playing:
        return state, []
    return evolve(state, playing=False), [WaitForDigit(spec.timeout_seconds)]


def timed_out(spec: MenuSpec, state: MenuState) -> tuple[MenuState, list[MenuStep]]:
    if state.done or state.playing:
        return state, []
    return _fail(spec, evolve(state, silences=state.silences + 1), silent=True)


def digit(spec: MenuSpec, state: MenuState, key: str) -> tuple[MenuState, list[MenuStep]]:
    if state.done:
        return state, []
    steps: list[MenuStep] = [StopPrompt()] if state.playing else []
    state = evolve(state, keys=(*state.keys, key), playing=False, silences=0)
    node = node_at(spec, state.path)
    option = node.options.get(key)
    if option is None:
        state, more = _fail(spec, state, silent=False)
        return state, steps + more
    if option.topic is not None:
        return evolve(state, done=True), [*steps, Chosen(option.topic, "choice")]
    if option.submenu is not None:
        state = evolve(state, path=(*state.path, key), playing=True)
        return state, [*steps, PlayPrompts((option.submenu.prompt,), state.language)]
    if option.action is Action.LANGUAGE:
        langs = spec.languages
        nxt = langs[(langs.index(state.language) + 1) % len(langs)] if state.language in langs else langs[0]
        state = evolve(state, language=nxt, playing=True)
        return state, [*steps, PlayPrompts((node.prompt,), nxt)]
    # BACK
    state = evolve(state, path=state.path[:-1], playing=True)
    return state, [*steps, PlayPrompts((node_at(spec, state.path).prompt,), state.language)]


def _fail(spec: MenuSpec, state: MenuState, *, silent: bool) -> tuple[MenuState, list[MenuStep]]:
    """A silence (``silent``) or an invalid key: the level again, or the default topic."""
    failures = state.failures + 1
    if failures >= spec.max_failures:
        return evolve(state, failures=failures, done=True), [Chosen(spec.default_topic, "failures")]
    if silent and state.silences > spec.silent_to_default_after:
        return evolve(state, failures=failures, done=True), [Chosen(spec.default_topic, "silence")]
    node = node_at(spec, state.path)
    state = evolve(state, failures=failures, playing=True)
    said = (node.short_prompt or node.prompt,) if silent else (spec.invalid_prompt, node.prompt)
    return state, [PlayPrompts(said, state.language)]
