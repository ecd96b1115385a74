"""Configs derived from the example for the tests and the demo: independent of
the clock (every clinic open, the dental clinic always closed) and quicker."""

from __future__ import annotations

from pathlib import Path

from devstack.stack import REPO

EXAMPLE = REPO / "callrouter.example.toml"

QUICK = {
    "timeout_seconds = 5 ": "timeout_seconds = 2 ",
    "ring_timeout_seconds = 15 ": "ring_timeout_seconds = 4 ",
    "wrap_up_seconds = 10 ": "wrap_up_seconds = 1 ",
    "announce_every_seconds = 60 ": "announce_every_seconds = 20 ",
}

WEEKDAYS = '["mon", "tue", "wed", "thu", "fri", "sat"]'
RESULTS_ANY_TIME = {
    f'zone = "Europe/Moscow"\ndays = {WEEKDAYS}': f'zone = "UTC"\ndays = {WEEKDAYS[:-1]}, "sun"]',
    'hours = ["09:00-20:00"] ': 'hours = ["00:00-24:00"] ',
}


def clockless_config(target: Path) -> Path:
    text = EXAMPLE.read_text()
    text = text.replace('hours = "clinics"', 'hours = "always"')
    dental = 'name = "clinic-dental"\nkind = "clinic"\nhours = "always"'
    assert dental in text
    text = text.replace(dental, 'name = "clinic-dental"\nkind = "clinic"\nhours = "closed"')
    for key, value in QUICK.items():
        assert key in text, key
        text = text.replace(key, value)
    # Results calls at any hour: [results.window] every day, all day.
    for old, new in RESULTS_ANY_TIME.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    text += '\n[hours.closed]\nzone = "UTC"\nweekly = {}\n'
    text = text.replace('source = "prompts"', f'source = "{REPO / "prompts"}"')
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def with_hold(text: str, lines: str) -> str:
    """A config's text with its [queue] holding lines (``hold``, ``hold_bridges``) replaced."""
    kept = [line for line in text.splitlines(True) if not line.startswith(("hold =", "hold_bridges ="))]
    text = "".join(kept)
    assert "[queue]\n" in text
    return text.replace("[queue]\n", f"[queue]\n{lines}\n", 1)
