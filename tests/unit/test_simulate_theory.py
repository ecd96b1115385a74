"""The simulation against exact Erlang A (M/M/c+M) in one light-load case, in a few
seconds: the exact P(abandon), mean wait of all callers, SL1 and occupancy lie
inside the 99.9% intervals of the simulated days. ``python -m bench.theory`` holds
every case (heavy load, overload, short and long patience, 5 and 50 agents) the
same way, with more days; this is its first case, smaller.

The seeds are bench.theory's (1, 2, …: fixed once, never picked to pass). With
about 11,500 calls (five seconds) the intervals are coarse: about ±30% of the
value for P(abandon) and the mean wait (abandons are rare at light load), ±2%
for SL1, ±4% for the occupancy; the widths are asserted so that the check stays
that sharp. It catches gross errors (tried: a 10 s wrap-up left in puts the
occupancy at 0.595 ± 0.022 against the model's 0.568, outside), not small
biases: those are the bench's to find."""

from __future__ import annotations

from pathlib import Path

from bench import theory

CASE = theory.Case("light load, small centre", 5, 60, 180, 120, days=12, hours=16)
# The interval's half-width at most this share of the exact value, by figure.
WIDEST = {"P(abandon)": 0.35, "mean wait, all (s)": 0.40, "SL1 (20 s)": 0.03, "occupancy": 0.05}


def test_exact_erlang_a_lies_inside_the_simulated_intervals(tmp_path: Path) -> None:
    (tmp_path / "agents-5.toml").write_text(theory.config_text(CASE.agents))
    seeds = range(theory.FIRST_SEED, theory.FIRST_SEED + CASE.days)
    days = [theory.one_day(CASE, seed, str(tmp_path)) for seed in seeds]
    assert sum(calls for _, calls in days) > 10_000
    for comparison in theory.compare(CASE, days):
        simulated = comparison.simulated
        assert simulated is not None, comparison
        assert comparison.inside, comparison
        assert simulated.half_width < WIDEST[comparison.label] * comparison.exact, comparison
