"""The simulator against the real stack, on one scenario (``simulate_validation.toml``):
callers on a clinic's line keying 0 for an operator, Poisson arrivals for
``ARRIVAL_SECONDS``, exponential patience, four agents with exponential talk times.

The real run: the scenario's own callers (its seed's arrivals, cut at
``ARRIVAL_SECONDS``) and their patience, drawn as the simulator draws them, call
through sipp (``devstack.patience``): all calls start at once and each sends its
INVITE at its own moment, keys 0 in the greeting (the router queues it then), and
waits in the queue at most its patience. It knows its wait is over from Asterisk's
connected-line update: callers from ``COLP_CALLERS`` get a re-INVITE when they and
their agent are both in the call's bridge; none by the end of its patience, it hangs
up (abandoned), never once it talks. The agents' sipp phones ring 0.5 s and talk for
exponential times drawn once (their seed is the scenario's); the router is the
suite's, with the suite's config (the scenario names it).

Measured: abandonment (abandoned / queued) and mean wait (every wait in the queue,
answered or not) of the run's calls, from the router's records in PostgreSQL, by the
simulator's own figures (``simulate.figures.summary``: ``core.kpi`` and
``core.waits``). Simulated: ``RUNS`` single runs of the same length (seeds 1 to
``RUNS``: their own arrivals, patience and talk times), made while the calls go on
(one core; the stack's load is light). The test passes when each measured figure lies
within 10% of the simulated mean or within the central 95% of the single runs (their
2.5 and 97.5 percentiles), whichever is wider on each side. Printed beside them, for a
look only: ``RUNS`` runs of the real run's own callers and patience, with other talk
times (the real agents' cannot be given to the simulator's draws). The inputs are
fixed (the seeds were chosen once); the stack's timing is not.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from callrouter.core.records import CallRecord, Outcome
from callrouter.simulate.day import Day
from callrouter.simulate.engine import Simulation, simulate
from callrouter.simulate.figures import Figures, summary
from callrouter.simulate.people import Draws, Person, draw, first_calls
from callrouter.simulate.scenario import Scenario, load_scenario
from callrouter.store.report import ReportReader
from devstack.patience import Patient, Patients, TalkingAgent
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import CONFIG, log_everyone_out, start_router, wait_rows

SCENARIO = Path(__file__).with_name("simulate_validation.toml")
ARRIVAL_SECONDS = 60
RUNS = 200
KEY = "0"  # the clinic menu's key for an operator
TALKS = 60  # talk times drawn for each agent (more than any agent takes)
WAITED_IN_VAIN = (Outcome.ABANDONED, Outcome.SHORT_ABANDON)
FIGURES = (("abandonment", "abandonment"), ("mean wait, s", "mean_wait_seconds"))
ENDED = "SELECT caller_number FROM calls WHERE caller_number = ANY($1::text[]) AND ended_at IS NOT NULL"


@pytest.fixture
def router(stack: StackInfo, tmp_path: Path) -> Iterator[RouterProcess]:
    """The e2e config's router with ``[queue] dropped_answer_seconds = 0``: the agents
    here hang up after their drawn talk (an eighth of them under a second), where the
    simulator's callers always end the call first; with the rule on, a real talk that
    short would be read as a phone dropping the call (the caller waiting again, the
    agent auto-paused), which the simulator never plays. The config is otherwise the
    one the scenario names (written beside it: its relative paths read the same)."""
    config = CONFIG.with_name("callrouter.test-validation.toml")
    rule = r"(?m)^dropped_answer_seconds = \S+"
    text, changed = re.subn(rule, "dropped_answer_seconds = 0", CONFIG.read_text())
    assert changed == 1, "the e2e config sets dropped_answer_seconds once (the example's [queue])"
    config.write_text(text)
    router = start_router(stack, tmp_path, config)
    yield router
    if router.proc.poll() is None:
        log_everyone_out(router, stack)
    code = router.stop()
    assert router.killed or code == 0, f"router exited {code}:\n{router.log()}"


def callers(scenario: Scenario) -> list[Person]:
    """The scenario's callers of its first ARRIVAL_SECONDS."""
    first = min(start for stream in scenario.streams for start, _, _ in stream.intervals)
    people = first_calls(scenario, Draws(scenario.seed).arrivals)
    return [person for person in people if person.first_at < first + ARRIVAL_SECONDS]


def simulated(scenario: Scenario, seed: int) -> Figures:
    one = scenario.with_seed(seed)
    return summary(simulate(one, people=callers(one))).day


def with_other_talks(scenario: Scenario, seed: int) -> Figures:
    """A run of the scenario's own callers and patience (the real run's), with the talk
    times of another seed."""
    run = Simulation(scenario, people=callers(scenario))
    run.draws.handle = Draws(seed).handle
    return summary(run.run()).day


def simulations(scenario: Scenario) -> tuple[list[Figures], list[Figures]]:
    """RUNS single runs, and RUNS runs of the real run's callers and patience."""
    seeds = range(1, RUNS + 1)
    return [simulated(scenario, s) for s in seeds], [with_other_talks(scenario, s) for s in seeds]


def patients(scenario: Scenario, prefix: str) -> list[Patient]:
    """The real run's callers: the scenario's, with the patience the simulator would draw
    for them (in the order they join the queue, the order they call)."""
    people = callers(scenario)
    patience = scenario.file.patience.finite()
    assert patience is not None
    rng = Draws(scenario.seed).patience
    first = people[0].first_at
    (stream,) = scenario.streams
    return [
        Patient(f"{prefix}{n:04d}", stream.did, person.first_at - first, draw(rng, patience))
        for n, person in enumerate(people)
    ]


def talks(scenario: Scenario, agent: str) -> list[float]:
    rng = random.Random(f"{scenario.seed}:talk:{agent}")
    return [draw(rng, scenario.file.handle) for _ in range(TALKS)]


async def fresh_prefix(db: asyncpg.Connection) -> str:
    """Numbers no call in the database has (a number seen before would be a repeat caller)."""
    while True:
        prefix = f"+7918{random.randint(100, 999)}"
        if not await db.fetchval("SELECT 1 FROM calls WHERE caller_number LIKE $1 LIMIT 1", prefix + "%"):
            return prefix


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def spread(runs: list[Figures], name: str) -> tuple[float, float, float]:
    """The runs' mean of a figure, and its 2.5 and 97.5 percentiles."""
    values = [getattr(run, name) for run in runs if getattr(run, name) is not None]
    return statistics.fmean(values), percentile(values, 0.025), percentile(values, 0.975)


def compare(measured: Figures, runs: list[Figures], alike: list[Figures]) -> tuple[str, list[str]]:
    """The side-by-side table, and the figures outside their band. ``alike``: runs of
    the real run's own callers and patience, for a look."""
    rows = [
        f"{'':14}{'measured':>9}{'simulated':>10}{'runs 2.5%':>10}{'97.5%':>7}{'pass band':>14}"
        f"  | same callers{'2.5%':>6}{'97.5%':>7}",
    ]
    outside = []
    for label, name in FIGURES:
        mean, low, high = spread(runs, name)
        band = (min(0.9 * mean, low), max(1.1 * mean, high))
        same, same_low, same_high = spread(alike, name)
        value = getattr(measured, name)
        shown = "-" if value is None else f"{value:.3f}"
        rows.append(
            f"{label:14}{shown:>9}{mean:>10.3f}{low:>10.3f}{high:>7.3f}{f'{band[0]:.3f}-{band[1]:.3f}':>14}"
            f"  | {same:>12.3f}{same_low:>6.3f}{same_high:>7.3f}"
        )
        if value is None or not band[0] <= value <= band[1]:
            outside.append(label)
    return "\n".join(rows), outside


def late_joins(records: list[CallRecord], bridged: dict[str, float]) -> int:
    """Callers joined to their agent more than a second after the agent answered."""
    answered = {r.caller_number: r.agent_answered_at for r in records if r.agent_answered_at}
    return sum(1 for n, at in bridged.items() if n in answered and at - answered[n].timestamp() > 1)


async def measured_calls(stack: StackInfo, numbers: set[str], since: datetime) -> list[CallRecord]:
    """The run's calls' final records, as the KPI report reads them."""
    reader = ReportReader(stack.dsn(), stack.pg_password)
    try:
        batches = [batch async for batch in reader.calls(since, datetime.now(UTC))]
    finally:
        await reader.close()
    return [call for batch in batches for call in batch if call.caller_number in numbers]


async def test_measured_abandonment_and_wait_agree_with_the_simulator(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    began = time.monotonic()
    scenario = load_scenario(SCENARIO)
    assert (SCENARIO.parent / scenario.file.config).resolve() == CONFIG.resolve(), "the router's config"
    agents = sorted(scenario.shifts)
    assert agents == sorted(stack.agent_ports)
    people = patients(scenario, await fresh_prefix(db))
    numbers = {p.number for p in people}
    ring_ms = round(scenario.file.timing.agent_answer_seconds * 1000)
    phones = [TalkingAgent(stack.agent_ports[a], talks(scenario, a), ring_ms) for a in agents]
    try:
        router.login_all(agents)
        started = datetime.now(UTC)
        calls = Patients(stack.sip_port, people, KEY, round(scenario.file.timing.key_seconds * 1000))
        # The simulated runs while the calls go on (one core; the stack's load is light).
        result, (runs, alike) = await asyncio.gather(
            asyncio.to_thread(calls.wait, ARRIVAL_SECONDS + 180), asyncio.to_thread(simulations, scenario)
        )
    finally:
        for agent in agents:
            router.request("POST", f"/agents/{agent}/logout")
        agent_results = [phone.stop() for phone in phones]
    ended = await wait_rows(db, ENDED, list(numbers), count=len(numbers))
    assert len(ended) == len(numbers), f"{len(ended)} of {len(numbers)} calls ended"
    records = await measured_calls(stack, numbers, started - timedelta(seconds=5))
    measured = summary(Day(scenario, [], calls=records)).day

    table, outside = compare(measured, runs, alike)
    answered = {str(r.caller_number) for r in records if r.outcome is Outcome.ANSWERED}
    abandoned = {str(r.caller_number) for r in records if r.outcome in WAITED_IN_VAIN}
    unheard = answered - set(calls.bridged) - set(calls.gave_up)
    print(
        f"\n{len(people)} callers in {ARRIVAL_SECONDS} s, {len(agents)} agents, {RUNS} simulated runs; "
        f"the real run: {measured.answered} answered ({len(unheard)} never joined to their agent, "
        f"{late_joins(records, calls.bridged)} joined over 1 s after the answer), "
        f"{measured.abandoned} abandoned; {time.monotonic() - began:.0f} s\n{table}"
    )
    assert result.ok, result.output[-2000:]
    assert all(r.failed == 0 for r in agent_results), [r.output[-1500:] for r in agent_results if r.failed]
    # What each caller did is what the router recorded: a caller joined to an agent was
    # answered, one recorded abandoned hung up waiting, and every answered caller reached
    # their agent. (Before the router stopped a playback again when it went on, a caller
    # whose agent answered while a number of an announcement was said heard the rest of
    # it instead: Asterisk loses a stop that comes then.)
    assert set(calls.bridged) <= answered, sorted(set(calls.bridged) - answered)
    assert not unheard, f"recorded answered, never joined to their agent: {sorted(unheard)}"
    assert abandoned == set(calls.gave_up) - answered, (sorted(abandoned), sorted(calls.gave_up))
    assert measured.offered == len(people)
    assert not outside, f"{', '.join(outside)} outside the simulator's band:\n{table}"
