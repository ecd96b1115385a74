"""Which line a dialled number belongs to: exact DIDs, Asterisk-style patterns, specificity."""

from __future__ import annotations

import pytest

from callrouter.core.lines import DidDirectory, DidPattern, PatternError, digits_of, is_pattern


def test_exact_match_with_and_without_plus() -> None:
    directory = DidDirectory([("+78162700101", "central"), ("78162700102", "north"), ("103", "ambulance")])
    assert directory.match("+78162700101") == "central"
    assert directory.match("78162700101") == "central"
    assert directory.match("+78162700102") == "north"
    assert directory.match("78162700102") == "north"
    assert directory.match("103") == "ambulance"
    assert directory.match(" +78162700101 ") == "central"


def test_no_match_is_none() -> None:
    directory = DidDirectory([("+78162700101", "central"), ("_81627001XX", "block")])
    assert directory.match("+78162700199") is None
    assert directory.match("") is None
    assert DidDirectory[str]([]).match("78162700101") is None


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        (
            "_81627001XX",
            ["8162700100", "8162700199", "+8162700155"],
            ["816270010", "81627001000", "8162700200"],
        ),
        ("_8Z", ["81", "89"], ["80", "8", "812"]),
        ("_8N", ["82", "89"], ["80", "81"]),
        ("_8[1-5]", ["81", "83", "85"], ["80", "86", "8"]),
        ("_8[13]", ["81", "83"], ["82", "8"]),
        ("_8[1-35]", ["81", "82", "83", "85"], ["84", "86"]),
        ("_8.", ["81", "8123456"], ["8", "9123"]),
        ("_8!", ["8", "81", "8123456"], ["9", "98"]),
    ],
)
def test_pattern_matching(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    directory = DidDirectory([(pattern, "line")])
    for number in matching:
        assert directory.match(number) == "line", number
    for number in not_matching:
        assert directory.match(number) is None, number


def test_a_leading_plus_in_a_pattern_is_ignored() -> None:
    # The module's rule: "a leading + is ignored on both sides"; the dialplan
    # itself writes its pattern as _+X., so operators will write _+7... too.
    directory = DidDirectory([("_+7816XXX", "line")])
    assert directory.match("7816123") == "line"
    assert directory.match("+7816123") == "line"
    assert directory.match("816123") is None


@pytest.mark.parametrize("order", [1, -1])
def test_exact_beats_pattern(order: int) -> None:
    entries = [("_8162700XXX", "block"), ("+8162700101", "exact")][::order]
    directory = DidDirectory(entries)
    assert directory.match("8162700101") == "exact"
    assert directory.match("8162700102") == "block"


@pytest.mark.parametrize(
    ("broad", "narrow", "number"),
    [
        ("_8162700XXX", "_81627002XX", "8162700250"),
        ("_8162700XX", "_8162700[2-4]X", "816270025"),
        ("_8162700ZX", "_8162700NX", "816270025"),
        ("_8162700XX", "_8162700ZX", "816270025"),
        ("_X.", "_8162700XXX", "8162700250"),
        ("_8!", "_8.", "8162700250"),
        ("_81.", "_8162700XXX", "8162700250"),
    ],
)
@pytest.mark.parametrize("order", [1, -1])
def test_the_more_specific_pattern_wins(broad: str, narrow: str, number: str, order: int) -> None:
    directory = DidDirectory([(broad, "broad"), (narrow, "narrow")][::order])
    assert directory.match(number) == "narrow"


def test_the_broad_pattern_still_gets_the_rest() -> None:
    directory = DidDirectory([("_8162700XXX", "broad"), ("_81627002XX", "narrow")])
    assert directory.match("8162700350") == "broad"


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("_8.1", "'.' must end pattern"),
        ("_8!1", "'!' must end pattern"),
        ("_81A", "bad character 'A'"),
        ("_8*", "bad character '*'"),
        ("_8[]", "bad character '['"),
        ("_8[a-c]", "bad character '['"),
        ("_8[9-1]", "bad range 9-1"),
        ("_", "empty pattern"),
        ("_x1", "bad character 'x'"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, words: str) -> None:
    with pytest.raises(PatternError, match=words.replace("[", r"\[").replace("*", r"\*")):
        DidPattern.parse(pattern)
    with pytest.raises(PatternError):
        DidDirectory([(pattern, "line")])


def test_pattern_error_is_a_value_error() -> None:
    assert issubclass(PatternError, ValueError)


def test_helpers() -> None:
    assert is_pattern("_8XX")
    assert is_pattern(" _8XX")
    assert not is_pattern("+78162700101")
    assert digits_of(" +78162700101 ") == "78162700101"
