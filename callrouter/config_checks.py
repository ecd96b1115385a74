"""The rules across keys of ``callrouter.toml``, run over whatever part of the file validated.

``config.validate`` checks the file table by table (``Parts``), so a bad key
costs only its own value; every rule here then runs over the good values. A
rule that needs a bad key is skipped, not guessed at: one mistake is reported
once, never again as the follow-on errors it would cause (a line with a bad
``kind`` is not also "an urgent line with hours").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from callrouter import config_dids
from callrouter.core.lines import LineKind, digits_of

DTMF_KEYS = "0123456789*#"


@dataclass(frozen=True)
class Item:
    """One table of the file after validation: its good keys' values, defaults
    for absent ones. A bad key has no value here."""

    path: str
    values: Mapping[str, Any]

    def has(self, *keys: str) -> bool:
        return all(key in self.values for key in keys)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str) -> Any:
        """The key's value; None also when it is bad."""
        return self.values.get(key)

    def label(self) -> str:
        """How a message names a line or agent: by name, else by path."""
        name = self.get("name") if self.has("name") else self.get("id")
        return repr(name) if isinstance(name, str) else self.path


@dataclass(frozen=True)
class Parts:
    """What validated of each section. ``None``: the section is no table at all,
    so which names it defines is unknown and nothing that refers to it is checked."""

    router: Item
    prompts: Item
    menu: Item
    options: list[Item]  # every menu option at any depth, with its "key"; "options": its submenu
    topics: dict[str, Item] | None
    hours: dict[str, Item] | None
    agents: list[Item]
    lines: list[Item] | None
    callback: Item | None = None


def problems(parts: Parts) -> list[str]:
    """Every rule across keys, as ``path: message`` lines."""
    lines = parts.lines or []
    return [
        *(p for line in lines for p in line_rules(line)),
        *(p for topic in (parts.topics or {}).values() for p in topic_rules(topic)),
        *(p for option in parts.options for p in option_rules(option)),
        *_names(parts),
        *config_dids.overlaps(lines),
        *_topic_references(parts),
        *_line_references(parts),
        *_urgent_problems(parts),
        *_overflow_cycles(parts),
    ]


def line_rules(line: Item) -> Iterator[str]:
    if line.has("menu", "topic") and line["menu"] != "full" and line["topic"] is None:
        yield f"{line.path}: menu = {line['menu']!r} needs a topic"
    if line.has("kind", "hours") and LineKind(line["kind"]).urgent and line["hours"] is not None:
        yield f"{line.path}: an ambulance line is always open: it takes no hours"


def topic_rules(topic: Item) -> Iterator[str]:
    if not topic.has("overflow_topic", "overflow_prompt"):
        return
    if topic["overflow_topic"] and topic["overflow_prompt"]:
        yield f"{topic.path}: overflow goes to a topic or to a message, not both"
    if not topic.has("max_wait_seconds", "when_no_agents"):
        return
    needs_overflow = topic["max_wait_seconds"] is not None or topic["when_no_agents"] == "overflow"
    if needs_overflow and not (topic["overflow_topic"] or topic["overflow_prompt"]):
        yield (
            f"{topic.path}: max_wait_seconds or when_no_agents='overflow' needs overflow_topic"
            " or overflow_prompt"
        )


def option_rules(option: Item) -> Iterator[str]:
    key = option["key"]
    if len(key) != 1 or key not in DTMF_KEYS:
        yield f"{option.path}: menu key {key!r} is not one DTMF digit (0-9, *, #)"
    kinds = ("topic", "action", "options")
    if option.has(*kinds) and sum(option[k] is not None for k in kinds) != 1:
        yield f"{option.path}: an option has exactly one of: topic, action, or options (a submenu)"
    if option.has("options", "prompt") and option["options"] is not None and option["prompt"] is None:
        yield f"{option.path}: a submenu needs a prompt"


def _repeated(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def _names(parts: Parts) -> Iterator[str]:
    lines = parts.lines or []
    names = [line["name"] for line in lines if line.has("name")]
    yield from (f"lines: name {n!r} is repeated" for n in _repeated(names))
    owner: dict[str, str] = {}
    for line in lines:
        for did in line.get("dids") or []:
            key = digits_of(did)
            if key in owner and owner[key] != line.label():
                yield f"{line.path}.dids: DID {did} is on both line {owner[key]} and line {line.label()}"
            owner[key] = line.label()
    default = parts.router.get("default_line")
    # With a line's name bad, the default may be meant for it: no guess.
    if default is not None and len(names) == len(lines) and parts.lines and default not in names:
        yield f"router.default_line: {default!r} names no line"
    ids = [agent["id"] for agent in parts.agents if agent.has("id")]
    yield from (f"agents: id {a!r} is repeated" for a in _repeated(ids))


def _topic_references(parts: Parts) -> Iterator[str]:
    if parts.topics is None:
        return
    topics = set(parts.topics)
    if parts.menu.get("default_topic") not in (None, *topics):
        yield f"menu.default_topic: {parts.menu['default_topic']!r} is not defined in [topics]"
    for option in parts.options:
        if option.get("topic") not in (None, *topics):
            yield f"{option.path}.topic: {option['topic']!r} is not defined in [topics]"
    for topic in parts.topics.values():
        if topic.get("overflow_topic") not in (None, *topics):
            yield f"{topic.path}.overflow_topic: {topic['overflow_topic']!r} is not a topic"
    for line in parts.lines or []:
        if line.get("topic") not in (None, *topics):
            yield f"{line.path}.topic: {line['topic']!r} is not a topic"
    for agent in parts.agents:
        for topic_name in agent.get("topics") or []:
            if topic_name not in topics:
                yield f"{agent.path}.topics: {topic_name!r} is not a topic"


def _line_references(parts: Parts) -> Iterator[str]:
    languages = parts.menu.get("languages")
    for line in parts.lines or []:
        if parts.hours is not None and line.get("hours") not in (None, *parts.hours):
            yield f"{line.path}.hours: {line['hours']!r} is not in [hours]"
        if languages is not None and line.has("language") and line["language"] not in languages:
            yield f"{line.path}.language: {line['language']!r} is not in menu.languages"


def _urgent_problems(parts: Parts) -> Iterator[str]:
    """Follow an urgent line's topic through its overflows: none may end in a hang-up."""
    for line in parts.lines or []:
        if not (line.has("kind") and LineKind(line["kind"]).urgent):
            continue
        seen: set[str] = set()
        topic = line.get("topic")
        while parts.topics and topic in parts.topics and topic not in seen:
            seen.add(topic)
            rules = parts.topics[topic]
            if rules.get("overflow_prompt"):
                yield (
                    f"{line.path}: urgent line {line.label()} reaches topic {topic!r}, whose overflow "
                    "hangs up (overflow_prompt); give it an overflow_topic or no maximum wait"
                )
            topic = rules.get("overflow_topic")


def _overflow_cycles(parts: Parts) -> Iterator[str]:
    """A topic's overflows must end: one that leads back to a topic already on its way
    would move a waiting caller round for ever (each move keeps their join time, so
    each maximum wait is already over)."""
    topics = parts.topics or {}
    for name, topic in topics.items():
        way = [name]
        following = topic.get("overflow_topic")
        while following in topics and following not in way:
            way.append(following)
            following = topics[following].get("overflow_topic")
        if following == name:
            yield (
                f"{topic.path}.overflow_topic: the overflows lead back to {name!r} "
                f"({' -> '.join([*way, name])}): end them in a topic without one"
            )
