"""The contact centre's part of ``callrouter.toml``: menu, topics, queue, agents, hours.

Each section validates its own keys and converts to the pure core's types
(``MenuSpec``, ``TopicRules``, ``Agent``, ``Hours``); how keys fit together (an
option with one of topic/action/submenu, a menu option naming a topic, an
overflow target) is ``config_checks``'s, which runs even when other keys are bad.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callrouter.config_router import CalendarDay, DialRoute
from callrouter.core.agents import Agent
from callrouter.core.callbacks import CallbackRules
from callrouter.core.centre import TopicRules
from callrouter.core.hours import DAYS, Hours, parse_span
from callrouter.core.menu import Action, MenuNode, MenuOption, MenuSpec
from callrouter.core.repeat import EXCLUSION, RepeatRules
from callrouter.core.waits import WAIT_BUCKETS

NAME = r"^[a-z][a-z0-9_]{0,40}$"
# A language code (ISO 639, maybe with a region): also the name of its prompts' folder.
LANGUAGE = r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$"


class Strict(BaseModel):
    # strict: a number is a number (``true`` or ``"20"`` is refused, not read as 1 or 20), a
    # flag a flag; the few fields a string names (a kind, an action, a date) say so themselves.
    # NaN or infinity is no number of seconds or calls.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class MenuOptionConfig(Strict):
    topic: str | None = Field(default=None, pattern=NAME)
    action: Action | None = Field(default=None, strict=False)  # named by its value
    prompt: str | None = Field(default=None, pattern=NAME, description="for a submenu: its prompt")
    options: dict[str, MenuOptionConfig] | None = None

    def to_core(self) -> MenuOption:
        if self.options is not None:
            assert self.prompt is not None
            return MenuOption(
                submenu=MenuNode(self.prompt, {k: v.to_core() for k, v in self.options.items()})
            )
        return MenuOption(topic=self.topic, action=self.action)


class MenuConfig(Strict):
    prompt: str = Field(default="menu_main", pattern=NAME)
    short_prompt: str = Field(
        default="menu_short", pattern=NAME, description="the top level's short form, said after a silence"
    )
    timeout_seconds: float = Field(default=5, gt=0, le=60)
    max_failures: int = Field(default=3, ge=1, le=10)
    silent_to_default_after: int = Field(
        default=1,
        ge=0,
        le=10,
        description="silences in a row answered by the short form; the next goes to the default topic",
    )
    default_topic: str = Field(default="operator", pattern=NAME)
    languages: list[Annotated[str, Field(pattern=LANGUAGE)]] = Field(default=["ru", "en"], min_length=1)
    options: dict[str, MenuOptionConfig] = Field(default_factory=dict)

    def to_core(self) -> MenuSpec:
        root = MenuNode(self.prompt, {k: v.to_core() for k, v in self.options.items()}, self.short_prompt)
        return MenuSpec(
            root,
            self.default_topic,
            tuple(self.languages),
            self.timeout_seconds,
            self.max_failures,
            silent_to_default_after=self.silent_to_default_after,
        )


class TopicConfig(Strict):
    priority: int = Field(default=0, ge=0, le=1000, description="higher is served first")
    max_wait_seconds: float | None = Field(default=None, gt=0)
    overflow_topic: str | None = Field(default=None, pattern=NAME)
    overflow_prompt: str | None = Field(default=None, pattern=NAME, description="said before hanging up")
    when_no_agents: str = Field(default="wait", pattern="^(wait|overflow)$")
    prompt: str | None = Field(default=None, pattern=NAME, description="said when the caller joins")
    callback_offer_after_seconds: float | None = Field(
        default=None,
        ge=0,
        description="offer a callback once the estimated wait reaches this (callback's own)",
    )

    def to_core(self) -> TopicRules:
        max_wait = timedelta(seconds=self.max_wait_seconds) if self.max_wait_seconds else None
        return TopicRules(max_wait, self.when_no_agents == "overflow")


class QueueConfig(Strict):
    hold: Literal["bridge", "channel"] = Field(
        default="channel",
        description="channel: music per waiting caller (joins fastest); bridge: shared holding bridges",
    )
    hold_bridges: int = Field(
        default=1, ge=1, le=64, description="hold = 'bridge': this many bridges, callers spread in turn"
    )
    wrap_up_seconds: float = Field(default=10, ge=0, le=3600)
    ring_timeout_seconds: float = Field(default=15, gt=0, le=120)
    dropped_answer_seconds: float = Field(
        default=1,
        ge=0,
        le=10,
        description="an agent's phone gone this soon after answering dropped the call: the caller goes"
        " back to their place, the agent is auto-paused (0: off)",
    )
    announce_every_seconds: float = Field(default=60, ge=0, description="0: announce only on entry")
    short_abandon_seconds: float = Field(default=5, ge=0)
    estimate_window: int = Field(default=20, ge=1, le=1000, description="recent calls behind an estimate")
    service_level_seconds: float = Field(
        default=20,
        description="answered within this many seconds counts as within the service level; one of "
        + ", ".join(f"{b:g}" for b in WAIT_BUCKETS)
        + " (a bucket boundary of callrouter_queue_wait_seconds)",
    )
    service_level_target: float = Field(
        default=0.8, gt=0, le=1, description="the share answered within the service level aimed at"
    )

    @field_validator("service_level_seconds")
    @classmethod
    def _a_bucket(cls, value: float) -> float:
        if value not in WAIT_BUCKETS:
            choices = ", ".join(f"{b:g}" for b in WAIT_BUCKETS)
            raise ValueError(f"must be a boundary of the wait-time histogram: one of {choices}")
        return value


class RepeatConfig(Strict):
    """Recognising a person who calls again (``core.repeat``)."""

    resume_seconds: float = Field(
        default=600,
        ge=0,
        le=86_400,
        description="a redial this soon after hanging up keeps the place (0: never)",
    )
    contact_seconds: float = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="a call this soon after an answered one is a repeat contact (0: never)",
    )
    skip_menu: bool = Field(
        default=True, description="a redialler whose earlier call chose a topic skips the menu"
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="numbers never matched (switchboards, shared lines): E.164, * any digits, ? one digit",
    )
    match_withheld: bool = Field(
        default=False, description="match a withheld caller on the number the network asserted"
    )

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not EXCLUSION.match(pattern):
                raise ValueError(f"{pattern!r} is not an E.164 number or pattern (+, digits, * and ?)")
        return patterns

    def to_core(self) -> RepeatRules:
        return RepeatRules(
            resume=timedelta(seconds=self.resume_seconds),
            contact=timedelta(seconds=self.contact_seconds),
            skip_menu=self.skip_menu,
            exclude=tuple(self.exclude),
            match_withheld=self.match_withheld,
        )


class CallbackConfig(Strict):
    """Calling a waiting caller back instead (``core.callbacks``)."""

    offer_after_seconds: float | None = Field(
        default=None,
        ge=0,
        description="offer a callback once the estimated wait reaches this (absent: never)",
    )
    dial: DialRoute = Field(
        default="PJSIP/{number}@trunk",
        description="the outbound route; {number} is the E.164 number without its +",
    )
    retry_seconds: float = Field(default=300, ge=1, le=86_400, description="after no answer, busy or failed")
    max_attempts: int = Field(default=3, ge=1, le=20)
    ring_seconds: float = Field(default=30, gt=0, le=120, description="the person's phone rings this long")
    lease_seconds: float = Field(
        default=120, ge=10, le=3600, description="a router holds a callback this long"
    )

    def to_core(self) -> CallbackRules:
        return CallbackRules(
            retry=timedelta(seconds=self.retry_seconds),
            max_attempts=self.max_attempts,
            ring_seconds=self.ring_seconds,
        )


class AgentConfig(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,40}$", description="also the PJSIP endpoint name")
    name: str = ""
    topics: list[str] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)

    def to_core(self) -> Agent:
        return Agent(self.id, frozenset(self.topics), frozenset(self.languages))


class HoursConfig(Strict):
    """``[hours.<name>]``: spans in the zone's wall-clock time, by weekday; a span may
    cross midnight (``18:00-01:00``) and is the day's it is listed on, holidays too."""

    zone: str
    weekly: dict[str, list[str]]
    holidays: list[CalendarDay] = Field(default_factory=list)  # or "2026-01-01"
    closed_prompt: str = Field(default="after_hours", pattern=NAME)

    @field_validator("zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, weekly: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in weekly.items():
            if day not in DAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(DAYS)}")
            for span in spans:
                parse_span(span)
        return weekly

    def to_core(self) -> Hours:
        weekly = {day: tuple(parse_span(s) for s in spans) for day, spans in self.weekly.items()}
        return Hours(self.zone, weekly, frozenset(self.holidays))


# The standard menu (ARCHITECTURE: one menu for every line), used when the file has none.
DEFAULT_MENU = {
    "prompt": "menu_main",
    "options": {
        "1": {"topic": "infection"},
        "2": {
            "prompt": "menu_appointments",
            "options": {
                "1": {"topic": "appointment_book"},
                "2": {"topic": "appointment_change"},
                "3": {"topic": "home_visit"},
                "0": {"action": "back"},
            },
        },
        "3": {"topic": "results"},
        "4": {"topic": "urgent"},
        "0": {"topic": "operator"},
        "9": {"action": "language"},
    },
}

DEFAULT_TOPICS = {
    "infection": {"priority": 10},
    "appointment_book": {},
    "appointment_change": {},
    "home_visit": {"priority": 5},
    "results": {},
    "urgent": {"priority": 100},
    "operator": {},
}
