"""A simulation scenario's file as written: TOML or JSON, validated like the
config (every bad key named by its path, ``arrivals[2].per_hour: ...``, all at
once); ``scenario`` checks it against the router config it names and compiles
it into what the engine plays.

    config = "../callrouter.example.toml"  # the router config, relative to this file
    date = 2026-11-23                       # the day (its weekday, opening hours, holidays)
    seed = 17
    handle = { distribution = "lognormal", mean_seconds = 180, cv = 0.8 }  # or "empirical", samples = [...]
    patience = { distribution = "exponential", mean_seconds = 120 }  # or "infinite"
    redial = { probability = 0.7, max_attempts = 5, delay = { distribution = "exponential",
               mean_seconds = 180 } }
    callers = { withheld = 0.05, menu_hangup = 0.02 }     # optional: shares of people, of calls
    misses = { probability = 0.02, resume_seconds = 60 }  # optional: rings agents let go unanswered
    [[arrivals]]  # first calls: Poisson, per_hour (or per_quarter: each 15 min) from start
    line = "clinic-central"
    topic = "appointment_book"
    start = "08:00"
    per_hour = [300, 420, 380]
    handle = { distribution = "lognormal", mean_seconds = 240, cv = 0.8 }  # its own talk times (optional)
    language = "en"  # optional: its callers switch the menu to this language first (default: the line's)
    [[shifts]]
    agents = ["agent1", "agent2"]
    start = "08:00"
    end = "17:00"

``examples/scenario-small.toml`` is a whole one. Times of day are the centre's
wall clock (``zone``, else the zone of the opening hours most lines follow),
counted in elapsed hours from midnight; a day the clocks change on is refused.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callrouter.config_router import CalendarDay
from callrouter.simulate import staff as st

CLOCK = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"
NO_NUL = r"^[^\x00]*$"  # a path: no file's name holds a NUL character
DAY_SECONDS = 86_400
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2199, 12, 31)  # the zone database's years, and more
Day = date  # (``ScenarioFile.date`` hides the type's name in its class)


# A stream's first calls in one hour at most (a quarter's: a quarter of it). A regional
# centre's busiest hour is a few thousand; more is a typo, and would run for hours.
MAX_PER_HOUR = 100_000


class Strict(BaseModel):
    # NaN or infinity is refused wherever a number goes (an infinite rate never ends a day);
    # strict: a number is a number (``true`` or ``"20"`` is refused, not read as 1 or 20).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def seconds_of_day(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


class Distribution(Strict):
    """A duration drawn at random: exponential, lognormal (its mean and coefficient of
    variation), fixed (always the mean) or empirical (one of ``samples``, each as
    likely: recorded durations; the mean is theirs)."""

    distribution: Literal["exponential", "lognormal", "fixed", "empirical"]
    mean_seconds: float = Field(gt=0, le=DAY_SECONDS)
    cv: float = Field(default=1.0, gt=0, le=10, description="lognormal only: standard deviation / mean")
    samples: tuple[Annotated[float, Field(ge=0, le=DAY_SECONDS, strict=True)], ...] | None = Field(
        default=None,
        min_length=1,
        strict=False,  # a list (TOML, JSON) makes the tuple; each sample is still strictly a number
        description="empirical only: the durations drawn from, in seconds",
    )

    @model_validator(mode="before")
    @classmethod
    def _mean_of_samples(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("distribution") == "empirical":
            if "mean_seconds" in data:  # two talk times: the formula would read one, the day draw the other
                raise ValueError("an empirical distribution's mean is its samples': leave mean_seconds out")
            samples = data.get("samples")
            if not samples:
                raise ValueError("samples are required for an empirical distribution (durations in seconds)")
            usable = isinstance(samples, list | tuple) and all(
                isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x <= DAY_SECONDS
                for x in samples
            )
            # Samples that are no durations (or no list) are named by their own errors, not as a mean.
            mean = math.fsum(samples) / len(samples) if usable else 1.0
            return {**data, "mean_seconds": max(mean, 1e-9)}
        return data

    @model_validator(mode="after")
    def _samples_when_empirical(self) -> Distribution:
        if (self.distribution == "empirical") != (self.samples is not None):
            raise ValueError("samples go with an empirical distribution, and only with it")
        _cv_lognormal_only(self.distribution, self.model_fields_set)
        return self


def _cv_lognormal_only(distribution: str, given: set[str]) -> None:
    """A spread written for a distribution that has none of its own would be ignored."""
    if "cv" in given and distribution != "lognormal":
        raise ValueError(f"cv shapes a lognormal distribution only: {distribution} has none (leave it out)")


class Patience(Strict):
    """How long a caller waits in the queue before hanging up; ``infinite``: never."""

    distribution: Literal["exponential", "lognormal", "fixed", "infinite"]
    mean_seconds: float | None = Field(default=None, gt=0, le=DAY_SECONDS)
    cv: float = Field(default=1.0, gt=0, le=10)

    @model_validator(mode="after")
    def _mean_unless_infinite(self) -> Patience:
        if self.distribution != "infinite" and self.mean_seconds is None:
            raise ValueError(f"mean_seconds is required for {self.distribution} patience")
        if self.distribution == "infinite" and self.mean_seconds is not None:
            raise ValueError("infinite patience has no mean_seconds: leave it out, or name a distribution")
        _cv_lognormal_only(self.distribution, self.model_fields_set)
        return self

    def finite(self) -> Distribution | None:
        if self.distribution == "infinite" or self.mean_seconds is None:
            return None
        spread = {"cv": self.cv} if self.distribution == "lognormal" else {}
        return Distribution(distribution=self.distribution, mean_seconds=self.mean_seconds, **spread)


class Redial(Strict):
    """Callers whose call ended unserved (abandoned, overflowed, told to call back) call again."""

    probability: float = Field(default=0.0, ge=0, le=1, description="after each unserved call")
    delay: Distribution = Distribution(distribution="exponential", mean_seconds=300)
    max_attempts: int = Field(default=5, ge=1, le=100, description="calls per person in all, the first too")


class CallbackBehaviour(Strict):
    """What callers do with the callbacks the config offers."""

    accept_probability: float = Field(default=0.0, ge=0, le=1, description="take the first offer")
    answer_probability: float = Field(default=1.0, ge=0, le=1, description="answer the callback's call")
    answer_seconds: float = Field(default=5.0, ge=0, le=600, description="their phone rings this long first")


class Callers(Strict):
    """What callers do besides waiting: withhold their number, hang up in the menu."""

    withheld: float = Field(
        default=0.0, ge=0, le=1, description="people who withhold their number (never recognised again)"
    )
    menu_hangup: float = Field(
        default=0.0, ge=0, le=1, description="calls through the menu hung up in it before a topic is chosen"
    )


class Misses(Strict):
    """Agents who let a ring go unanswered: the phone rings out (the config's ring
    timeout), the router auto-pauses the agent and offers the caller again; the
    agent resumes ``resume_seconds`` later."""

    probability: float = Field(default=0.0, ge=0, le=1, description="of each ring going unanswered")
    resume_seconds: float = Field(default=60.0, ge=0, le=DAY_SECONDS, description="paused this long")


class Timing(Strict):
    """How long Asterisk's and the people's parts take."""

    prompt_seconds: float = Field(default=2.0, ge=0, le=60, description="each sound of a playback")
    key_seconds: float = Field(default=1.0, ge=0, le=60, description="before each key the caller presses")
    agent_answer_seconds: float = Field(default=2.0, ge=0, le=60, description="an agent's phone rings")


class Arrival(Strict):
    """First calls on a line for a topic: Poisson, at a rate constant within each interval."""

    line: str
    topic: str
    start: str = Field(default="00:00", pattern=CLOCK)
    per_hour: list[Annotated[float, Field(ge=0, le=MAX_PER_HOUR)]] | None = Field(
        default=None, min_length=1, description="calls in each hour"
    )
    per_quarter: list[Annotated[float, Field(ge=0, le=MAX_PER_HOUR // 4)]] | None = Field(
        default=None, min_length=1, description="calls in each 15 min"
    )
    handle: Distribution | None = Field(
        default=None, description="this line and topic's talk times; default: the scenario's handle"
    )
    language: str | None = Field(
        default=None, description="the callers' language, chosen in the menu first; default: the line's"
    )

    @model_validator(mode="after")
    def _one_of(self) -> Arrival:
        if (self.per_hour is None) == (self.per_quarter is None):
            raise ValueError("give per_hour or per_quarter (one of them)")
        return self

    def intervals(self) -> list[tuple[int, int, float]]:
        """(start, end, calls per second) in seconds of the day."""
        step, counts = (3600, self.per_hour) if self.per_hour is not None else (900, self.per_quarter or [])
        first = seconds_of_day(self.start)
        return [(first + i * step, first + (i + 1) * step, n / step) for i, n in enumerate(counts)]


class Shift(Strict):
    agents: list[str] = Field(min_length=1)
    start: str = Field(pattern=CLOCK)
    end: str = Field(pattern=CLOCK)

    @model_validator(mode="after")
    def _in_order(self) -> Shift:
        if seconds_of_day(self.end) <= seconds_of_day(self.start):
            raise ValueError("end must be after start (a shift across midnight: two shifts)")
        return self


class ScenarioFile(Strict):
    config: str = Field(
        min_length=1, pattern=NO_NUL, description="the router config, relative to the scenario file"
    )
    date: CalendarDay  # a TOML date, or "2026-11-23" (JSON has no dates)
    seed: int = 0
    zone: str | None = Field(default=None, description="the wall clock of times; default: the config's")
    timing: Timing = Timing()
    handle: Distribution
    patience: Patience
    redial: Redial = Redial()
    callback: CallbackBehaviour = CallbackBehaviour()
    callers: Callers = Callers()
    misses: Misses = Misses()
    arrivals: list[Arrival] = Field(min_length=1)
    shifts: list[Shift] = Field(default_factory=list)
    staff: st.Staff | None = Field(default=None, description="all-round agents by the hour, besides shifts")

    @field_validator("date")
    @classmethod
    def _date(cls, day: Day) -> Day:
        if not FIRST_DATE <= day <= LAST_DATE:
            raise ValueError(f"a day from {FIRST_DATE} to {LAST_DATE}")
        return day

    @field_validator("zone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{zone!r} is not a time zone (e.g. Europe/Moscow, UTC)") from None
        return zone
