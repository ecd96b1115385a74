"""What a call consults: its line, and the configured menu, topics and timings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from callrouter.core import menu as mn
from callrouter.core.hours import Hours


@dataclass(frozen=True)
class LineInfo:
    name: str
    language: str
    menu: str = "full"  # full | skip | fast
    topic: str | None = None  # for skip / fast
    priority: int = 0
    hours: Hours | None = None
    closed_prompt: str = "after_hours"
    urgent: bool = False  # never told to call back: the fallback route instead
    country: str = "US"  # ISO 3166: how the caller's number is read when it has no country code


@dataclass(frozen=True)
class TopicPlan:
    priority: int = 0
    prompt: str | None = None  # said on joining
    overflow_topic: str | None = None
    overflow_prompt: str | None = None
    callback_offer_after: timedelta | None = None  # None: the centre's threshold


# A topic the config does not name: the defaults (one, shared: it never changes).
NO_TOPIC_PLAN = TopicPlan()


@dataclass(frozen=True)
class CallPlan:
    """The static, configured knowledge every call consults."""

    prompts_dir: str
    menu: mn.MenuSpec
    topics: Mapping[str, TopicPlan]
    short_abandon: timedelta = timedelta(seconds=5)
    announce_every: timedelta = timedelta(seconds=60)
    # A callback is offered once the estimated wait reaches this (None: never offered).
    callback_offer_after: timedelta | None = None

    def media(self, language: str, *keys: str) -> tuple[str, ...]:
        return _sounds(self.prompts_dir, language, keys)


@lru_cache(maxsize=4096)  # a few prompts in a few languages, asked for at every announcement
def _sounds(prompts_dir: str, language: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"sound:{prompts_dir}/{language}/{key}" for key in keys)
