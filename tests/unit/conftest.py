"""Fixtures shared by the unit tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads the real environment and installs a root log handler: isolate both."""
    for name in list(os.environ):
        if name.startswith("CALLROUTER_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
