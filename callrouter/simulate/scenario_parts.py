"""What of a scenario file is checked against the router config it names.

The whole file's pieces once it validated; when some keys are bad, the pieces
that validate on their own (as ``config.validate`` runs its rules across keys
over the tables that validated): a bad ``start`` does not hide an unknown
``line`` beside it. A check that needs a bad key is skipped, not guessed at, so
one mistake is said once, never again as the errors it would cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from callrouter.config import Settings
from callrouter.config_router import calendar_day
from callrouter.simulate import staff as st
from callrouter.simulate.scenario_file import (
    Arrival,
    CallbackBehaviour,
    Callers,
    ScenarioFile,
    Shift,
    Timing,
    seconds_of_day,
)

Model = TypeVar("Model", bound=BaseModel)
ALL_DAY = {"start": "00:00", "end": "24:00"}  # times that validate, for a shift's agents alone


@dataclass(frozen=True)
class ShiftPart:
    """A shift's agents, and its span in seconds of the day (None: its times are bad)."""

    index: int
    agents: tuple[str, ...]
    span: tuple[int, int] | None


@dataclass(frozen=True)
class Parts:
    """The pieces the checks against the config read; None: bad (or, for ``staff``, absent)."""

    arrivals: tuple[tuple[int, Arrival], ...]  # each with its index in the file
    shifts: tuple[ShiftPart, ...]
    timing: Timing | None
    callback: CallbackBehaviour | None
    callers: Callers | None
    staff: st.Staff | None
    when: tuple[date, str | None] | None  # the date, and the zone written (None: the config's)


def of_file(file: ScenarioFile) -> Parts:
    """Every piece of a file that validated."""
    return Parts(
        tuple(enumerate(file.arrivals)),
        tuple(ShiftPart(i, tuple(s.agents), _span(s)) for i, s in enumerate(file.shifts)),
        file.timing,
        file.callback,
        file.callers,
        file.staff,
        (file.date, file.zone),
    )


def config_of(data: Any, error: ValidationError) -> str | None:
    """The config's path a file that did not validate names, when that key is good."""
    if not isinstance(data, dict) or not isinstance(data.get("config"), str) or "config" in _bad(error):
        return None
    config: str = data["config"]
    return config


def good_parts(data: dict[str, Any], error: ValidationError) -> Parts:
    """The pieces of a file that did not validate that validate on their own."""
    bad = _bad(error)
    arrivals = data.get("arrivals")
    shifts = data.get("shifts")
    when = None
    if "date" in data and not bad & {"date", "zone"}:
        day = calendar_day(data["date"])
        zone = data.get("zone")
        when = (day, zone) if isinstance(day, date) and isinstance(zone, str | None) else None
    return Parts(
        tuple(_arrivals(arrivals)) if isinstance(arrivals, list) else (),
        tuple(_shifts(shifts)) if isinstance(shifts, list) else (),
        _alone(Timing, data.get("timing", {})),
        _alone(CallbackBehaviour, data.get("callback", {})),
        _alone(Callers, data.get("callers", {})),
        _alone(st.Staff, data["staff"]) if "staff" in data else None,
        when,
    )


def rule_problems(parts: Parts, settings: Settings) -> list[str]:
    """The people's timing against the config's, where those keys are good."""
    problems = []
    rings = settings.file.callback.ring_seconds
    behaviour = parts.callback  # checked only where a callback can be taken and answered
    if (
        behaviour is not None
        and behaviour.accept_probability > 0
        and behaviour.answer_probability > 0
        and behaviour.answer_seconds >= rings
    ):
        problems.append(
            f"callback.answer_seconds: must be shorter than the config's callback ring ({rings:g} s): "
            "nobody would answer a callback"
        )
    timing = parts.timing
    if (
        timing is not None
        and parts.callers is not None
        and parts.callers.menu_hangup > 0
        and timing.key_seconds == 0
    ):
        problems.append(
            "callers.menu_hangup: a menu keyed in no time (timing.key_seconds = 0) leaves nobody a "
            "moment to hang up in it"
        )
    ring = settings.file.queue.ring_timeout_seconds
    if timing is not None and timing.agent_answer_seconds >= ring:
        problems.append(
            f"timing.agent_answer_seconds: must be shorter than the config's ring timeout ({ring:g} s): "
            "agents who never answer are paused, and nobody resumes them"
        )
    return problems


def _bad(error: ValidationError) -> set[Any]:
    """The file's top-level keys with a problem."""
    return {err["loc"][0] for err in error.errors() if err["loc"]}


def _alone(model: type[Model], raw: Any) -> Model | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _arrivals(raw: list[Any]) -> list[tuple[int, Arrival]]:
    """Each arrival that validates; of one that does not, what a route through the
    config needs (line, topic, language) when those are good: its times are not checked."""
    found = []
    for i, arrival in enumerate(raw):
        whole = _alone(Arrival, arrival)
        if whole is None and isinstance(arrival, dict):
            route = {k: arrival[k] for k in ("line", "topic", "language") if k in arrival}
            whole = _alone(Arrival, {**route, "per_hour": [0]})
        if whole is not None:
            found.append((i, whole))
    return found


def _shifts(raw: list[Any]) -> list[ShiftPart]:
    """Each shift's agents when they are good, with its span when its times are too."""
    found = []
    for i, shift in enumerate(raw):
        whole = _alone(Shift, shift)
        if whole is not None:
            found.append(ShiftPart(i, tuple(whole.agents), _span(whole)))
        elif isinstance(shift, dict) and (named := _alone(Shift, {**ALL_DAY, "agents": shift.get("agents")})):
            found.append(ShiftPart(i, tuple(named.agents), None))
    return found


def _span(shift: Shift) -> tuple[int, int]:
    return seconds_of_day(shift.start), seconds_of_day(shift.end)
