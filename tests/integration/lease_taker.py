"""One router of the lease race in test_leases.py, as its own OS process.

``python -m tests.integration.lease_taker DSN HOLDER take|due``, the password in
CALLROUTER_DATABASE_PASSWORD. Reads the callback ids (a JSON list) from stdin,
opens its connections, says ``ready``, waits for ``go``, then takes the leases
(``take``: each id, all at once, in an order of its own; ``due``: ``take_due``
until none is left) and prints the ids it won as a JSON list.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import uuid

from callrouter.store.leases import CallbackLeases

LEASE_SECONDS = 300.0


async def race(dsn: str, holder: str, mode: str) -> list[str]:
    ids = json.loads(sys.stdin.readline())
    leases = CallbackLeases(dsn, os.environ["CALLROUTER_DATABASE_PASSWORD"], timeout=60)
    try:
        # Both pooled connections open and the statement ready before the start: the race is
        # the leases', not the logins'. (No callback has a fresh random id.)
        await asyncio.gather(*(leases.take(str(uuid.uuid4()), holder, 1) for _ in range(2)))
        print("ready", flush=True)
        sys.stdin.readline()
        if mode == "take":  # each in its own order: they meet all along the list
            random.Random(holder).shuffle(ids)
            taken = await asyncio.gather(*(leases.take(i, holder, LEASE_SECONDS) for i in ids))
            return [i for i, won in zip(ids, taken, strict=True) if won]
        won: list[str] = []
        while batch := await leases.take_due(holder, 7, LEASE_SECONDS):
            won += batch
        return won
    finally:
        await leases.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(race(*sys.argv[1:4]))), flush=True)
