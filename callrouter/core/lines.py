"""Which line a dialled number (DID) belongs to, and what kind of line it is.

A line lists exact DIDs (``+74951230001``) and Asterisk-style patterns
(``_749512300XX``: X any digit, Z 1-9, N 2-9, ``[1-5]`` a set, ``.`` one or
more, ``!`` zero or more). A leading ``+`` is ignored on both sides, since
carriers differ in sending it. An exact DID beats a pattern; among patterns the
most specific (fewest numbers it could match) wins, as in Asterisk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

_PATTERN_TOKEN = re.compile(r"\[[0-9\-]+\]|[0-9XZN.!]")


class LineKind(StrEnum):
    CLINIC = "clinic"
    HOTLINE = "hotline"
    AMBULANCE = "ambulance"

    @property
    def urgent(self) -> bool:
        """Always open; its callers are never hung up on (no hours, no hang-up overflow)."""
        return self is LineKind.AMBULANCE


class PatternError(ValueError):
    pass


def digits_of(did: str) -> str:
    return did.strip().removeprefix("+")


@dataclass(frozen=True)
class DidPattern:
    text: str
    regex: re.Pattern[str]
    # Asterisk sorts patterns by how many numbers they admit; so do we.
    specificity: tuple[int, ...]

    @property
    def block(self) -> bool:
        """A block of a line's numbers: of one length (no ``.`` or ``!``) with at most
        ``BLOCK_WILDCARDS`` digits open (``_781627003XX``). A pattern open wider
        (``_7XXXXXXXXXX``) says which calls a line takes, not whose numbers they are."""
        open_digits = sum(1 for width in self.specificity if width > 1)
        return self.text.rstrip()[-1:] not in (".", "!") and open_digits <= BLOCK_WILDCARDS

    @classmethod
    def parse(cls, text: str) -> DidPattern:
        body = text.strip().removeprefix("_").removeprefix("+")
        pos, parts, widths = 0, [], []
        while pos < len(body):
            match = _PATTERN_TOKEN.match(body, pos)
            if match is None:
                raise PatternError(f"bad character {body[pos]!r} at position {pos + 1} of pattern {text!r}")
            token = match.group(0)
            pos = match.end()
            if token == ".":
                parts.append(r"\d+")
                widths.append(11)
            elif token == "!":
                parts.append(r"\d*")
                widths.append(12)
            elif token in "XZN":
                parts.append({"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}[token])
                widths.append({"X": 10, "Z": 9, "N": 8}[token])
            elif token.startswith("["):
                parts.append(token)
                widths.append(len(set(_expand(token[1:-1], text))))
            else:
                parts.append(token)
                widths.append(1)
            if token in ".!" and pos != len(body):
                raise PatternError(f"'{token}' must end pattern {text!r}")
        if not parts:
            raise PatternError(f"empty pattern {text!r}")
        return cls(text, re.compile("".join(parts) + r"\Z"), tuple(widths))


def _expand(chars: str, text: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == "-":
            lo, hi = chars[i], chars[i + 2]
            if lo > hi:
                raise PatternError(f"bad range {lo}-{hi} in pattern {text!r}")
            out.extend(str(d) for d in range(int(lo), int(hi) + 1))
            i += 3
        else:
            out.append(chars[i])
            i += 1
    return out


def is_pattern(did: str) -> bool:
    return did.strip().startswith("_")


# A DID block is at most 10,000 numbers: a pattern with more digits open is no block.
BLOCK_WILDCARDS = 4


def in_blocks(digits: str, patterns: Iterable[DidPattern]) -> bool:
    """Whether the number's digits are in a block of a line's numbers among ``patterns``."""
    return any(p.block and p.regex.match(digits) for p in patterns)


class DidDirectory(Generic[T]):
    """Maps dialled numbers to the item (a line) that owns them."""

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        self._exact: dict[str, T] = {}
        self._patterns: list[tuple[DidPattern, T]] = []
        for did, item in entries:
            if is_pattern(did):
                self._patterns.append((DidPattern.parse(did), item))
            else:
                self._exact[digits_of(did)] = item
        self._patterns.sort(key=lambda pair: pair[0].specificity)

    def exact(self, number: str) -> T | None:
        """The item whose own number (not a pattern) this is."""
        return self._exact.get(digits_of(number))

    def owns(self, number: str) -> bool:
        """Whether ``number`` is one of the centre's own: a line's number, or in a block of
        a line's numbers (``_781627003XX``: ``DidPattern.block``). A pattern of open length
        (``_X.``) or a wide one says which calls a line takes, not that every number is the centre's."""
        digits = digits_of(number)
        return digits in self._exact or in_blocks(digits, (p for p, _ in self._patterns))

    def match(self, dialled: str) -> T | None:
        digits = digits_of(dialled)
        if digits in self._exact:
            return self._exact[digits]
        for pattern, item in self._patterns:
            if pattern.regex.match(digits):
                return item
        return None
