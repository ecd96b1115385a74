"""Which prompts the config needs, and whether every enabled language has them.

The words live in ``prompts/<lang>.toml`` (``[prompts] key = "words"``); the
audio Asterisk plays is generated from them. ``check-config`` refuses a config
that would play a prompt missing in one of its languages.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from callrouter.config import FileConfig

ALWAYS = ("greeting", "invalid_option", "queue_joined", "queue_position", "queue_wait", "goodbye")


def required(config: FileConfig) -> set[str]:
    keys = set(ALWAYS) | config.menu.prompts()
    keys |= {h.closed_prompt for h in config.hours.values()}
    for topic in config.topics.values():
        keys |= {p for p in (topic.prompt, topic.overflow_prompt) if p}
    if any(line.menu == "fast" for line in config.lines):
        keys.add("fast_path")
    return keys


def catalogue(source: Path, language: str) -> dict[str, str] | None:
    path = source / f"{language}.toml"
    if not path.exists():
        return None
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.get("prompts", {}).items()}


def missing(config: FileConfig, source: Path) -> list[str]:
    """``prompts: ...`` problems, one per missing file or key."""
    problems: list[str] = []
    keys = required(config)
    for language in config.menu.languages:
        words = catalogue(source, language)
        if words is None:
            problems.append(
                f"prompts: language {language!r} is enabled but {source / language}.toml is missing"
            )
            continue
        for key in sorted(keys - set(words)):
            problems.append(f"prompts: {key!r} is missing in {source / language}.toml")
    return problems


def media(directory: str, language: str, key: str) -> str:
    """The ARI media URI of a generated prompt."""
    return f"sound:{directory}/{language}/{key}"
