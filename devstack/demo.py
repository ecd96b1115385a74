"""The demo: a small busy hour on the real stack.

Four agents' softphones (sipp) log in and answer; three dozen callers (sipp)
dial clinics, hotlines and the ambulance line, key the menu, wait, talk, and
some give up; one clinic is closed. Meanwhile a redial storm: a few dozen
people call several times each (``redial_storm``). Then a small batch of lab
results is phoned to patients (``results_batch``). Then a report of what
PostgreSQL recorded: every call, per line and per topic, waits and outcomes,
and what recognising the people who called again saved; last, the KPI report
of the run (``callrouter report``): its headline figures, and the page for
managers in ``.run/demo-report.html``.

    ./dev.sh demo
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from callrouter.core.numbers import mask
from callrouter.report_render import goal, percent, seconds
from devstack import redial_report, redial_storm, results_batch, sipp
from devstack.configs import clockless_config
from devstack.redial_storm import PlannedCall, menu_keys
from devstack.router import RouterProcess, migrate
from devstack.stack import REPO, Stack, StackInfo
from devstack.util import log

TOKEN = "demo-admin-token"
KPI_PAGE = REPO / ".run" / "demo-report.html"
CLINICS = ["+78162700101", "+78162700102", "+78162700103", "+78162700104", "+78162700105", "+78166400100"]
# Said under the callbacks: why none is completed on this stack.
# (keys pressed, share of callers): infection, appointments > book, results, operator, language + operator
CHOICES = [("1", 3), ("21", 4), ("3", 3), ("0", 3), ("90", 1)]


def plan_callers(seed: int = 7) -> list[PlannedCall]:
    """The busy hour's ~36 callers, each calling once."""
    rnd = random.Random(seed)
    keys_pool = [k for k, n in CHOICES for _ in range(n)]
    callers = []
    for i in range(30):
        did = rnd.choice(CLINICS)
        keys = menu_keys(rnd.choice(keys_pool))
        patient = rnd.random() > 0.2  # one in five gives up early
        hold = rnd.randint(9000, 16000) if patient else rnd.randint(2500, 4500)
        callers.append(PlannedCall(i * 1.3, f"+7916{rnd.randint(1_000_000, 9_999_999)}", did, keys, hold))
    for i in range(3):  # the ambulance line skips the menu
        number = f"+7903{rnd.randint(1_000_000, 9_999_999)}"
        callers.append(PlannedCall(5 + i * 12.0, number, "103", (), 9000))
    callers += [
        PlannedCall(8.0, "anonymous", "+78162700300", menu_keys("0"), 8000),  # international, withheld
        PlannedCall(12.0, "+442079460958", "+78162700342", menu_keys("3"), 8000),  # inside its number block
        PlannedCall(15.0, "+79035550033", "+78162700108", (), 15000),  # the dental clinic is closed
    ]
    return sorted(callers, key=lambda c: c.offset)


def plan_all() -> list[PlannedCall]:
    """The busy hour with the redial storm in it."""
    return sorted(plan_callers() + redial_storm.plan(CLINICS), key=lambda c: c.offset)


async def report(info: StackInfo, since: float) -> str:
    conn = await asyncpg.connect(info.dsn(), password=info.pg_password)
    try:
        rows = await conn.fetch(
            """SELECT c.line, c.topic, c.outcome, c.agent, d.wait_seconds, d.queued_seconds, d.talk_seconds
               FROM calls c JOIN call_durations d USING (call_id)
               WHERE c.started_at >= to_timestamp($1) AND c.direction = 'inbound'
               ORDER BY c.started_at""",
            since,
        )
        listing = await conn.fetch(
            """SELECT c.started_at, c.did, c.line, c.caller_number, c.caller_presentation, c.menu_path,
                      c.topic, c.outcome, c.agent, d.wait_seconds, c.repeat_kind
               FROM calls c JOIN call_durations d USING (call_id)
               WHERE c.started_at >= to_timestamp($1) ORDER BY c.started_at""",
            since,
        )
        storm = await redial_report.section(conn, since)
    finally:
        await conn.close()
    out = [_calls(listing), "", _table("line", rows, "line"), "", _table("topic", rows, "topic"), ""]
    agents: dict[str, int] = {}
    for r in rows:
        if r["agent"]:
            agents[r["agent"]] = agents.get(r["agent"], 0) + 1
    out.append("agents: " + ", ".join(f"{a} took {n}" for a, n in sorted(agents.items())))
    outcomes: dict[str, int] = {}
    for r in rows:
        outcomes[r["outcome"] or "in progress"] = outcomes.get(r["outcome"] or "in progress", 0) + 1
    out.append(f"{len(rows)} calls: " + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())))
    return "\n".join([*out, "", storm])


def _calls(rows: list[asyncpg.Record]) -> str:
    """Every call as recorded (numbers masked, as in the logs)."""
    head = f"{'time':<8} {'DID dialled':<13} {'line':<21} {'caller':<13} {'keys':<4}"
    head += f" {'topic':<16} {'outcome':<13} {'agent':<6} {'wait':>6} {'repeat':<15}"
    lines = [head, "-" * len(head)]
    for r in rows:
        caller = mask(r["caller_number"]) if r["caller_number"] else r["caller_presentation"]
        wait = f"{float(r['wait_seconds']):.1f}s" if r["wait_seconds"] is not None else "-"
        lines.append(
            f"{r['started_at']:%H:%M:%S} {r['did']:<13} {r['line'] or '-':<21} {caller:<13}"
            f" {r['menu_path'] or '-':<4}"
            f" {r['topic'] or '-':<16} {r['outcome'] or '-':<13} {r['agent'] or '-':<6} {wait:>6}"
            f" {r['repeat_kind'] or '':<15}".rstrip()
        )
    return "\n".join(lines)


def _table(title: str, rows: list[asyncpg.Record], key: str) -> str:
    groups: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        groups.setdefault(r[key] or "-", []).append(r)
    head = f"{title:<22} {'calls':>5} {'answered':>8} {'abandoned':>9} {'other':>6}"
    head += f" {'mean wait':>9} {'max wait':>8}"
    lines = [head, "-" * len(head)]
    for name, group in sorted(groups.items()):
        answered = [r for r in group if r["outcome"] == "answered"]
        abandoned = [r for r in group if r["outcome"] in ("abandoned", "short_abandon")]
        waits = [float(r["wait_seconds"]) for r in answered if r["wait_seconds"] is not None]
        mean = f"{sum(waits) / len(waits):.1f} s" if waits else "-"
        most = f"{max(waits):.1f} s" if waits else "-"
        other = len(group) - len(answered) - len(abandoned)
        counts = f"{len(group):>5} {len(answered):>8} {len(abandoned):>9} {other:>6}"
        lines.append(f"{name:<22} {counts} {mean:>9} {most:>8}")
    return "\n".join(lines)


def kpi_report(info: StackInfo, config: Path, since: float) -> str:
    """``callrouter report`` over the run, as an operator runs it: the headline figures
    (from its JSON) and the HTML page written to ``KPI_PAGE``."""
    period = [
        "--from", datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
        "--to", datetime.fromtimestamp(time.time() + 1, UTC).isoformat(timespec="seconds"),
    ]  # fmt: skip
    command = [sys.executable, "-m", "callrouter", "report", "-c", str(config), *period]
    env = dict(os.environ, **info.env())
    KPI_PAGE.parent.mkdir(parents=True, exist_ok=True)
    outputs = [
        subprocess.run([*command, *fmt], env=env, cwd=REPO, capture_output=True, text=True, check=False)
        for fmt in (["--format", "json"], ["--format", "html", "--output", str(KPI_PAGE)])
    ]
    for done in outputs:
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(done.args[3:])} exited {done.returncode}: {done.stderr}")
    figures = json.loads(outputs[0].stdout)
    g, level = figures["overall"], figures["service_level"]
    return "\n".join([
        f"KPI report of the run (callrouter report {' '.join(period)}; {figures['period']['zone']}):",
        f"  offered {g['offered']}, unique callers {g['unique_callers']}, answered {g['answered']}"
        f" of {g['queued']} queued, average speed of answer {seconds(g['asa_seconds'])}",
        f"  service level SL1 {percent(g['sl1'])}, SL2 {percent(g['sl2'])} (answered within"
        f" {level['seconds']:g} s; target {goal(level['target'])}), abandonment {percent(g['abandonment'])}",
        f"  the page for managers: {KPI_PAGE}",
    ])  # fmt: skip


def run_callers(info: StackInfo, callers: list[PlannedCall]) -> tuple[int, int]:
    started = time.monotonic()

    def one(call: PlannedCall) -> sipp.SippResult:
        time.sleep(max(0.0, call.offset - (time.monotonic() - started)))
        keys = list(call.keys)
        return sipp.call(info.sip_port, [(call.number, call.did)], call.hold_ms, keys, timeout_s=180)

    with ThreadPoolExecutor(len(callers)) as pool:
        results = list(pool.map(one, callers))
    return sum(r.successful for r in results), sum(r.failed for r in results)


async def callbacks_settled(info: StackInfo, since: float, within: float) -> int:
    """Wait (up to ``within`` s) until no callback booked since ``since`` is still
    open (due retries included); the number still open."""
    conn = await asyncpg.connect(info.dsn(), password=info.pg_password)
    try:
        deadline = time.monotonic() + within
        while True:
            still = int(
                await conn.fetchval(
                    """SELECT count(*) FROM callbacks
                       WHERE requested_at >= to_timestamp($1) AND state IN ('pending', 'dialling')""",
                    since,
                )
            )
            if still == 0 or time.monotonic() > deadline:
                return still
            await asyncio.sleep(1)
    finally:
        await conn.close()


def free_agents(router: RouterProcess, within: float) -> None:
    """Wait (up to ``within`` s) until no agent is on a call."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _, body = router.request("GET", "/agents")
        if '"on_call"' not in body:
            return
        time.sleep(0.5)


def demo_config(target: Path) -> Path:
    """The tests' clockless config with the redial storm's shorter windows."""
    config = clockless_config(target)
    text = config.read_text()
    for key, value in {**redial_storm.CONFIG, **results_batch.CONFIG}.items():
        assert key in text, key
        text = text.replace(key, value)
    config.write_text(text)
    return config


def main() -> int:
    stack = Stack("demo")
    info = stack.up()
    run_dir = Path(info.run_dir)
    config = demo_config(run_dir / "callrouter.demo.toml")
    since = time.time() - 1
    migrate(info, config)
    router = RouterProcess(info, config, run_dir / "router.log", run_dir / "spool", TOKEN)
    agents = [sipp.Agent(port, calls=200, ring_ms=600, timeout_s=600) for port in info.agent_ports.values()]
    # The people callbacks dial (the trunk's calls out): they answer, talk a little, hang up.
    callees = sipp.Callee(info.trunk_port, answers=["answer"] * 20, ring_ms=1500, talk_ms=6000, timeout_s=600)
    callers = plan_all()
    try:
        router.login_all(list(info.agent_ports))
        log(f"router up (admin {router.admin_url}); {len(agents)} agents logged in")
        people = len({c.number for c in callers})
        last = max(c.ends for c in callers)
        log(f"{len(callers)} calls of {people} callers start now (about {last:.0f} s)")
        ok, failed = run_callers(info, callers)
        log("callers done; the callbacks they booked are dialled now (at most 30 s)")
        asyncio.run(callbacks_settled(info, since, within=30))
        free_agents(router, within=30)  # the callbacks' calls end (their people talk 6 s)
        callees.stop()  # the trunk's port is the patients' now
        patients = results_batch.phones(info.trunk_port)
        log(f"{len(results_batch.PATIENTS)} lab results are phoned now (about 40 s)")
        ids = asyncio.run(results_batch.put(info))
        results = asyncio.run(results_batch.settled(info, ids, within=90))
        patients.stop()
        time.sleep(2)  # the writer batches; give it a moment
        print()
        print(f"callrouter demo: a busy hour through {REPO.name}'s dev stack, as PostgreSQL recorded it")
        print()
        print(asyncio.run(report(info, since)))
        print()
        print(results_batch.report(results))
        print()
        print(kpi_report(info, config, since))
        print(f"sipp: {ok} calls completed, {failed} failed")
        print(f"router log: {router.log_path}   Asterisk log: {info.asterisk_log}")
        return 0 if failed == 0 else 1
    finally:
        router.stop()
        for agent in agents:
            agent.stop()
        callees.stop()
        stack.down()


if __name__ == "__main__":
    sys.exit(main())
