"""The pepper results secrets are hashed under (``CALLROUTER_RESULTS_PEPPER``): the
key each secret is run through (HMAC-SHA256) before argon2id hashes it
(``secrets_hash``). Standard library only, so the config can check one without
the hashing's threads."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

PEPPER_MIN_CHARS = 16


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

    @property
    def id(self) -> str:
        """What a stored hash names its pepper by: tells peppers apart, gives none away."""
        return hashlib.sha256(b"callrouter results pepper id\0" + self.key).hexdigest()[:8]

    def mix(self, digits: str) -> str:
        return hmac.new(self.key, digits.encode(), hashlib.sha256).hexdigest()
