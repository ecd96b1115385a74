"""The pepper results secrets are hashed under (``CALLROUTER_RESULTS_PEPPER``): the
key each secret is run through (HMAC-SHA256) before argon2id hashes it
(``secrets_hash``). Standard library only, so the config can check one without
the hashing's threads."""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field

PEPPER_MIN_CHARS = 16
ID_SALT = b"callrouter results pepper id"


@dataclass(frozen=True)
class Pepper:
    """The key every secret is run through (HMAC-SHA256) before it is hashed."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) < PEPPER_MIN_CHARS:
            raise ValueError(f"a pepper is at least {PEPPER_MIN_CHARS} characters")

    @classmethod
    def of(cls, text: str | None) -> Pepper | None:
        return cls(text.encode()) if text else None

    @functools.cached_property
    def id(self) -> str:
        """What a stored hash names its pepper by: 32 bits of scrypt (16 MiB) of it, made
        once. A fast hash here would let a copy of the database try guesses at a weak
        pepper cheaply; this costs a guess about what an argon2id check of a secret does."""
        return hashlib.scrypt(self.key, salt=ID_SALT, n=2**14, r=8, p=1, dklen=4).hex()

    def mix(self, digits: str) -> str:
        return hmac.new(self.key, digits.encode(), hashlib.sha256).hexdigest()


# Said wherever results secrets are hashed without a pepper (the router at start, the import).
NO_PEPPER = (
    "results secrets are hashed without a pepper: a copy of the database alone is "
    "enough to try every date of birth (set CALLROUTER_RESULTS_PEPPER)"
)
