"""The callee's secret (a date of birth as DDMMYYYY, or a PIN) kept only as an
argon2id hash: a PHC string (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``).

Hashing is slow by design, so it never runs on the event loop: ``hash_secrets``
and ``verify_secrets`` hand whole batches to threads (argon2 releases the GIL
while it works, so ``threads`` threads use that many cores). A secret is never
logged, never put in an exception and never returned.

The parameters are what a PHC string records: a hash made with other ones (an
older release's) still verifies. They are one of OWASP's equivalent argon2id
settings (12 MiB, 3 passes, 1 lane): on the 2-core dev VM one hash took 19 ms
on one core and 5,000 took 54 s on both (``callrouter results import`` hashes
on every core; the router on one, leaving the other to the calls).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error

MEMORY_KIB = 12 * 1024
TIME_COST = 3
PARALLELISM = 1
HASH_BYTES = 32
SALT_BYTES = 16

_DIGITS = re.compile(r"[0-9]+")
_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_BYTES,
    salt_len=SALT_BYTES,
    type=Type.ID,
)


def hash_secret(digits: str) -> str:
    """The argon2id PHC string of ``digits`` (a fresh salt each time); ValueError
    for anything but ASCII digits (the value is not in the message)."""
    if not _DIGITS.fullmatch(digits):
        raise ValueError("a secret is ASCII digits only")
    return _HASHER.hash(digits)


def verify_secret(phc: str, digits: str) -> bool:
    """Whether ``digits`` is the secret ``phc`` was made of (libargon2 compares in
    constant time); False on any error: a malformed or foreign hash, non-digits."""
    if not _DIGITS.fullmatch(digits):
        return False
    try:
        return _HASHER.verify(phc, digits)
    except (Argon2Error, ValueError, TypeError):
        return False


def _chunks(count: int, threads: int) -> list[range]:
    size = -(-count // max(1, threads))
    return [range(start, min(start + size, count)) for start in range(0, count, size or 1)]


async def hash_secrets(secrets: Sequence[str], threads: int = 1) -> list[str]:
    """Each secret's hash, in order, made in ``threads`` worker threads."""

    def some(part: range) -> list[str]:
        return [hash_secret(secrets[i]) for i in part]

    parts = await asyncio.gather(*(asyncio.to_thread(some, part) for part in _chunks(len(secrets), threads)))
    return [phc for part in parts for phc in part]


async def verify_secrets(pairs: Sequence[tuple[str, str]], threads: int = 1) -> list[bool]:
    """``verify_secret(phc, digits)`` of each pair, in order, in ``threads`` worker threads."""

    def some(part: range) -> list[bool]:
        return [verify_secret(*pairs[i]) for i in part]

    parts = await asyncio.gather(*(asyncio.to_thread(some, part) for part in _chunks(len(pairs), threads)))
    return [ok for part in parts for ok in part]
