"""A value that begins with ``-`` reaches its option, whose own check names what is
wrong with it (argparse alone says only "expected one argument")."""

from __future__ import annotations

import pytest

from callrouter import cli

SMALL = "examples/scenario-small.toml"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["staffing", "--target", "-80/20", "--scenario", SMALL],
            "--target: '-80/20' is not PERCENT/SECONDS",
        ),
        (
            ["staffing", "--target", "80/20", "--max-abandon", "-5%", "--scenario", SMALL],
            "'-5%' is not a percentage",
        ),
    ],
)
def test_a_value_beginning_with_a_dash_is_checked_by_its_option(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert said in err
    assert "expected one argument" not in err


def test_an_option_where_a_value_belongs_is_still_a_missing_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["staffing", "--target", "--scenario", SMALL])
    assert raised.value.code == 2
    assert "argument --target: expected one argument" in capsys.readouterr().err


def test_gluing_leaves_everything_else_as_given() -> None:
    parser = cli.build_parser()
    given = ["simulate", SMALL, "--seed", "7", "--format", "json", "--", "--seed"]
    assert cli.glue_values(parser, given) == given
    assert cli.glue_values(parser, ["staffing", "--target", "-1/2"]) == ["staffing", "--target=-1/2"]
    # a word that is itself an option (or one with its value glued) is never taken as a value
    assert cli.glue_values(parser, ["staffing", "--target", "--seed=3"]) == [
        "staffing",
        "--target",
        "--seed=3",
    ]


def test_an_unknown_log_level_is_a_usage_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], clean_cli: None
) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["--log-level", "NOPE", "check-config", "callrouter.example.toml"])
    assert raised.value.code == 2
    assert "argument --log-level: invalid choice: 'NOPE'" in capsys.readouterr().err
    assert cli.main(["--log-level", "debug", "check-config", "callrouter.example.toml"]) == 0
