"""The search of ``staffing.advise`` (steps 3-5 of ``staffing``'s docstring): where it
stands (``_Search``: the counts to try next, each hour's fewest agents not known to
fail, the raises and cuts) and when an hour is past helping (``_stuck``)."""

from __future__ import annotations

from dataclasses import dataclass, field

HOURS = 24  # a day's hours, midnight first
RAISES_BEFORE_THE_HOUR_BEFORE = 2  # raises of a still-failing hour before its previous hour is raised too
# An hour raised this many times in a row without its shortfall shrinking by this much: hopeless.
STUCK_RAISES = 4
STUCK_GAIN = 0.005


def _stuck(shortfalls: dict[int, list[float]], failing: dict[int, float]) -> list[int]:
    """Each failing hour's shortfall added to its run of raises (an hour not failing
    now starts again); the hours whose last ``STUCK_RAISES`` raises did not shrink it."""
    for hour in list(shortfalls):
        if hour not in failing:
            del shortfalls[hour]
    stuck = []
    for hour, short in failing.items():
        run = shortfalls.setdefault(hour, [])
        run.append(short)
        if len(run) > STUCK_RAISES and run[-STUCK_RAISES - 1] - min(run[-STUCK_RAISES:]) < STUCK_GAIN:
            stuck.append(hour)
    return stuck


@dataclass
class _Search:
    """Where the search stands: the counts to try next and, for each hour, the fewest
    agents not known to fail. Once every hour meets the target, the hours above that
    are cut (by one; by half the distance once a failure below is known) and tried."""

    counts: list[int]
    floor: list[int]  # the fewest agents not known to fail
    trim: bool
    known: list[bool] = field(default_factory=lambda: [False] * HOURS)  # floor set by a failure
    raises: list[int] = field(default_factory=lambda: [0] * HOURS)
    cut: dict[int, int] = field(default_factory=dict)  # hour -> the count that passed, in the trial under way
    done: bool = False
    history: list[tuple[int, ...]] = field(default_factory=list)
    judged: set[int] = field(default_factory=set)  # the hours the last staffing that passed was judged in

    def passed(self, judged: set[int]) -> None:
        """The staffing tried met the target in every hour ``judged``: cut those hours
        (an hour too quiet to judge keeps its count: nothing could show a cut fails)."""
        self.judged = judged
        self.cut = {}
        if self.trim:
            for hour in sorted(judged):
                gap = self.counts[hour] - self.floor[hour]
                if gap > 0:
                    self.cut[hour] = self.counts[hour]
                    self.counts[hour] -= (gap + 1) // 2 if self.known[hour] else 1
        self.done = not self.cut

    def failed(self, failing: list[int], erlang_seen: dict[int, int]) -> None:
        """``erlang_seen``: Erlang A's agents for each failing hour's load as simulated."""
        if self.cut:
            self._undo(failing)
            return
        for hour in failing:
            self._fails_at(hour)
            self.counts[hour] = max(self.counts[hour] + 1, erlang_seen[hour])
            self.raises[hour] += 1
            if self.raises[hour] > RAISES_BEFORE_THE_HOUR_BEFORE and hour > 0 and self.counts[hour - 1] > 0:
                self.counts[hour - 1] += 1

    def _fails_at(self, hour: int) -> None:
        self.floor[hour] = max(self.floor[hour], self.counts[hour] + 1)
        self.known[hour] = True

    def _undo(self, failing: list[int]) -> None:
        """A cut made hours fail: the cut to blame (the failing hour's own, else the hour
        before's; else every cut) is undone, and its count is known to fail."""
        blamed = {next((h for h in (hour, hour - 1) if h in self.cut), -1) for hour in failing}
        if -1 in blamed:
            blamed = set(self.cut)
        for hour in blamed:
            self._fails_at(hour)
            self.counts[hour] = self.cut.pop(hour)
        if not self.cut:  # back to the staffing that passed: try the next cuts at once
            self.passed(self.judged)
