"""From the validated config to the core's plain data (plan, lines, centre)."""

from __future__ import annotations

from datetime import timedelta

from callrouter.config import Settings
from callrouter.config_router import Line
from callrouter.core import centre as cc
from callrouter.core.call_plan import CallPlan, LineInfo, TopicPlan


def call_plan(settings: Settings) -> CallPlan:
    file = settings.file
    topics = {
        name: TopicPlan(t.priority, t.prompt, t.overflow_topic, t.overflow_prompt)
        for name, t in file.topics.items()
    }
    return CallPlan(
        prompts_dir=file.prompts.directory,
        menu=file.menu.to_core(),
        topics=topics,
        short_abandon=timedelta(seconds=file.queue.short_abandon_seconds),
        announce_every=timedelta(seconds=file.queue.announce_every_seconds),
    )


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
    )


def centre(settings: Settings) -> cc.Centre:
    file = settings.file
    return cc.Centre.create(
        [a.to_core() for a in file.agents],
        {name: t.to_core() for name, t in file.topics.items()},
        timedelta(seconds=file.queue.wrap_up_seconds),
    )
