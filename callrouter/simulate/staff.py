"""All-round agents by the hour: a scenario's ``[staff]``, and what ``callrouter
staffing`` and ``--compare separate-lines`` try. Instead of (or besides) the
config's agents on named shifts, ``per_hour`` says how many agents are logged in
each hour from ``start``; they take every topic in every language of the config
(or the ``topics`` and ``languages`` given) and are named ``staff-001``,
``staff-002``, ...

Agent i works the hours that have more than i agents: each run of such hours is
one shift, so as few agents as possible log in and out at each hour's turn (one
still on a call at the end of their shift logs out after it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callrouter.config import Settings
from callrouter.config_centre import AgentConfig

PREFIX = "staff-"
HOUR = 3600


WHOLE_HOUR = r"^([01]\d|2[0-3]):00$"
MAX_AGENTS = 5000  # in an hour: more than any centre (and a config of that many agents)


class Staff(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # a count is a number, not true

    start: str = Field(default="00:00", pattern=WHOLE_HOUR, description="a whole hour")
    per_hour: list[int] = Field(min_length=1, max_length=24, description="agents logged in, each hour")
    topics: list[str] | None = Field(default=None, min_length=1, description="default: every topic")
    languages: list[str] | None = Field(default=None, min_length=1, description="default: every language")

    @field_validator("per_hour")
    @classmethod
    def _counts(cls, counts: list[int]) -> list[int]:
        if any(n < 0 or n > MAX_AGENTS for n in counts):
            raise ValueError(f"agents per hour must lie in 0..{MAX_AGENTS}")
        return counts

    @property
    def first_hour(self) -> int:
        return int(self.start[:2])

    def by_hour(self) -> list[int]:
        """Agents in each hour of the day, midnight first."""
        counts = [0] * 24
        for i, n in enumerate(self.per_hour):
            counts[self.first_hour + i] = n
        return counts


def agent_id(i: int) -> str:
    return f"{PREFIX}{i + 1:03d}"


def staff_problems(staff: Staff, settings: Settings, here: str = "staff") -> list[str]:
    problems = []
    if staff.first_hour + len(staff.per_hour) > 24:
        problems.append(f"{here}.per_hour: {len(staff.per_hour)} hours from {staff.start} run past midnight")
    unknown = sorted(set(staff.topics or ()) - set(settings.file.topics))
    if unknown:
        problems.append(f"{here}.topics: no topic {', '.join(map(repr, unknown))} in the config")
    spoken = set(settings.file.menu.languages) | {line.language for line in settings.file.lines}
    unheard = sorted(set(staff.languages or ()) - spoken)
    if unheard:
        problems.append(
            f"{here}.languages: no caller speaks {', '.join(map(repr, unheard))} "
            f"(the lines' and the menu's: {', '.join(sorted(spoken))})"
        )
    taken = [a.id for a in settings.file.agents if a.id.startswith(PREFIX)]
    if taken:
        problems.append(f"{here}: the config already has agents named {PREFIX}…: {', '.join(taken)}")
    return problems


def with_staff(settings: Settings, staff: Staff) -> Settings:
    """The config with the staff's agents added (every topic and language unless named)."""
    file = settings.file
    topics = staff.topics or sorted(file.topics)
    languages = staff.languages or languages_of(settings)
    count = max(staff.by_hour())
    agents = [AgentConfig(id=agent_id(i), topics=topics, languages=languages) for i in range(count)]
    return settings.model_copy(update={"file": file.model_copy(update={"agents": [*file.agents, *agents]})})


def languages_of(settings: Settings) -> list[str]:
    file = settings.file
    found = {*file.menu.languages, *(line.language for line in file.lines)}
    for agent in file.agents:
        found.update(agent.languages)
    return sorted(found)


def shifts_of(staff: Staff) -> dict[str, tuple[tuple[int, int], ...]]:
    """Each staff agent's (login, logout) spans in seconds of the day."""
    counts = staff.by_hour()
    return {
        agent_id(i): joined([(hour * HOUR, (hour + 1) * HOUR) for hour in range(24) if counts[hour] > i])
        for i in range(max(counts))
    }


def joined(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Spans one after the other as one (08-16 and 16-20: logged in 08-20, not out and in at 16)."""
    together: list[tuple[int, int]] = []
    for start, end in spans:
        if together and together[-1][1] == start:
            together[-1] = (together[-1][0], end)
        else:
            together.append((start, end))
    return tuple(together)
