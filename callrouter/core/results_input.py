"""Results put in: one item (a CSV row of ``callrouter results import``, an object of
the admin API's ``POST /results``) checked against the configured lines and
languages, as a ``NewNotification`` or the problem of every bad field.

Fields (surrounding spaces ignored; an empty value counts as absent):

- ``external_id``  the sender's id of the result, 1-128 printable characters
- ``phone``        the patient's number; a national one is read in the line's country
                   (one ``+`` at most, before its digits)
- ``secret``       what the callee keys to prove who they are (a date of birth as
                   DDMMYYYY, or a PIN): digits, with ``.``, ``-``, ``/`` or spaces
                   between them, never first or last (``12.03.1980`` is ``12031980``;
                   ``-1234`` is refused), 4 to
                   ``secret_max_digits`` of them
- ``test_type``    what was tested, 1-64 printable characters
- ``result``       negative, positive or inconclusive (any case)
- ``language``     optional, the line's by default; an enabled language
- ``line``         a configured line's name

A problem never quotes the secret, nor the phone number.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from callrouter.core import repeat
from callrouter.core.callback_fit import OWN_NUMBER
from callrouter.core.lines import DidPattern, digits_of, in_blocks
from callrouter.core.numbers import Presentation, normalise
from callrouter.core.results import ResultKind

FIELDS = ("external_id", "phone", "secret", "test_type", "result", "language", "line")
REQUIRED = frozenset(FIELDS) - {"language"}
MAX_EXTERNAL_ID = 128
MAX_TEST_TYPE = 64
MIN_SECRET_DIGITS = 4
# What PostgreSQL's CHECK on notifications.number takes.
E164 = re.compile(r"\+[1-9][0-9]{3,14}")
_SEPARATORS = re.compile(r"[.\-/\s]")
# Digits with separators between them, not before nor after: "-1234" is no PIN of 1234.
_SECRET = re.compile(r"[0-9]+(?:[.\-/\s]+[0-9]+)*")
_INTERNATIONAL = re.compile(r"\s*(\+|00)")
# What a written phone number holds: digits and the marks that group them, nothing else
# (a word, a "@host", a ";user=phone" around the digits is refused, not stripped off).
_PHONE_TEXT = re.compile(r"[+0-9\s().\-/]+")
# One + at most, before the digits ("(+7) 916..."): "++7916..." or "8+916..." is a typo, not read past.
_ONE_PLUS = re.compile(r"[^0-9+]*\+?[^+]*")

Problem = tuple[str, str]  # (field, what is wrong with it)


@dataclass(frozen=True)
class LineTerms:
    """What an item needs of its line: where its national numbers are, what it speaks."""

    country: str  # ISO 3166 alpha-2
    language: str


@dataclass(frozen=True)
class InputRules:
    lines: Mapping[str, LineTerms]  # by line name
    languages: frozenset[str]  # [menu] languages
    secret_max_digits: int = 12
    own_numbers: frozenset[str] = frozenset()  # the lines' own DIDs (digits, no +): never phoned
    own_blocks: tuple[DidPattern, ...] = ()  # nor any number in a block of the lines' (``lines.in_blocks``)
    exclude: tuple[str, ...] = ()  # [repeat] exclude: numbers the centre never phones back


@dataclass(frozen=True)
class NewNotification:
    """A result to phone, as checked; its secret still in clear (the store hashes it)."""

    external_id: str
    number: str  # E.164
    secret: str = field(repr=False)  # digits only
    test_type: str
    result: ResultKind
    language: str
    line: str
    fingerprint: str  # of everything but the secret (``fingerprint``)

    def columns(self) -> dict[str, str]:
        """What is kept of it as it is, by column: all but the secret (kept as a hash)."""
        return {
            "external_id": self.external_id, "number": self.number, "test_type": self.test_type,
            "result": self.result.value, "language": self.language, "line": self.line,
            "fingerprint": self.fingerprint,
        }  # fmt: skip


def fingerprint(external_id: str, number: str, test_type: str, result: str, language: str, line: str) -> str:
    """sha256 (hex) of the canonical JSON of what the result says: the same result put
    in twice has one fingerprint; any change (but the secret's) another."""
    said = {
        "external_id": external_id,
        "number": number,
        "test_type": test_type,
        "result": result,
        "language": language,
        "line": line,
    }
    canonical = json.dumps(said, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def secret_digits(text: str) -> str | None:
    """The digits of a secret written with separators between them (``12.03.1980``,
    ``12 03 1980``, ``12/03/1980``, ``12-03-1980``); None when anything else is in it,
    or a separator comes first or last (``-1234``)."""
    return _SEPARATORS.sub("", text) if _SECRET.fullmatch(text) else None


def read_item(item: Mapping[str, object], rules: InputRules) -> NewNotification | list[Problem]:
    """The item as a notification to put in, or every bad field's problem (in ``FIELDS``'
    order, unknown fields last)."""
    problems: list[Problem] = []
    values: dict[str, str] = {}
    for name in FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append((name, _not_text(name)))
            continue
        if value.strip():
            values[name] = value.strip()
    named = {name for name, _ in problems}
    problems.extend(
        (name, "required") for name in FIELDS if name in REQUIRED and name not in values and name not in named
    )
    problems.extend((str(name), "unknown field") for name in item if name not in FIELDS)
    checked = _checked(values, rules, problems)
    if problems or checked is None:
        return sorted(problems, key=_order)
    return checked


def _checked(values: dict[str, str], rules: InputRules, problems: list[Problem]) -> NewNotification | None:
    external_id = _text(values, "external_id", MAX_EXTERNAL_ID, problems)
    test_type = _text(values, "test_type", MAX_TEST_TYPE, problems)
    result = _result(values, problems)
    line_name = values.get("line", "").lower()
    terms = rules.lines.get(line_name)
    if "line" in values and terms is None:
        problems.append(("line", f"unknown organisation/line {_quoted(values['line'])}"))
    language = _language(values, terms, rules, problems)
    number = _number(values, terms, rules, problems)
    secret = _secret(values, rules, problems)
    if (
        problems or external_id is None or test_type is None or result is None or language is None
        or number is None or secret is None
    ):  # fmt: skip
        return None
    said = fingerprint(external_id, number, test_type, result.value, language, line_name)
    return NewNotification(external_id, number, secret, test_type, result, language, line_name, said)


def _text(values: dict[str, str], name: str, longest: int, problems: list[Problem]) -> str | None:
    text = values.get(name)
    if text is None:
        return None
    if len(text) > longest or not text.isprintable():
        problems.append((name, f"must be 1-{longest} printable characters"))
        return None
    return text


def _result(values: dict[str, str], problems: list[Problem]) -> ResultKind | None:
    if "result" not in values:
        return None
    try:
        return ResultKind(values["result"].lower())
    except ValueError:
        problems.append(("result", f"must be one of {', '.join(kind.value for kind in ResultKind)}"))
        return None


def _language(
    values: dict[str, str], terms: LineTerms | None, rules: InputRules, problems: list[Problem]
) -> str | None:
    given = values.get("language")
    if given is None and terms is None:
        return None
    language = given.lower() if given is not None else terms.language if terms else ""
    if language not in rules.languages:
        enabled = ", ".join(sorted(rules.languages))
        whose = "" if given is not None else "the line's language "
        problems.append(
            ("language", f"{whose}{_quoted(language)} is not enabled ([menu] languages: {enabled})")
        )
        return None
    return language


def _number(
    values: dict[str, str], terms: LineTerms | None, rules: InputRules, problems: list[Problem]
) -> str | None:
    phone = values.get("phone")
    if phone is None:
        return None
    if not _PHONE_TEXT.fullmatch(phone):
        problems.append(("phone", "not a phone number (digits, spaces and + ( ) - . / only)"))
        return None
    if not _ONE_PLUS.fullmatch(phone):
        problems.append(("phone", "not a phone number (one + at most, before its digits)"))
        return None
    international = _INTERNATIONAL.match(phone) is not None
    if terms is None and not international:
        return None  # a national number of an unknown line: the line's problem only
    number = normalise(phone, terms.country if terms else "ZZ")
    if number.presentation is not Presentation.NUMBER or not number.e164 or not E164.fullmatch(number.e164):
        where = "" if international or terms is None else f" (national numbers are read as {terms.country})"
        problems.append(("phone", f"not a phone number{where}"))
        return None
    digits = digits_of(number.e164)
    if digits in rules.own_numbers or in_blocks(digits, rules.own_blocks):
        problems.append(("phone", f"{OWN_NUMBER}: the call would ring the centre"))
        return None
    if repeat.excluded(rules.exclude, number.e164):
        problems.append(("phone", "excluded from calls out ([repeat] exclude)"))
        return None
    return number.e164


def _secret(values: dict[str, str], rules: InputRules, problems: list[Problem]) -> str | None:
    text = values.get("secret")
    if text is None:
        return None
    digits = secret_digits(text)
    if digits is None:
        problems.append(("secret", "only digits, with . - / or spaces between them"))
        return None
    if not MIN_SECRET_DIGITS <= len(digits) <= rules.secret_max_digits:
        problems.append(("secret", f"must be {MIN_SECRET_DIGITS} to {rules.secret_max_digits} digits"))
        return None
    return digits


def _not_text(name: str) -> str:
    if name in ("secret", "phone"):
        return "must be a string (as a number it would lose its leading zeros)"
    return "must be a string"


def _quoted(text: str, longest: int = 64) -> str:
    """A value a person sent, safe to print: quoted, escaped, cut short."""
    return repr(text if len(text) <= longest else text[:longest] + "...")


def _order(problem: Problem) -> tuple[int, str]:
    name = problem[0]
    return (FIELDS.index(name) if name in FIELDS else len(FIELDS), name)
