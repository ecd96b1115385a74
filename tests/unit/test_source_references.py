"""Comments and notes that send the reader to a test name a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_PATH = re.compile(r"\btests/[\w/]+\.py\b")


def test_every_test_file_a_source_names_exists() -> None:
    sources = [p for folder in ("callrouter", "devstack", "bench") for p in (REPO / folder).rglob("*.py")]
    sources += (REPO / "bench").rglob("*.md")
    named = {
        (str(source.relative_to(REPO)), path)
        for source in sources
        for path in TEST_PATH.findall(source.read_text())
    }
    assert named, "the pattern finds the references there are"
    missing = sorted((source, path) for source, path in named if not (REPO / path).is_file())
    assert missing == []
