"""``[results]``: the results dialler's keys (lab results phoned to patients).

Absent, no results call is ever made (results may still be put in: they wait).
The calling window is ``[results.window]``; a line sets its own as
``[results.windows.<line name>]``. Each outcome of an attempt has its retry
spacing and its maximum (``[results.retry.<outcome>]``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from callrouter.config_checks import Item
from callrouter.config_router import DialRoute, Strict
from callrouter.core import results
from callrouter.core.hours import DAYS, Hours, parse_span
from callrouter.core.results import OUTCOMES, ResultsRules, RetryRule


class WindowConfig(Strict):
    """When results calls may be made, in the zone's local time; a span may cross
    midnight (``18:00-01:00``: from 18:00 that day to 01:00 the next)."""

    zone: str = "UTC"
    # At least one: a window of no day never opens, and its line's results expired unphoned.
    days: list[str] = Field(default_factory=lambda: list(DAYS[:6]), min_length=1)
    hours: list[str] = Field(default_factory=lambda: ["09:00-20:00"], min_length=1)

    @field_validator("zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        from callrouter.config_centre import HoursConfig

        return HoursConfig._zone(zone)

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[str]) -> list[str]:
        for day in days:
            if day not in DAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(DAYS)}")
        return days

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: list[str]) -> list[str]:
        for span in hours:
            parse_span(span)
        return hours

    def to_core(self) -> Hours:
        spans = tuple(parse_span(span) for span in self.hours)
        return Hours(self.zone, {day: spans for day in self.days})


class RetryConfig(Strict):
    after_seconds: float = Field(ge=1, le=7 * 86_400, description="tried again this long after")
    max_attempts: int = Field(ge=1, le=20, description="attempts with this outcome, at most")


DEFAULT_RETRY = {  # the core's, as the config spells them
    outcome: {"after_seconds": rule.after.total_seconds(), "max_attempts": rule.max_attempts}
    for outcome, rule in results.DEFAULT_RETRY.items()
}


class ResultsConfig(Strict):
    max_concurrent: int = Field(default=4, ge=1, le=200, description="results calls at once, at most")
    pause_when_wait_over_seconds: float | None = Field(
        default=120, ge=0, description="no new results call while the queue's estimated wait is longer"
    )
    verify_tries: int = Field(default=3, ge=1, le=5)
    secret_max_digits: int = Field(default=12, ge=4, le=32, description="keyed digits end with # or here")
    key_seconds: float = Field(default=10, gt=0, le=60, description="silence that ends the keying")
    ring_seconds: float = Field(default=30, gt=0, le=120)
    consult_topic: str = "results_consult"
    consult_max_wait_seconds: float = Field(
        default=120, gt=0, description="no consultant by then: a consultant callback instead"
    )
    poll_seconds: float = Field(default=5, gt=0, le=300, description="how often due results are looked for")
    lease_seconds: float = Field(default=900, ge=60, le=86_400, description="a router holds one this long")
    expire_after_hours: float = Field(default=72, gt=0, le=24 * 90, description="not told by then: expired")
    dial: DialRoute = Field(
        default="PJSIP/{number}@trunk",
        description="the outbound route; {number} is the E.164 number without its +",
    )
    window: WindowConfig = WindowConfig()
    windows: dict[str, WindowConfig] = Field(default_factory=dict, description="a line's own window, by name")
    retry: dict[str, RetryConfig] = Field(
        default_factory=lambda: {k: RetryConfig.model_validate(v) for k, v in DEFAULT_RETRY.items()}
    )

    @field_validator("retry", mode="before")
    @classmethod
    def _retry(cls, retry: Any) -> Any:
        if isinstance(retry, dict):
            unknown = sorted(set(retry) - set(OUTCOMES))
            if unknown:
                raise ValueError(f"{unknown[0]!r} is not one of {', '.join(OUTCOMES)}")
            return {**DEFAULT_RETRY, **retry}
        return retry

    def to_core(self) -> ResultsRules:
        return ResultsRules(
            window=self.window.to_core(),
            windows={name: w.to_core() for name, w in self.windows.items()},
            max_concurrent=self.max_concurrent,
            pause_when_wait_over=_seconds(self.pause_when_wait_over_seconds),
            verify_tries=self.verify_tries,
            secret_max_digits=self.secret_max_digits,
            key_seconds=self.key_seconds,
            ring_seconds=self.ring_seconds,
            consult_topic=self.consult_topic,
            consult_max_wait=timedelta(seconds=self.consult_max_wait_seconds),
            poll=timedelta(seconds=self.poll_seconds),
            expire_after=timedelta(hours=self.expire_after_hours),
            dial=self.dial,
            retry={
                k: RetryRule(timedelta(seconds=r.after_seconds), r.max_attempts)
                for k, r in self.retry.items()
            },
        )


def _seconds(value: float | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


def problems(results: Item | None, topics: dict[str, Item] | None, lines: list[Item] | None) -> list[str]:
    """The rules across keys: the consult topic is configured; a window names a line."""
    if results is None or not results.values:
        return []
    found: list[str] = []
    topic = results.get("consult_topic")
    if topics is not None and isinstance(topic, str) and topic not in topics:
        found.append(f"results.consult_topic: {topic!r} is not a configured topic (add [topics.{topic}])")
    names = {line.get("name") for line in lines or []}
    for name in results.get("windows") or {}:
        if lines is not None and name not in names:
            found.append(f"results.windows.{name}: no line of this name is configured")
    return found
