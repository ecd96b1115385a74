"""An honest wait estimate, or none.

The estimate is the caller's position times the recent mean handling time
(talk + wrap-up), shared among the agents who can take the caller. With too
few recent calls, or nobody logged in who could take them, there is no honest
figure, and the caller hears none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_SAMPLES = 5


def estimate_minutes(
    position: int, agents_serving: int, recent_handle_seconds: Sequence[float]
) -> int | None:
    if position < 1 or agents_serving < 1 or len(recent_handle_seconds) < MIN_SAMPLES:
        return None
    mean = sum(recent_handle_seconds) / len(recent_handle_seconds)
    return max(1, math.ceil(position * mean / agents_serving / 60))
