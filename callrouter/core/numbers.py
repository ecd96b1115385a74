"""Caller numbers: normalised to E.164, withheld numbers kept withheld, masked for logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

WITHHELD_WORDS = frozenset({"", "anonymous", "unknown", "restricted", "private", "withheld", "unavailable"})
_DIGITS = re.compile(r"[^\d+]")


class Presentation(StrEnum):
    NUMBER = "number"  # a number normalised to E.164
    WITHHELD = "withheld"  # the caller hid it, or the network sent none
    UNPARSEABLE = "unparseable"  # something came, but not a phone number


@dataclass(frozen=True)
class CallerNumber:
    e164: str | None
    presentation: Presentation

    @property
    def masked(self) -> str:
        return mask(self.e164) if self.e164 else self.presentation.value


def normalise(raw: str | None, country: str) -> CallerNumber:
    """Normalise what the network sent as the caller's number.

    ``country`` (ISO 3166 alpha-2) is the line's country, used for national
    formats such as ``8 495 ...`` or ``0 20 ...``.
    """
    text = (raw or "").strip()
    if text.lower() in WITHHELD_WORDS:
        return CallerNumber(None, Presentation.WITHHELD)
    cleaned = _DIGITS.sub("", text)
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned.strip("+"):
        return CallerNumber(None, Presentation.UNPARSEABLE)
    try:
        parsed = phonenumbers.parse(cleaned, country.upper())
    except phonenumbers.NumberParseException:
        return CallerNumber(None, Presentation.UNPARSEABLE)
    if not phonenumbers.is_possible_number(parsed):
        return CallerNumber(None, Presentation.UNPARSEABLE)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > 16:  # E.164 allows 15 digits; libphonenumber's "possible" can exceed it
        return CallerNumber(None, Presentation.UNPARSEABLE)
    return CallerNumber(e164, Presentation.NUMBER)


def mask(number: str) -> str:
    """Keep the first three characters and the last two: ``+74*******67``."""
    if len(number) <= 5:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


# A phone number standing alone in text: 7-15 digits, maybe after "+", not part
# of a channel id ("1732312345.12"), a UUID or another word.
_LONE_NUMBER = re.compile(r"(?<![\w.\-])\+?\d{7,15}(?![\w\-]|\.\d)")


def mask_text(text: str) -> str:
    """Mask every phone-number-like token in free text (log lines)."""
    return _LONE_NUMBER.sub(lambda match: mask(match.group(0)), text)
