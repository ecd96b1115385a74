"""The router's inbound path against app_queue on the same Asterisk, in one run.

    make bench                       # the full steps (10..80 calls/s, 30 s each, 500 agents)
    python -m bench.run --smoke      # a handful of calls on both paths

Both paths get the same callers (sipp: the menu digit by SIP INFO, hang up
about 3 s after the answer) and the same agents (one sipp UAS answering every
agent's endpoint after a 600 ms ring), measured by one passive ARI observer.
Prints a table per rate and path with router/app_queue ratios, and keeps the
raw figures as JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.figures import (
    PathResult,
    counters,
    histogram,
    histogram_quantile,
    mean_ms,
    pct,
    per_call,
    retransmissions,
    spread,
    table,
)
from bench.observer import Observer, analyse
from devstack import sipp
from devstack.configs import clockless_config
from devstack.router import RouterProcess, migrate
from devstack.stack import REPO, Stack, StackInfo
from devstack.util import log

BENCH = Path(__file__).resolve().parent
_FIRST_NUMBER = [random.randrange(10_000_000)]


def fresh_numbers(count: int) -> list[str]:
    """Caller numbers no earlier step of this run used (and, from a random start,
    most likely no earlier run): a number seen before is a repeat caller to the
    router (its place resumed, its menu skipped), which app_queue knows nothing of."""
    first = _FIRST_NUMBER[0]
    _FIRST_NUMBER[0] += count
    return [f"+7916{(first + i) % 10_000_000:07d}" for i in range(count)]


ROUTER_DID = "+78162700101"  # clinic-central: greeting, menu, key 0 -> operator
QUEUE_DID = "999100"  # bench.conf: the same prompts, Read(), Queue(bench)
TOKEN = "bench-admin-token-0123456789"  # the router refuses one under 16 characters


def bench_config(run_dir: Path, agents: int, settings: list[str] | None = None) -> Path:
    """The example config, clock-free, with ``agents`` agents; each of ``settings``
    ("key = value") replaces the line that sets that key."""
    config = clockless_config(run_dir / "callrouter.bench.toml")
    text = config.read_text()
    for setting in settings or []:
        key = setting.split("=", 1)[0].strip()
        text, found = re.subn(rf"(?m)^{re.escape(key)} = .*$", setting.strip(), text, count=1)
        if not found:
            raise SystemExit(f"--set {setting!r}: the config sets no {key}")
    text = re.sub(r"\[\[agents\]\].*?(?=\n# ---- opening hours)", "", text, flags=re.S)
    text = text.replace("wrap_up_seconds = 1 ", "wrap_up_seconds = 0 ")
    generated = "".join(
        f'[[agents]]\nid = "agent{i}"\ntopics = ["operator"]\nlanguages = ["ru"]\n\n'
        for i in range(1, agents + 1)
    )
    config.write_text(text.replace("# ---- opening hours", generated + "# ---- opening hours", 1))
    return config


def install_reference(info: StackInfo, stack: Stack) -> None:
    """The bench-only app_queue path, into the running stack's Asterisk."""
    etc = Path(info.root) / "etc/asterisk"
    shutil.copy(BENCH / "asterisk/bench.conf", etc / "bench.conf")
    shutil.copy(BENCH / "asterisk/extensions.conf", etc / "extensions.conf")
    members = "".join(f"member => PJSIP/{agent}\n" for agent in info.agent_ports)
    (etc / "queues.conf").write_text(
        (BENCH / "asterisk/queues.conf.in").read_text().replace("{{MEMBERS}}", members)
    )
    subprocess.run(["chroot", info.root, "chown", "asterisk:asterisk", "/etc/asterisk/queues.conf",
                    "/etc/asterisk/bench.conf", "/etc/asterisk/extensions.conf"], check=True)  # fmt: skip
    for command in ("module load app_read.so", "module load app_queue.so", "dialplan reload"):
        stack.asterisk_cli(command)
    for queue in ("bench", "bench-hold"):
        shown = stack.asterisk_cli(f"queue show {queue}")
        if f"{queue} has" not in shown:
            raise SystemExit(f"the reference queue {queue} did not load:\n{shown}")


def cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> tuple[int, int]:
    """All CPU ticks of the machine and the stolen ones (/proc/stat), for the noise of a step."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[7]


def steal(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[0] - before[0]
    return (after[1] - before[1]) * 100 / total if total > 0 else 0.0


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="'KEY = VALUE'",
                        help="a router config line to change, e.g. 'shed_lag_seconds = 0.2'")  # fmt: skip


async def run_path(
    path: str,
    rate: float,
    seconds: float,
    info: StackInfo,
    observer: Observer,
    router: RouterProcess | None,
    patience: int = 180,
) -> PathResult:
    """One step on one path; sipp gives up on calls still unfinished ``patience`` s after the last."""
    count = max(1, int(rate * seconds))
    did = ROUTER_DID if path == "router" else QUEUE_DID
    callers = [(number, did) for number in fresh_numbers(count)]
    observer.take()
    asterisk_before = cpu_ms(info.asterisk_pid)
    ticks_before = cpu_ticks()
    router_before = cpu_ms(router.proc.pid) if router else 0.0
    scraped_before = router.metrics() if router else ""
    result = await asyncio.to_thread(
        lambda: sipp.call(
            info.sip_port,
            callers,
            hold_ms=1800,
            keys=[(1200, "0")],
            rate=rate,
            timeout_s=int(seconds) + patience,
        )
    )
    await asyncio.sleep(2)  # the last events arrive
    asterisk_used = cpu_ms(info.asterisk_pid) - asterisk_before
    stolen = steal(ticks_before, cpu_ticks())
    router_used = cpu_ms(router.proc.pid) - router_before if router else None
    scraped_after = router.metrics() if router else ""
    figures = analyse(observer.take())
    handling = lag = rest = None
    events: dict[str, float] | None = None
    if router:
        name = "callrouter_event_handling_seconds"
        handling = histogram_quantile(histogram(scraped_before, name), histogram(scraped_after, name), 0.99)
        name = "callrouter_ari_event_lag_seconds"
        lag = histogram_quantile(histogram(scraped_before, name), histogram(scraped_after, name), 0.99)
        name = "callrouter_ari_request_seconds"
        rest = histogram_quantile(histogram(scraped_before, name), histogram(scraped_after, name), 0.99)
        events = per_call(counters(scraped_before, "callrouter_ari_events_total", "type"),
                          counters(scraped_after, "callrouter_ari_events_total", "type"), count)  # fmt: skip
    return PathResult(
        path=path,
        rate=rate,
        offered=count,
        connected=int(figures["connected"][0]),
        failed=result.failed,
        retransmissions=retransmissions(result.output),
        answer_mean_ms=mean_ms(figures["answer"]),
        answer_p99_ms=pct(figures["answer"], 0.99),
        bridged_mean_ms=mean_ms(figures["agent_to_bridged"]),
        bridged_p99_ms=pct(figures["agent_to_bridged"], 0.99),
        asterisk_cpu_ms_per_call=asterisk_used / count,
        router_cpu_ms_per_call=router_used / count if router_used is not None else None,
        router_handling_p99_ms=handling,
        router_event_lag_p99_ms=lag,
        router_events=events,
        router_rest_p99_ms=rest,
        steal_pct=stolen,
    )


def start_profile(pid: int, rate: float) -> tuple[subprocess.Popen[bytes], Path]:
    """py-spy sampling the router for one step: collapsed stacks, summarised by ``bench.profile``."""
    out = BENCH / "results" / time.strftime(f"profile-{rate:.0f}-%Y%m%d-%H%M%S.txt")
    out.parent.mkdir(exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
               "--nonblocking", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def stop_profile(spy: subprocess.Popen[bytes], out: Path) -> None:
    spy.send_signal(2)  # py-spy writes its file on SIGINT
    spy.wait(timeout=60)
    log(f"router profile: {out} (python -m bench.profile {out})")


@dataclass
class BenchStack:
    info: StackInfo
    stack: Stack
    config: Path
    run_dir: Path

    def router(self, config: Path | None = None) -> RouterProcess:
        return RouterProcess(
            self.info,
            config or self.config,
            self.run_dir / "bench-router.log",
            self.run_dir / "spool",
            TOKEN,
            log_level="WARNING",
        )


@contextlib.contextmanager
def bench_stack(name: str, agents: int, settings: list[str] | None = None) -> Iterator[BenchStack]:
    """A stack of its own (``.run/<name>``) with the reference queue installed
    and one sipp UAS answering every agent after a 600 ms ring."""
    run_dir = REPO / ".run" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    config = bench_config(run_dir, agents, settings)
    stack = Stack(name, config=config, shared_agent_port=True)
    info = stack.up()
    try:
        migrate(info, config)
        agent_port = next(iter(info.agent_ports.values()))
        uas = sipp.Agent(agent_port, calls=1_000_000, ring_ms=600, timeout_s=24 * 3600)
        try:
            install_reference(info, stack)
            yield BenchStack(info, stack, config, run_dir)
        finally:
            uas.stop()
    finally:
        stack.down()


async def bench(
    rates: list[float],
    seconds: float,
    agents: int,
    name: str = "bench",
    profile: bool = False,
    settings: list[str] | None = None,
    repeat: int = 1,
) -> list[PathResult]:
    """Both paths at each rate (each rate ``repeat`` times) on a stack of its own."""
    results: list[PathResult] = []
    with bench_stack(name, agents, settings) as bs:
        async with Observer(bs.info.ari_url, bs.info.ari_user, bs.info.ari_password) as observer:
            for rate in [r for r in rates for _ in range(repeat)]:
                router = bs.router()
                try:
                    router.login_all(list(bs.info.agent_ports))
                    await asyncio.sleep(1)
                    spy = start_profile(router.proc.pid, rate) if profile else None
                    results.append(await run_path("router", rate, seconds, bs.info, observer, router))
                    if spy is not None:
                        stop_profile(*spy)
                finally:
                    router.stop()
                await asyncio.sleep(3)  # the stack idle between runs
                results.append(await run_path("app_queue", rate, seconds, bs.info, observer, None))
                await asyncio.sleep(3)
                log(f"rate {rate:.0f} calls/s done")
    return results


def save(kind: str, figures: dict[str, Any]) -> Path:
    """Raw results as JSON beside the printout, so two runs can be compared."""
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime(f"{kind}-%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps(figures, indent=2))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rates", default="10,20,40,60,70,80", help="calls per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=30, help="seconds of calls per step")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="py-spy the router during its steps")
    parser.add_argument("--repeat", type=int, default=1, help="run each rate this many times (spread)")
    add_set_option(parser)
    parser.add_argument("--smoke", action="store_true", help="a handful of calls at 2 calls/s, 10 agents")
    args = parser.parse_args(argv)
    rates = [2.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    seconds, agents = (3.0, 10) if args.smoke else (args.seconds, args.agents)
    results = asyncio.run(
        bench(rates, seconds, agents, profile=args.profile, settings=args.set, repeat=args.repeat)
    )
    print(table(results) + spread(results))
    path = save("bench", {"rates": rates, "seconds": seconds, "agents": agents, "settings": args.set,
                          "repeat": args.repeat, "results": [asdict(r) for r in results]})  # fmt: skip
    print(f"raw results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
