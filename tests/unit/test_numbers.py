"""Caller numbers: E.164 normalisation, withheld numbers, privacy, masking for logs."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from callrouter.core.numbers import CallerNumber, Presentation, is_restricted, mask, mask_text, normalise

# The CHECK constraint on calls.caller_number (callrouter/store/migrations/0001_calls.sql).
E164 = re.compile(r"^\+[1-9]\d{3,14}$")


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("8 816 270-01-01", "RU", "+78162700101"),  # Russian national format, trunk prefix 8
        ("88162700101", "RU", "+78162700101"),
        ("+78162700101", "RU", "+78162700101"),
        ("+78162700101", "GB", "+78162700101"),  # international stays as it is, whatever the line
        ("+7 (816) 270-01-01", "RU", "+78162700101"),
        ("00 44 20 7946 0958", "RU", "+442079460958"),  # 00 international prefix
        ("020 7946 0958", "GB", "+442079460958"),  # British national format, trunk prefix 0
        (" +442079460958 ", "RU", "+442079460958"),
    ],
)
def test_normalise_to_e164(raw: str, country: str, e164: str) -> None:
    assert normalise(raw, country) == CallerNumber(e164, Presentation.NUMBER)


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "anonymous", "Anonymous", "Restricted", "PRIVATE", "unknown"]
)
def test_withheld_numbers_stay_withheld(raw: str | None) -> None:
    number = normalise(raw, "RU")
    assert number == CallerNumber(None, Presentation.WITHHELD)
    assert number.masked == "withheld"


# ---- privacy: a number the network asserted for a caller who withheld it -------------------
def test_a_restricted_caller_is_withheld_and_the_number_only_asserted() -> None:
    number = normalise("8 916 123-45-67", "RU", restricted=True)
    assert (number.e164, number.presentation) == (None, Presentation.WITHHELD)
    assert number.asserted == "+79161234567"
    assert number.masked == "withheld"
    assert "+79161234567" not in repr(number) and "916" not in repr(number), "not in a log line by accident"


@pytest.mark.parametrize("raw", [None, "", "anonymous", "abc", "12"])
def test_a_restricted_caller_without_a_usable_number_asserts_none(raw: str | None) -> None:
    assert normalise(raw, "RU", restricted=True) == CallerNumber(None, Presentation.WITHHELD)


def test_an_allowed_caller_has_nothing_asserted() -> None:
    number = normalise("+79161234567", "RU", restricted=False)
    assert (number.e164, number.asserted) == ("+79161234567", None)


@pytest.mark.parametrize(
    ("presentation", "restricted"),
    [
        ("allowed_not_screened", False),
        ("allowed_passed_screen", False),
        ("allowed", False),
        ("", False),  # an older dialplan passes none
        (None, False),
        ("prohib_not_screened", True),
        ("prohib", True),
        ("Prohib_Passed_Screen", True),
        ("unavailable", True),
    ],
)
def test_asterisks_presentation_names(presentation: str | None, restricted: bool) -> None:
    assert is_restricted(presentation) is restricted


@pytest.mark.parametrize(
    "raw",
    [
        "abc", "12", "+", "00", "sip:alice@example.com", "+999123456789",
        "abc79041112237", "+79041112242x", "79161234567 ext 5", "тел 79161234567",
        "+٧٩١٦١٢٣٤٥٦٧", "+７９１６１２３４５６７", "+7916123४५६७",
    ],
)  # fmt: skip
def test_garbage_is_unparseable(raw: str) -> None:
    number = normalise(raw, "RU")
    assert number == CallerNumber(None, Presentation.UNPARSEABLE)
    assert number.masked == "unparseable"


def test_country_code_may_be_lower_case() -> None:
    assert normalise("020 7946 0958", "gb").e164 == "+442079460958"


def test_caller_number_masked() -> None:
    assert normalise("+79161234567", "RU").masked == "+79*******67"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+79161234567", "+79*******67"),
        ("79161234567", "791******67"),
        ("123456", "123*56"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_keeps_first_three_and_last_two(number: str, masked: str) -> None:
    assert mask(number) == masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("caller +79161234567 rang", "caller +79*******67 rang"),
        ("caller=79161234567", "caller=791******67"),
        ("+79161234567", "+79*******67"),
        ("from 79161234567, to 78162700101", "from 791******67, to 781******01"),
        ('number "+442079460958"', 'number "+44********58"'),
        ("call from +79161234567.", "call from +79*******67."),  # a number ending a sentence
    ],
)
def test_mask_text_masks_lone_numbers(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "channel 1732312345.12 answered",
        "channel PJSIP/trunk-0000001a left",
        "call 5f0b8a7e-1c2d-4e3f-9a8b-7c6d5e4f3a2b ended",
        "call 12345678-1234-1234-1234-123456789012 ended",
        "playback 1732312345.12-greeting finished",
        "took 123456 ms",  # too short to be a phone number
    ],
)
def test_mask_text_leaves_ids_alone(text: str) -> None:
    assert mask_text(text) == text


@given(
    prefix=st.sampled_from(["", "+", "00", "8", "0"]),
    digits=st.text(alphabet="0123456789", max_size=24),
    country=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
)
# libphonenumber calls this Nigerian number "possible"; it has 16 digits, one more than E.164 allows.
@example(prefix="+", digits="2341000000000000", country="RU")
def test_normalise_digits_never_raises_and_meets_the_database_check(
    prefix: str, digits: str, country: str
) -> None:
    number = normalise(prefix + digits, country)
    if number.e164 is None:
        assert number.presentation is not Presentation.NUMBER
    else:
        assert number.presentation is Presentation.NUMBER
        assert E164.match(number.e164), number.e164


@given(raw=st.one_of(st.none(), st.text(max_size=40)), country=st.sampled_from(["RU", "GB", "US", "DE"]))
def test_normalise_any_text_never_raises(raw: str | None, country: str) -> None:
    number = normalise(raw, country)
    assert number.e164 is None or E164.match(number.e164)


@given(st.text(max_size=60))
def test_mask_text_never_lengthens_or_raises(text: str) -> None:
    assert len(mask_text(text)) == len(text)
