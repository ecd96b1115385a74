"""Two lines whose DID patterns can take the same number and are as specific as each
other are refused, naming both lines' keys (the file's order would decide); a more
specific pattern carved out of another line's is not (it wins, as in Asterisk), nor
an exact DID inside another line's pattern (the exact DID wins), nor patterns of one
line that overlap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter import compiled, config
from callrouter.config import ConfigError
from callrouter.config_dids import Shape, common_number
from callrouter.core.lines import DidPattern

EXAMPLE = (Path(__file__).resolve().parents[2] / "callrouter.example.toml").read_text(encoding="utf-8")
HEALTH = 'dids = ["+78162700200"]'  # lines[12]; lines[13] has the block _781627003XX


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "test.toml", environ={})
    return caught.value.problems


def test_two_lines_patterns_as_specific_as_each_other_sharing_numbers_name_both_lines() -> None:
    text = EXAMPLE.replace(HEALTH, 'dids = ["+78162700200", "_78162700[3]XX"]')
    assert problems_of(text) == [
        "lines[13].dids: pattern _781627003XX (line 'hotline-international') and pattern "
        "_78162700[3]XX of lines[12].dids (line 'hotline-health') both match 78162700300 and are as "
        "specific as each other: which line takes such a call would be the file's order; make them "
        "disjoint, or one more specific (the more specific pattern wins, as in Asterisk; an exact DID "
        "wins over any pattern)"
    ]
    (problem,) = problems_of(EXAMPLE.replace(HEALTH, 'dids = ["_781627003[0-9]X"]'))
    assert problem.startswith("lines[13].dids: pattern _781627003XX") and "of lines[12].dids" in problem


@pytest.mark.parametrize(
    "dids",
    [
        '["+78162700200", "+78162700355"]',  # an exact DID in the other line's block: it wins
        '["+78162700200", "_78162700[24]XX"]',  # beside the block, not in it
        '["+78162700200", "_781627003XXX"]',  # a number longer than the block's
        '["+78162700200", "_781627003XX."]',  # longer still, open
        '["_7816270030X"]',  # carved out of the block: more specific, it wins
        '["_7816270.", "+78162700200"]',  # around the block: less specific, the block wins
        '["_+781627003!"]',  # the same
        '["+78162700200", "_78162700[2-3]XX"]',  # [2-3] is two digits, the block's 3 one: it wins
    ],
)
def test_disjoint_or_more_specific_patterns_and_an_exact_did_in_a_pattern_are_taken(dids: str) -> None:
    settings = config.parse(EXAMPLE.replace(HEALTH, f"dids = {dids}"), "test.toml", environ={})
    assert settings.lines[12].dids == [d.strip('"') for d in dids.strip("[]").split(", ")]


def test_where_patterns_of_two_lines_overlap_the_more_specific_takes_the_call() -> None:
    text = EXAMPLE.replace(HEALTH, 'dids = ["+78162700200", "_7816270."]')
    rules = compiled.board(config.parse(text, "test.toml", environ={})).rules
    assert getattr(rules.line_for("+78162700355"), "name", None) == "hotline-international", "the block"
    assert getattr(rules.line_for("+78162700455"), "name", None) == "hotline-health", "the wider pattern"


def test_overlapping_patterns_of_one_line_are_taken() -> None:
    block = 'dids = ["+78162700300", "_781627003XX"]'
    text = EXAMPLE.replace(block, 'dids = ["+78162700300", "_781627003XX", "_7816270030X", "_78162700!"]')
    assert config.parse(text, "test.toml", environ={}).lines[13].dids[3] == "_78162700!"


TOKENS = ["1", "2", "X", "Z", "N", "[1-2]", "[02]", "[3-5]"]
PATTERNS = st.tuples(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3), st.sampled_from(["", ".", "!"])
)


@given(PATTERNS, PATTERNS)
def test_the_number_two_patterns_share_is_one_asterisk_matches_to_both(
    a: tuple[list[str], str], b: tuple[list[str], str]
) -> None:
    """Against the router's own matching: every number of up to 4 digits tried (the
    shortest one two such patterns share has no more)."""
    left, right = ("_" + "".join(tokens) + tail for tokens, tail in (a, b))
    both = common_number(Shape.of(left), Shape.of(right))
    matches = [DidPattern.parse(p).regex.match for p in (left, right)]
    shared = next(
        (
            "".join(digits)
            for n in range(1, 5)
            for digits in itertools.product("0123456789", repeat=n)
            if all(match("".join(digits)) for match in matches)
        ),
        None,
    )
    assert (both is None) == (shared is None), (left, right, both, shared)
    assert both is None or all(match(both) for match in matches), (left, right, both)
