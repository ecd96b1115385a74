"""Which prompts the config needs, and whether every enabled language has them.

The words live in ``prompts/<lang>.toml`` (``[prompts] key = "words"``); the
audio Asterisk plays is generated from them. ``check-config`` and ``run``
refuse a config that would play a prompt missing in one of its languages.
A prompt naming ``{organisation}`` (``greeting``, ``results_greeting``) is a
template: its audio is made per line as ``<key>-<line name>``, and the check
asks the catalogue for the template's key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from callrouter.config_checks import Parts

ALWAYS = (
    "greeting", "invalid_option", "queue_joined", "queue_position", "queue_wait", "goodbye",
    "repeat_kept_place", "repeat_replaced",
)  # fmt: skip
# Said when callbacks are offered (``[callback] offer_after_seconds`` or a topic's).
CALLBACK = (
    "callback_offer", "callback_confirm", "callback_confirm_keys", "callback_key_number",
    "callback_number_invalid", "callback_stay_in_line", "callback_accepted", "callback_not_possible",
    "callback_pending_choice", "callback_kept",
)  # fmt: skip

# Said by the results dialler, when ``[results]`` is configured; ``results_greeting``
# is played per line, as ``results_greeting-<line name>``.
RESULTS = (
    "results_greeting", "results_verify", "results_verify_wrong", "results_negative", "results_positive",
    "results_positive_advice", "results_inconclusive", "results_repeat", "results_consult_offer",
    "results_neutral", "results_consult_joined", "results_goodbye",
)  # fmt: skip


def required(parts: Parts) -> set[str]:
    """The prompts the config plays, as far as its keys validated."""
    keys = set(ALWAYS)
    keys |= {item.get("prompt") for item in (parts.menu, *parts.options)}
    keys.add(parts.menu.get("short_prompt"))
    keys |= {hours.get("closed_prompt") for hours in (parts.hours or {}).values()}
    for topic in (parts.topics or {}).values():
        keys |= {topic.get("prompt"), topic.get("overflow_prompt")}
    offers = [parts.callback.get("offer_after_seconds") if parts.callback else None]
    offers += [topic.get("callback_offer_after_seconds") for topic in (parts.topics or {}).values()]
    if any(seconds is not None for seconds in offers):
        keys |= set(CALLBACK)
    if any(line.get("menu") == "fast" for line in parts.lines or []):
        keys.add("fast_path")
    return {key for key in keys if isinstance(key, str)}


def catalogue(source: Path, language: str) -> dict[str, str] | None:
    path = source / f"{language}.toml"
    if not path.exists():
        return None
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.get("prompts", {}).items()}


def missing(parts: Parts, source: Path, also: Iterable[str] = ()) -> list[str]:
    """``prompts: ...`` problems, one per missing file or key, in every language that validated.

    ``also``: keys needed beyond what ``parts`` plays (``RESULTS`` when ``[results]`` is configured).
    """
    problems: list[str] = []
    keys = required(parts) | set(also)
    for language in parts.menu.get("languages") or []:
        try:
            words = catalogue(source, language)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
            problems.append(f"prompts: cannot read {source / language}.toml: {exc}")
            continue
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
