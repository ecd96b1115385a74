"""Results put in, item by item: every field's refusal named, secrets read through
their separators, and a fingerprint that says what the result says (never the secret)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core.lines import DidPattern
from callrouter.core.results import ResultKind
from callrouter.core.results_input import (
    FIELDS,
    InputRules,
    LineTerms,
    NewNotification,
    fingerprint,
    read_item,
    secret_digits,
)

RULES = InputRules(
    lines={"clinic-central": LineTerms("RU", "ru"), "lab-london": LineTerms("GB", "en"),
           "clinic-tatar": LineTerms("RU", "tt")},
    languages=frozenset({"ru", "en"}),
    secret_max_digits=8,
)  # fmt: skip
GOOD = {
    "external_id": "LAB-2026-000123",
    "phone": "8 916 555-01-23",
    "secret": "12.03.1980",
    "test_type": "PCR SARS-CoV-2",
    "result": "Negative",
    "line": "clinic-central",
}


def problems_of(item: dict[str, object], rules: InputRules = RULES) -> list[tuple[str, str]]:
    checked = read_item(item, rules)
    assert isinstance(checked, list), checked
    return checked


def test_a_good_item_is_a_notification_in_the_lines_country_and_language() -> None:
    checked = read_item(GOOD, RULES)
    assert isinstance(checked, NewNotification)
    assert checked.number == "+79165550123"
    assert checked.secret == "12031980"
    assert checked.result is ResultKind.NEGATIVE
    assert (checked.language, checked.line, checked.test_type) == ("ru", "clinic-central", "PCR SARS-CoV-2")
    assert checked.fingerprint == fingerprint(
        "LAB-2026-000123", "+79165550123", "PCR SARS-CoV-2", "negative", "ru", "clinic-central"
    )
    assert "12031980" not in repr(checked), "a notification logged by mistake shows no secret"


def test_a_national_number_is_read_in_its_lines_country_an_international_one_anywhere() -> None:
    london = read_item({**GOOD, "phone": "020 7946 0958", "line": "lab-london"}, RULES)
    assert isinstance(london, NewNotification) and london.number == "+442079460958"
    assert london.language == "en", "the line's language"
    abroad = read_item({**GOOD, "phone": "+44 20 7946 0958"}, RULES)
    assert isinstance(abroad, NewNotification) and abroad.number == "+442079460958"
    chosen = read_item({**GOOD, "language": " EN "}, RULES)
    assert isinstance(chosen, NewNotification) and chosen.language == "en"


NOT_A_NUMBER = "not a phone number (national numbers are read as RU)"
NOT_TEXT = "not a phone number (digits, spaces and + ( ) - . / only)"
A_STRING = "must be a string (as a number it would lose its leading zeros)"
DIGITS = "only digits, with . - / or spaces between them"
ONE_PLUS = "not a phone number (one + at most, before its digits)"
PRINTABLE_128 = "must be 1-128 printable characters"
# A field, what it was given, and what is said of it (None: accepted).
BAD: dict[str, list[tuple[object, str | None]]] = {
    "external_id": [("x" * 129, PRINTABLE_128), ("a\tb", PRINTABLE_128), ("", "required")],
    "phone": [("12", NOT_A_NUMBER), ("anonymous", NOT_TEXT), ("+0 123", "not a phone number"),
              (89165550123, A_STRING), ("  ", "required"), ("hello 9161234567", NOT_TEXT),
              ("9161234567 (mother)", NOT_TEXT), ("+79161234567@evil.example", NOT_TEXT),
              ("+79161234567;user=phone", NOT_TEXT), ("+7 (916) 123-45.67", None), ("8/916/1234567", None),
              ("++79161234567", ONE_PLUS), ("+7 +916 1234567", ONE_PLUS), ("8+9161234567", ONE_PLUS),
              ("(+7) 916 123-45-67", None)],
    "secret": [("123", "must be 4 to 8 digits"), ("1234567890", "must be 4 to 8 digits"), ("12a4", DIGITS),
               ("١٢٣٤", DIGITS), (12031980, A_STRING), (None, "required"), ("-1234", DIGITS),
               ("1234-", DIGITS), ("..1234", DIGITS), ("12 / 03 / 1980", None)],
    # surrounding whitespace is no part of a field: "PCR\n" is accepted
    "test_type": [("t" * 65, "must be 1-64 printable characters"), ("PCR\n", None),
                  ("PCR\nSARS", "must be 1-64 printable characters")],
    "result": [("maybe", "must be one of negative, positive, inconclusive"), (True, "must be a string")],
    "language": [("de", "'de' is not enabled ([menu] languages: en, ru)")],
    "line": [("moon", "unknown organisation/line 'moon'"), ("", "required")],
}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [(field, value, message) for field, cases in BAD.items() for value, message in cases],
)
def test_each_bad_field_is_named_with_what_is_wrong(field: str, value: object, message: str | None) -> None:
    item = {**GOOD, field: value}
    if message is None:
        assert isinstance(read_item(item, RULES), NewNotification)
        return
    assert problems_of(item) == [(field, message)]


def test_every_bad_field_is_named_at_once_unknown_ones_last_and_no_value_is_quoted() -> None:
    item = {"phone": "12", "secret": "98x", "result": "maybe", "line": "clinic-central", "dob": "1", "id": 2}
    assert problems_of(item) == [
        ("external_id", "required"),
        ("phone", "not a phone number (national numbers are read as RU)"),
        ("secret", "only digits, with . - / or spaces between them"),
        ("test_type", "required"),
        ("result", "must be one of negative, positive, inconclusive"),
        ("dob", "unknown field"),
        ("id", "unknown field"),
    ]


def test_a_national_number_of_an_unknown_line_is_the_lines_problem_only() -> None:
    assert problems_of({**GOOD, "line": "moon"}) == [("line", "unknown organisation/line 'moon'")]
    assert problems_of({**GOOD, "line": "moon", "phone": "+0"}) == [
        ("phone", "not a phone number"),
        ("line", "unknown organisation/line 'moon'"),
    ]


def test_a_lines_language_that_is_not_enabled_is_named() -> None:
    assert problems_of({**GOOD, "line": "clinic-tatar"}) == [
        ("language", "the line's language 'tt' is not enabled ([menu] languages: en, ru)")
    ]
    assert isinstance(read_item({**GOOD, "line": "clinic-tatar", "language": "ru"}, RULES), NewNotification)


def test_a_long_unknown_line_is_quoted_short_and_escaped() -> None:
    ((field, message),) = problems_of({**GOOD, "line": "\x1b[31m" + "x" * 200})
    assert field == "line" and "\x1b" not in message and len(message) < 120


# ---- the secret's separators ---------------------------------------------------------------

SEPARATORS = st.sampled_from([".", "-", "/", " ", "  ", "\t"])


@given(st.text("0123456789", min_size=4, max_size=8), st.data())
def test_separators_between_a_secrets_digits_are_dropped(digits: str, data: st.DataObject) -> None:
    written = digits[0]  # separators between the digits: none before the first, nor after the last
    for digit in digits[1:]:
        written += data.draw(st.lists(SEPARATORS, max_size=2).map("".join)) + digit
    checked = read_item({**GOOD, "secret": written}, RULES)
    assert isinstance(checked, NewNotification), written
    assert checked.secret == digits == secret_digits(written)


@pytest.mark.parametrize(
    ("written", "digits"),
    [("12.03.1980", "12031980"), ("12/03/1980", "12031980"), ("12-03-1980", "12031980"),
     ("12 03 1980", "12031980"), ("0042", "0042"), ("12,03,1980", None), ("+1234", None), ("", None),
     ("-1234", None), ("1234.", None), ("/12/03/1980", None)],
)  # fmt: skip
def test_a_secret_is_digits_and_separators_only(written: str, digits: str | None) -> None:
    assert secret_digits(written) == digits


# ---- the fingerprint -------------------------------------------------------------------------

TEXT = st.text(min_size=1, max_size=20)
SAID = st.tuples(TEXT, TEXT, TEXT, st.sampled_from([k.value for k in ResultKind]), TEXT, TEXT)


@given(SAID)
def test_a_fingerprint_is_sha256_hex_and_the_same_each_time(said: tuple[str, ...]) -> None:
    first = fingerprint(*said)
    assert first == fingerprint(*said)
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")


@given(SAID, st.integers(0, 5), TEXT)
def test_any_change_of_what_is_said_changes_the_fingerprint(said: tuple[str, ...], at: int, new: str) -> None:
    changed = list(said)
    changed[at] = new
    assert (fingerprint(*said) == fingerprint(*changed)) == (tuple(changed) == said)


@given(
    st.permutations(list(GOOD.items())),
    st.sampled_from(["negative", "NEGATIVE", " Negative "]),
    st.text("0123456789", min_size=4, max_size=8),
)
def test_an_items_fingerprint_ignores_field_order_case_and_spaces_and_never_the_secret(
    items: list[tuple[str, str]], result: str, secret: str
) -> None:
    first = read_item(GOOD, RULES)
    again = read_item({**dict(items), "result": result, "secret": secret, "line": " Clinic-Central"}, RULES)
    assert isinstance(first, NewNotification) and isinstance(again, NewNotification)
    assert again.fingerprint == first.fingerprint


def test_the_fields_are_the_documented_ones() -> None:
    assert FIELDS == ("external_id", "phone", "secret", "test_type", "result", "language", "line")


def test_the_centres_own_numbers_and_excluded_ones_are_never_a_patients_phone() -> None:
    rules = InputRules(
        lines=RULES.lines, languages=RULES.languages, own_numbers=frozenset({"78162700101"}),
        exclude=("+7816270090?", "+7495*"),
    )  # fmt: skip
    own = "the number of one of the centre's lines: the call would ring the centre"
    assert problems_of({**GOOD, "phone": "+7 816 270-01-01"}, rules) == [("phone", own)]
    assert problems_of({**GOOD, "phone": "8 816 270 01 01"}, rules) == [("phone", own)], "written nationally"
    excluded = "excluded from calls out ([repeat] exclude)"
    assert problems_of({**GOOD, "phone": "+78162700903"}, rules) == [("phone", excluded)]
    assert problems_of({**GOOD, "phone": "8 495 123-45-67"}, rules) == [("phone", excluded)]
    assert isinstance(read_item({**GOOD, "phone": "+78162700102"}, rules), NewNotification)


def test_a_number_in_a_block_of_a_lines_numbers_is_the_centres_own_but_not_any_number() -> None:
    """``_781627003XX`` is a block of a line's numbers: each is the centre's; a line
    that takes every call (``_X.``, or ``_7XXXXXXXXXX``) does not make every number the centre's."""
    wide = DidPattern.parse("_7XXXXXXXXXX")  # every Russian number: which calls a line takes, no block
    blocks = (DidPattern.parse("_781627003XX"), DidPattern.parse("_X."), DidPattern.parse("_49!"), wide)
    rules = InputRules(lines=RULES.lines, languages=RULES.languages, own_blocks=blocks)
    own = "the number of one of the centre's lines: the call would ring the centre"
    assert problems_of({**GOOD, "phone": "+78162700355"}, rules) == [("phone", own)]
    assert problems_of({**GOOD, "phone": "8 8162 700355"}, rules) == [("phone", own)], "written nationally"
    assert isinstance(read_item({**GOOD, "phone": "+78162700455"}, rules), NewNotification)
    assert isinstance(read_item({**GOOD, "phone": "+4930123456"}, rules), NewNotification)


def test_the_configs_own_numbers_and_exclusions_reach_the_check() -> None:
    from pathlib import Path

    from callrouter import compiled, config

    example = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
    settings = config.load(example, environ={})
    rules = compiled.results_input(settings)
    dids = [did for line in settings.lines for did in line.dids]
    exact = [did for did in dids if not did.startswith("_")]
    assert exact and rules.own_numbers == {did.removeprefix("+") for did in exact}
    assert [p.text for p in rules.own_blocks] == [did for did in dids if did.startswith("_")]
    assert rules.exclude == tuple(settings.file.repeat.exclude)
    line = settings.lines[0]
    item: dict[str, object] = {**GOOD, "line": line.name, "phone": exact[0]}
    assert problems_of(item, rules)[0][0] == "phone"
