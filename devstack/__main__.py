"""python -m devstack up|down|status|prompts|cli [NAME]"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from devstack import prompts
from devstack.stack import Stack


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "prompts", "cli", "env"])
    parser.add_argument(
        "--name", default="dev", help="stack name (.run/NAME; PostgreSQL in /var/lib/callrouter-dev/*-NAME)"
    )
    parser.add_argument("rest", nargs="*", help="for cli: the Asterisk CLI command")
    args = parser.parse_args()
    stack = Stack(args.name)
    if args.command == "up":
        stack.up()
    elif args.command == "down":
        stack.down()
    elif args.command == "status":
        info = stack.load()
        shown = {k: v for k, v in asdict(info).items() if "password" not in k} if info else None
        print(json.dumps(shown, indent=2))
    elif args.command == "env":
        info = stack.load()
        if info is None:
            print("stack is not up", file=sys.stderr)
            return 1
        for key, value in info.env().items():
            print(f"export {key}='{value}'")
    elif args.command == "prompts":
        prompts.build(Path(__file__).resolve().parent.parent)
    elif args.command == "cli":
        print(stack.asterisk_cli(" ".join(args.rest)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
