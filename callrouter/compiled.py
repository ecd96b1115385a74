"""The validated config compiled into the core's plain data (plan, lines, centre,
the switchboard's rules and its first board): done once at start by app.py,
never per call. Nothing below the shell sees ``Settings``."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from callrouter.config import Settings
from callrouter.config_results import ResultsConfig
from callrouter.config_router import Line
from callrouter.core import centre as cc
from callrouter.core import switchboard as sb
from callrouter.core.admission import AdmissionRules
from callrouter.core.call_plan import CallPlan, LineInfo, TopicPlan
from callrouter.core.lines import DidDirectory, DidPattern, digits_of, is_pattern
from callrouter.core.results_input import InputRules, LineTerms


def call_plan(settings: Settings) -> CallPlan:
    file = settings.file
    topics = {
        name: TopicPlan(
            t.priority,
            t.prompt,
            t.overflow_topic,
            t.overflow_prompt,
            _seconds(t.callback_offer_after_seconds),
        )
        for name, t in file.topics.items()
    }
    return CallPlan(
        prompts_dir=file.prompts.directory,
        menu=file.menu.to_core(),
        topics=topics,
        short_abandon=timedelta(seconds=file.queue.short_abandon_seconds),
        announce_every=timedelta(seconds=file.queue.announce_every_seconds),
        callback_offer_after=_seconds(file.callback.offer_after_seconds),
    )


def _seconds(value: float | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


def line_info(settings: Settings, line: Line) -> LineInfo:
    hours = settings.file.hours.get(line.hours) if line.hours else None
    return LineInfo(
        name=line.name,
        language=line.language,
        menu=line.menu,
        topic=line.topic,
        priority=line.priority,
        hours=hours.to_core() if hours else None,
        closed_prompt=hours.closed_prompt if hours else "after_hours",
        urgent=line.urgent,
        country=line.country,
    )


def centre(settings: Settings) -> cc.Centre:
    file = settings.file
    return cc.Centre.create(
        [a.to_core() for a in file.agents],
        {name: t.to_core() for name, t in file.topics.items()},
        timedelta(seconds=file.queue.wrap_up_seconds),
    )


def rules(settings: Settings, repeat_key: bytes = b"") -> sb.Rules:
    """The whole configuration as the switchboard consults it, compiled once."""
    router, queue = settings.router, settings.file.queue
    lines = {line.name: line_info(settings, line) for line in settings.lines}
    return sb.Rules(
        node=router.node,
        plan=call_plan(settings),
        lines=DidDirectory((did, lines[line.name]) for line in settings.lines for did in line.dids),
        default_line=lines[router.default_line] if router.default_line else None,
        ring_seconds=queue.ring_timeout_seconds,
        dropped_within=timedelta(seconds=queue.dropped_answer_seconds),
        estimate_window=queue.estimate_window,
        max_call=timedelta(seconds=router.max_call_seconds),
        duration_check=timedelta(
            seconds=min(router.reconcile_seconds, max(1.0, router.max_call_seconds / 4))
        ),
        admission=AdmissionRules(router.shed_lag_seconds),
        repeat=replace(settings.file.repeat.to_core(), secret=repeat_key),
        callback=settings.file.callback.to_core() if _callbacks_on(settings) else None,
        by_name=lines,
        results=settings.file.results.to_core() if settings.file.results is not None else None,
    )


def _callbacks_on(settings: Settings) -> bool:
    """Callbacks are dialled when they can be offered at all (by default or for a topic)."""
    file = settings.file
    offered = [
        file.callback.offer_after_seconds,
        *(t.callback_offer_after_seconds for t in file.topics.values()),
    ]
    return any(seconds is not None for seconds in offered)


def board(settings: Settings, repeat_key: bytes = b"") -> sb.Board:
    return sb.Board.create(rules(settings, repeat_key), centre(settings))


def results_input(settings: Settings) -> InputRules:
    """What a result put in is checked against (``callrouter results import``, POST
    /results): the lines, the menu's languages, ``[results] secret_max_digits``
    (its default without ``[results]``: results may be put in before they are dialled)."""
    results = settings.file.results or ResultsConfig()
    return InputRules(
        lines={line.name: LineTerms(line.country, line.language) for line in settings.lines},
        languages=frozenset(settings.file.menu.languages),
        secret_max_digits=results.secret_max_digits,
        own_numbers=frozenset(
            digits_of(did) for line in settings.lines for did in line.dids if not is_pattern(did)
        ),
        own_blocks=tuple(
            DidPattern.parse(did) for line in settings.lines for did in line.dids if is_pattern(did)
        ),
        exclude=tuple(settings.file.repeat.exclude),
    )


def results_expire_after(settings: Settings) -> timedelta:
    """How long a result put in may wait to be told (``[results] expire_after_hours``)."""
    return timedelta(hours=(settings.file.results or ResultsConfig()).expire_after_hours)


def centre_zone(settings: Settings) -> str:
    """The centre's time zone: that of the opening hours most lines follow (ties: the
    first by name); UTC without any. The KPI report's and the simulation's wall clock."""
    hours = settings.file.hours
    zones = Counter(hours[line.hours].zone for line in settings.lines if line.hours in hours)
    if not zones:
        return "UTC"
    return min(zones, key=lambda zone: (-zones[zone], zone))
