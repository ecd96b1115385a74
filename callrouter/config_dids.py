"""Two lines whose DID patterns can match the same number and are as specific as
each other: refused by the config.

``core.lines`` settles a number that is a line's exact DID and also in another
line's pattern: the exact DID wins, plainly. A number two lines' patterns both
take goes to the more specific pattern, position by position, as in Asterisk:
``_7495X.`` for a line and ``_74951XXXXXX`` carved out of it for another is
how an Asterisk admin writes it, and taken. Only a tie (``_7495[1-2]XXXXXX`` and
``_7495[2-3]XXXXXX``) would leave it to the file's order, which nobody reading
the file sees: refused, to be written as patterns that do not overlap, or one
more specific. Patterns of one line may overlap: they lead to it alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callrouter.core.lines import DidPattern, digits_of, is_pattern

if TYPE_CHECKING:  # config_checks runs these rules with its own
    from callrouter.config_checks import Item

DIGITS = "0123456789"
WILD = {"X": DIGITS, "Z": DIGITS[1:], "N": DIGITS[2:]}
_TOKEN = re.compile(r"\[([0-9\-]+)\]|([0-9XZN])")


@dataclass(frozen=True)
class Shape:
    """A pattern as the digits each position takes, and its open end: ``.`` one or
    more digits more, ``!`` any number of them, ``""`` none."""

    positions: tuple[str, ...]
    tail: str

    @classmethod
    def of(cls, text: str) -> Shape:
        """Of a pattern the config took (``Line``'s check parsed it already)."""
        body = text.strip().removeprefix("_").removeprefix("+")
        tail = body[-1] if body[-1:] in (".", "!") else ""
        tokens = _TOKEN.findall(body.removesuffix(tail))
        return cls(tuple(_set(chars) if chars else WILD.get(one, one) for chars, one in tokens), tail)

    def lengths(self) -> tuple[int, float]:
        """The fewest and the most digits of a number it matches."""
        fixed = len(self.positions)
        return (
            (fixed + 1, float("inf")) if self.tail == "." else (fixed, float("inf") if self.tail else fixed)
        )

    def at(self, i: int) -> str:
        return self.positions[i] if i < len(self.positions) else DIGITS


def _set(chars: str) -> str:
    """The digits of a ``[...]`` set, its ranges (``1-5``) spread out."""
    found = set(chars)
    for lo, hi in re.findall(r"([0-9])-([0-9])", chars):
        found |= {str(d) for d in range(int(lo), int(hi) + 1)}
    return "".join(sorted(found & set(DIGITS)))


def common_number(a: Shape, b: Shape) -> str | None:
    """The smallest number both match (digits), or None when none does."""
    (lo_a, hi_a), (lo_b, hi_b) = a.lengths(), b.lengths()
    length = max(lo_a, lo_b)  # the shortest common length constrains the fewest positions
    if length > min(hi_a, hi_b):
        return None
    digits = []
    for i in range(length):
        both = sorted(set(a.at(i)) & set(b.at(i)))
        if not both:
            return None
        digits.append(both[0])
    return "".join(digits)


def overlaps(lines: Sequence[Item]) -> Iterator[str]:
    """Each pattern that can take a number a pattern of an earlier line takes, and is as
    specific as that one (the file's order would decide), named by both keys."""
    seen: list[tuple[Item, str, Shape]] = []  # (its line, the pattern, its shape)
    for line in lines:
        mine = [(did, Shape.of(did)) for did in line.get("dids") or [] if is_pattern(did)]
        for did, shape in mine:
            for other, other_did, other_shape in seen:
                number = common_number(shape, other_shape)
                said = digits_of(did) == digits_of(other_did)  # the same text: "on both lines" says it
                if number is not None and not said and _tie(did, other_did):
                    yield (
                        f"{line.path}.dids: pattern {did} (line {line.label()}) and pattern {other_did} of "
                        f"{other.path}.dids (line {other.label()}) both match {number} and are as specific "
                        "as each other: which line takes such a call would be the file's order; make them "
                        "disjoint, or one more specific (the more specific pattern wins, as in Asterisk; "
                        "an exact DID wins over any pattern)"
                    )
        seen.extend((line, did, shape) for did, shape in mine)


def _tie(a: str, b: str) -> bool:
    """Whether neither pattern is more specific than the other (``core.lines`` sorts them
    by ``DidPattern.specificity``: a tie goes by the file's order)."""
    return DidPattern.parse(a).specificity == DidPattern.parse(b).specificity
