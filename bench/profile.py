"""Summarise a py-spy raw profile (collapsed stacks): where the router's time goes.

    python -m bench.profile bench/results/profile-40-....txt [--top 25]

Prints the share of samples per leaf-most frame in our own code and per
library (aiohttp, pydantic, asyncpg, logging, asyncio, ...), so a change's
effect on the hot spots reads as a few lines.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

LIBRARIES = ("aiohttp", "yarl", "multidict", "pydantic", "asyncpg", "prometheus_client", "logging",
             "json", "asyncio", "selectors", "ssl", "socket", "phonenumbers")  # fmt: skip


def frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def library(frame: str) -> str | None:
    """'func (path/to/file.py:12)' -> the library it belongs to, if any."""
    match = re.search(r"\((.*?):\d+\)", frame)
    path = match.group(1) if match else frame
    for name in LIBRARIES:
        if re.search(rf"(^|/|<frozen ){name}(/|\.py|>)", path):
            return name
    return None


def summarise(text: str, top: int) -> str:
    total = 0
    ours: Counter[str] = Counter()  # innermost frame of callrouter's own code
    libs: Counter[str] = Counter()  # the library the sample ended in
    inclusive: Counter[str] = Counter()  # callrouter functions on the stack at all
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        parts = frames(stack)
        own = [f for f in parts if "callrouter/" in f]
        if own:
            ours[re.sub(r":\d+\)", ")", own[-1])] += count
        for name in {re.sub(r":\d+\)", ")", f) for f in own}:
            inclusive[name] += count
        leaf = parts[-1] if parts else ""
        libs[library(leaf) or ("callrouter" if "callrouter/" in leaf else "other")] += count
    if total == 0:
        return "no samples"
    out = [f"{total} samples"]
    out.append("\nwhere samples ended, by library:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in libs.most_common()]
    out.append(f"\ncallrouter functions on the stack (inclusive), top {top}:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    out.append(f"\ninnermost callrouter frame, top {top}:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in ours.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summarise(args.profile.read_text(), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
