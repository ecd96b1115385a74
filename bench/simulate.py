"""How fast ``callrouter simulate`` runs a day: a busy weekday of a regional centre
(morning and lunch peaks, redials, callbacks) through the production switchboard,
timed on one core. Prints calls simulated per second; the issue's bar is a
35,000-call day in at most 10 s on the 2-core dev machine.

    python -m bench.simulate [--calls 35000] [--seed 1] [--profile FILE] [--json FILE]
                             [--replications N]

The config is the example's without its agents; the scenario's ``[staff]`` gives
all-round agents by the hour, about as many as the hour's offered load in
erlangs (a busy day: callers wait, some give up and call again); both written
to a temporary folder. The same seed, the same day.
``--profile FILE`` writes cProfile's statistics there (then ``python -m pstats FILE``);
``--json FILE`` the day's figures as ``callrouter simulate --format json`` gives them
(the same seed must give the same file, before and after a change of speed);
``--replications N`` then times N days run side by side, as ``callrouter simulate
--replications N`` runs them (one worker process per CPU).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import calibrate
from callrouter.simulate import figures, render, replications
from callrouter.simulate.engine import simulate
from callrouter.simulate.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
# Share of the day's first calls in each hour (a weekday of a centre of polyclinics and an ambulance line):
# a morning peak at 08-10, a smaller one after lunch, a quiet night.
PROFILE = (0.4, 0.3, 0.2, 0.2, 0.3, 0.5, 1.0, 3.0, 11.0, 12.0, 10.0, 8.5, 7.0, 8.0, 7.5, 6.5, 5.5, 4.5, 3.5,
           2.5, 1.8, 1.2, 0.8, 0.6)  # fmt: skip
# (line, topic, share of the day's first calls, open hours)
STREAMS = (
    ("clinic-central", "appointment_book", 0.30, range(8, 20)),
    ("clinic-north", "appointment_change", 0.10, range(8, 20)),
    ("clinic-south", "results", 0.15, range(8, 20)),
    ("clinic-river", "home_visit", 0.10, range(8, 20)),
    ("hotline-health", "operator", 0.20, range(24)),
    ("ambulance", "urgent", 0.15, range(24)),
)
HANDLE_SECONDS = 150.0
BAR_SECONDS = 10.0  # the bar for a 35,000-call day on the 2-core dev machine
WRAP_UP_SECONDS = 10.0
TOPICS = (
    '["infection", "appointment_book", "appointment_change", "home_visit", "results", "operator", "urgent"]'
)
# First calls: the redials of those who gave up make the rest of the day's calls.
FIRST_SHARE = 0.97


def scenario_text(calls: int, seed: int) -> str:
    lines = [
        'config = "callrouter.toml"',
        "date = 2026-11-24",
        f"seed = {seed}",
        f'handle = {{ distribution = "lognormal", mean_seconds = {HANDLE_SECONDS}, cv = 0.8 }}',
        'patience = { distribution = "exponential", mean_seconds = 150 }',
        'redial = { probability = 0.7, max_attempts = 5, delay = { distribution = "exponential", '
        "mean_seconds = 180 } }",
        "callback = { accept_probability = 0.3, answer_probability = 0.9 }",
    ]
    first = calls * FIRST_SHARE
    for line, topic, share, hours in STREAMS:
        weight = sum(PROFILE[h] for h in hours)
        per_hour = [round(first * share * PROFILE[h] / weight, 1) if h in hours else 0.0 for h in range(24)]
        lines += ["[[arrivals]]", f'line = "{line}"', f'topic = "{topic}"', f"per_hour = {per_hour}"]
    # all-round agents by the hour: agent i works the hours that need more than i (simulate.staff)
    lines += ["[staff]", f"per_hour = {needed(calls)}", f"topics = {TOPICS}", 'languages = ["ru", "en"]']
    return "\n".join(lines) + "\n"


def needed(calls: int) -> list[int]:
    """Agents per hour: about the hour's offered load in erlangs (8% more, and one)."""
    per_hour = [calls * FIRST_SHARE * share / sum(PROFILE) for share in PROFILE]
    load = [n * (HANDLE_SECONDS + WRAP_UP_SECONDS + 2) / 3600 for n in per_hour]
    return [math.ceil(a * 1.08) + 1 for a in load]


def agent_id(i: int) -> str:
    return f"a{i:03d}"


def config_text(agents: int) -> str:
    text = (ROOT / "callrouter.example.toml").read_text()
    # the example's four agents out (they stand together, before the opening hours)
    text = text[: text.index("[[agents]]")] + text[text.index("# ---- opening hours") :]
    for i in range(agents):
        text += f'\n[[agents]]\nid = "{agent_id(i)}"\ntopics = {TOPICS}\nlanguages = ["ru", "en"]\n'
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=35_000, help="the day's calls, roughly (default 35000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="write cProfile statistics to this file")
    parser.add_argument("--json", type=Path, help="write the day's figures (JSON) to this file")
    parser.add_argument("--replications", type=int, default=0, help="then time N days side by side")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "callrouter.toml").write_text(config_text(0))
        (Path(folder) / "day.toml").write_text(scenario_text(args.calls, args.seed))
        scenario = load_scenario(Path(folder) / "day.toml")
    yardstick = calibrate.reference_seconds()  # the VM's speed of the day, before and after
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    day = simulate(scenario)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    took = time.perf_counter() - started
    yardstick = min(yardstick, calibrate.reference_seconds())
    summary = figures.summary(day)
    if args.json is not None:
        # The temporary folder's name left out: the same seed, the same file.
        written = {**render.as_json(scenario, summary), "scenario": "day.toml", "config": "callrouter.toml"}
        args.json.write_text(json.dumps(written, indent=2, ensure_ascii=False) + "\n")
    print(
        f"{len(day.calls)} calls ({len(day.people)} people, {max(needed(args.calls))} agents at the peak, "
        f"{day.steps} switchboard steps) in {took:.2f} s: {len(day.calls) / took:,.0f} calls/s, "
        f"{day.steps / took:,.0f} steps/s"
    )
    if args.calls == 35_000:
        verdict = "within" if took <= BAR_SECONDS else "over"
        print(f"{took:.2f} s against the bar of {BAR_SECONDS:.0f} s for a 35,000-call day: {verdict} it")
    print(
        f"yardstick (bench.calibrate, best of 6 around the day) {yardstick:.3f} s: the day took "
        f"{took / yardstick:.1f} yardsticks; the bar is {BAR_SECONDS / yardstick:.1f} of them today"
    )
    totals = summary.day
    print(
        f"answered {totals.answered}, abandoned {totals.abandoned}, SL1 {totals.sl1 or 0:.1%}, "
        f"never served {totals.never_served}, occupancy {totals.occupancy or 0:.1%}, "
        f"callbacks {totals.callbacks_completed}/{totals.callbacks_made}"
    )
    if args.replications >= 2:
        side_by_side(scenario, args.replications, took)
    return 0


def side_by_side(scenario: Scenario, days: int, one_day: float) -> None:
    workers = min(days, os.cpu_count() or 1)
    started = time.perf_counter()
    replications.replicate(scenario, days)
    took = time.perf_counter() - started
    print(
        f"{days} replications on {workers} processes in {took:.2f} s: {took / days:.2f} s a day "
        f"({days * one_day / took:.1f}x one after another, the day above taken as each one's time)"
    )


if __name__ == "__main__":
    sys.exit(main())
