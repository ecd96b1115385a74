"""One step well past capacity, on both paths: what callers get, and what is left.

    python -m bench.overload [--rate 120] [--seconds 30] [--linger 120]

The same callers as the rate steps (key the menu, hang up about 3 s after the
answer) at a rate well past where either path is clean. Prints what the
callers got (connected to an agent, failed, SIP retransmissions) and, for the
router, how its records ended; then waits ``linger`` seconds after the last
call and counts the channels Asterisk still has up. None may remain: a call
whose parties are gone must have been cleared (the router's guards: its
maximum call duration and the periodic check against Asterisk's channels).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import aiohttp
import asyncpg

from bench.figures import PathResult
from bench.figures import table as rate_table
from bench.observer import Observer
from bench.run import BenchStack, add_set_option, bench_stack, run_path, save
from devstack.stack import StackInfo
from devstack.util import log


@dataclass
class OverloadResult:
    step: PathResult
    left_after_linger: int  # channels still up in Asterisk
    outcomes: dict[str, int] = field(default_factory=dict)  # router records of the step, by outcome


async def channels_up(info: StackInfo) -> int:
    headers = {"Authorization": aiohttp.encode_basic_auth(info.ari_user, info.ari_password)}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{info.ari_url.rstrip('/')}/ari/channels") as response,
    ):
        response.raise_for_status()
        return len(await response.json())


async def outcomes_since(info: StackInfo, since: datetime) -> dict[str, int]:
    conn = await asyncpg.connect(info.dsn(), password=info.pg_password)
    try:
        rows = await conn.fetch(
            "SELECT coalesce(outcome, 'open') AS outcome, count(*) AS n FROM calls"
            " WHERE started_at >= $1 GROUP BY 1 ORDER BY 2 DESC",
            since,
        )
    finally:
        await conn.close()
    return {str(r["outcome"]): int(r["n"]) for r in rows}


async def overload_path(
    bs: BenchStack, path: str, rate: float, seconds: float, linger: float, observer: Observer
) -> OverloadResult:
    since = datetime.now(UTC)
    router = bs.router() if path == "router" else None
    try:
        if router is not None:
            router.login_all(list(bs.info.agent_ports))
            await asyncio.sleep(1)
        step = await run_path(path, rate, seconds, bs.info, observer, router, patience=60)
        log(f"{path}: the last call is over; {linger:.0f} s until the count")
        await asyncio.sleep(linger)
        left = await channels_up(bs.info)
        outcomes = await outcomes_since(bs.info, since) if router is not None else {}
    finally:
        if router is not None:
            router.stop()
    return OverloadResult(step, left, outcomes)


def report(results: list[OverloadResult], linger: float) -> str:
    lines = [rate_table([r.step for r in results]), ""]
    for r in results:
        lines.append(f"{r.step.path}: {r.left_after_linger} channels still up {linger:.0f} s after the step")
        if r.outcomes:
            ended = ", ".join(f"{name} {n}" for name, n in r.outcomes.items())
            lines.append(f"{r.step.path}: the router's records of the step: {ended}")
    return "\n".join(lines)


async def overload(
    rate: float, seconds: float, linger: float, agents: int, settings: list[str] | None = None
) -> list[OverloadResult]:
    results: list[OverloadResult] = []
    with bench_stack("bench", agents, settings) as bs:
        async with Observer(bs.info.ari_url, bs.info.ari_user, bs.info.ari_password) as observer:
            for path in ("router", "app_queue"):
                results.append(await overload_path(bs, path, rate, seconds, linger, observer))
                for _ in range(60):  # the next path starts on an idle stack
                    if await channels_up(bs.info) == 0:
                        break
                    await asyncio.sleep(2)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rate", type=float, default=120, help="calls per second, well past capacity")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--linger", type=float, default=120, help="seconds after the step until the count")
    parser.add_argument("--agents", type=int, default=500)
    add_set_option(parser)
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = asyncio.run(overload(args.rate, args.seconds, args.linger, args.agents, args.set))
    print(report(results, args.linger))
    path = save("overload", {"rate": args.rate, "seconds": args.seconds, "linger": args.linger,
                             "settings": args.set, "results": [asdict(r) for r in results]})  # fmt: skip
    print(f"raw results: {path} ({time.monotonic() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
