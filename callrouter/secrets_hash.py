"""The callee's secret (a date of birth as DDMMYYYY, or a PIN) kept only as an
argon2id hash: a PHC string (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``).

Hashing is slow by design, so it never runs on the event loop: ``hash_secrets``
and ``verify_secrets`` hand whole batches to threads (argon2 releases the GIL
while it works, so ``threads`` threads use that many cores). A secret is never
logged, never put in an exception and never returned.

A pepper (``CALLROUTER_RESULTS_PEPPER``, never in the file nor in the database)
makes a copy of the database alone useless: a date of birth has some 36,500
values, which a stolen hash gives up in minutes, but a peppered one is the
argon2id of the secret's HMAC under the pepper, and cannot be tried without it.
A peppered hash is stored as ``$callrouter-pepper$<pepper id>`` before its PHC
string (the id: 8 hex digits of scrypt of the pepper, never the pepper), so a
hash made under another pepper, or none, is told apart: it verifies nothing
under another pepper (said in the log, without the secret), and one made before
a pepper was configured still verifies as it was made.

The parameters are what a PHC string records: a hash made with other ones (an
older release's) still verifies. They are one of OWASP's equivalent argon2id
settings (12 MiB, 3 passes, 1 lane): on the 2-core dev VM one hash took 19 ms
on one core and 5,000 took 54 s on both (``callrouter results import`` hashes
on every core; the router on one, leaving the other to the calls).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error

from callrouter.secrets_pepper import Pepper

MEMORY_KIB = 12 * 1024
TIME_COST = 3
PARALLELISM = 1
HASH_BYTES = 32
SALT_BYTES = 16

_DIGITS = re.compile(r"[0-9]+")
PEPPER_TAG = "$callrouter-pepper$"
_PEPPERED = re.compile(r"\$callrouter-pepper\$([0-9a-f]{8})(\$argon2.*)", re.DOTALL)
log = logging.getLogger(__name__)
_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_BYTES,
    salt_len=SALT_BYTES,
    type=Type.ID,
)


def hash_secret(digits: str, pepper: Pepper | None = None) -> str:
    """The argon2id PHC string of ``digits`` (a fresh salt each time), under ``pepper``
    if given; ValueError for anything but ASCII digits (the value is not in the message)."""
    if not _DIGITS.fullmatch(digits):
        raise ValueError("a secret is ASCII digits only")
    if pepper is None:
        return _HASHER.hash(digits)
    return f"{PEPPER_TAG}{pepper.id}{_HASHER.hash(pepper.mix(digits))}"


def verify_secret(stored: str, digits: str, pepper: Pepper | None = None) -> bool:
    """Whether ``digits`` is the secret ``stored`` was made of (libargon2 compares in
    constant time); False on any error: a malformed or foreign hash, non-digits, a
    hash made under another pepper than ``pepper`` (or under one, with none given)."""
    if not _DIGITS.fullmatch(digits):
        return False
    phc, text = stored, digits
    if stored.startswith(PEPPER_TAG):
        match = _PEPPERED.fullmatch(stored)
        if match is None:
            return False
        if pepper is None or pepper.id != match.group(1):
            log.warning(
                "a results secret was hashed under pepper %s, but %s: it can never match "
                "(set CALLROUTER_RESULTS_PEPPER to the pepper it was put in with)",
                match.group(1),
                f"the pepper configured is {pepper.id}" if pepper else "no pepper is configured",
            )
            return False
        phc, text = match.group(2), pepper.mix(digits)
    try:
        return _HASHER.verify(phc, text)
    except (Argon2Error, ValueError, TypeError):
        return False


def _chunks(count: int, threads: int) -> list[range]:
    size = -(-count // max(1, threads))
    return [range(start, min(start + size, count)) for start in range(0, count, size or 1)]


async def hash_secrets(secrets: Sequence[str], threads: int = 1, pepper: Pepper | None = None) -> list[str]:
    """Each secret's hash, in order, made in ``threads`` worker threads."""

    def some(part: range) -> list[str]:
        return [hash_secret(secrets[i], pepper) for i in part]

    parts = await asyncio.gather(*(asyncio.to_thread(some, part) for part in _chunks(len(secrets), threads)))
    return [phc for part in parts for phc in part]


async def verify_secrets(
    pairs: Sequence[tuple[str, str]], threads: int = 1, pepper: Pepper | None = None
) -> list[bool]:
    """``verify_secret(stored, digits, pepper)`` of each pair, in order, in ``threads`` worker threads."""

    def some(part: range) -> list[bool]:
        return [verify_secret(*pairs[i], pepper) for i in part]

    parts = await asyncio.gather(*(asyncio.to_thread(some, part) for part in _chunks(len(pairs), threads)))
    return [ok for part in parts for ok in part]
