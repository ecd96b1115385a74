"""Caller numbers: normalised to E.164, withheld numbers kept withheld, masked for logs.

A caller who asked for privacy (SIP ``Privacy: id``, or an anonymous From with a
P-Asserted-Identity; Asterisk's presentation "prohib...") is withheld, even
though the network told us the number: that number is kept apart as
``asserted``, never as the call's number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import phonenumbers

from callrouter.core.evolve import quick_init
from callrouter.core.learnt import Learnt

WITHHELD_WORDS = frozenset({"", "anonymous", "unknown", "restricted", "private", "withheld", "unavailable"})
_DIGITS = re.compile(r"[^0-9+]")


class Presentation(StrEnum):
    NUMBER = "number"  # a number normalised to E.164
    WITHHELD = "withheld"  # the caller hid it, or the network sent none
    UNPARSEABLE = "unparseable"  # something came, but not a phone number


@quick_init
@dataclass(frozen=True)
class CallerNumber:
    e164: str | None  # None: withheld or unparseable (``presentation`` says which)
    presentation: Presentation
    # For a caller who withheld their number: the E.164 number the network
    # asserted anyway, only for recognising a repeat caller where the config
    # allows. Never stored as the call's number, logged, shown or returned.
    asserted: str | None = field(default=None, repr=False)

    @property
    def masked(self) -> str:
        return mask(self.e164) if self.e164 else self.presentation.value


def is_restricted(presentation: str | None) -> bool:
    """Whether Asterisk's caller presentation (``CALLERID(pres)``: ``allowed_not_screened``,
    ``prohib_not_screened``, ``unavailable``...) keeps the number from being shown.
    Only an ``allowed...`` one shows it; none given (an older dialplan) counts as allowed."""
    text = (presentation or "").strip().lower()
    return bool(text) and not text.startswith("allowed")


def normalise(raw: str | None, country: str, *, restricted: bool = False) -> CallerNumber:
    """Normalise what the network sent as the caller's number.

    ``country`` (ISO 3166 alpha-2) is the line's country, used for national
    formats such as ``8 495 ...`` or ``0 20 ...``. ``restricted``: the caller
    asked for their number not to be shown (``is_restricted``); they are
    withheld, and the number (if it is one) is only ``asserted``.
    """
    number = NORMALISED.get((raw, country)) or _normalise(raw, country)
    if not restricted:
        return number
    return CallerNumber(None, Presentation.WITHHELD, asserted=number.e164)


# Numbers normalised ahead of time, by another process (``core.learnt``), by what came
# and the line's country.
NORMALISED: Learnt[tuple[str | None, str], CallerNumber] = Learnt()


def _normalise(raw: str | None, country: str) -> CallerNumber:
    text = (raw or "").strip()
    if text.lower() in WITHHELD_WORDS:
        return CallerNumber(None, Presentation.WITHHELD)
    if any(c.isalpha() or (c.isdigit() and not c.isascii()) for c in text):
        # A SIP user name or words, not a number (its digits are no one's); or digits of
        # another script (Arabic-Indic, full-width): no network sends a caller's number so.
        return CallerNumber(None, Presentation.UNPARSEABLE)
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
