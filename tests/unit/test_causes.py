"""One hang-up cause reads the same whichever ARI event told it first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from callrouter.core import call_end
from callrouter.core.call_state import Call
from callrouter.core.callbacks import outcome_of
from callrouter.core.causes import worded
from tests.unit.test_call import PLAN, connected, in_menu


@pytest.mark.parametrize(
    ("cause", "said"),
    [
        ("16", "Normal Clearing"),
        ("17", "User busy"),
        ("19", "User alerting, no answer"),
        ("Normal Clearing", "Normal Clearing"),  # ChannelDestroyed's own words
        ("127", "Interworking, unspecified"),
        ("255", "255"),  # a number Asterisk has no words for
        ("normal", "normal"),
        ("", ""),
        ("١٦", "١٦"),  # digits of another script are no cause number
    ],
)
def test_a_cause_number_is_said_in_asterisks_words(cause: str, said: str) -> None:
    assert worded(cause) == said


@pytest.mark.parametrize("made", [in_menu, connected])
def test_a_callers_hang_up_reads_the_same_from_either_event(made: Callable[[], Call]) -> None:
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    by_number = call_end.gone(made(), now, PLAN, "16")[0].record
    by_text = call_end.gone(made(), now, PLAN, "Normal Clearing")[0].record
    assert by_number.end_reason == by_text.end_reason == "caller: Normal Clearing"


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [("17", "busy"), ("User busy", "busy"), ("19", "no_answer"), ("18", "no_answer"), ("21", "failed")],
)
def test_a_callbacks_attempt_reads_a_cause_number_as_its_words(cause: str, outcome: str) -> None:
    assert outcome_of(cause) == outcome
