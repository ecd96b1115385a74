"""A simulation scenario is read like the config: every bad key named by its path,
all at once, then checked against the router config it names; and ``callrouter
simulate`` writes the figures, or exits 2 naming each bad key."""

from __future__ import annotations

import datetime
import errno
import io
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from callrouter import cli
from callrouter.simulate import command
from callrouter.simulate.scenario import ScenarioError, build, keys_to, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"


def small() -> dict[str, Any]:
    data = tomllib.loads(SMALL.read_text())
    data["config"] = "callrouter.example.toml"  # built from the repository's root below
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as raised:
        build(data, "bad.toml", ROOT)
    return raised.value.problems


def test_the_example_compiles_against_the_example_config() -> None:
    scenario = load_scenario(SMALL)
    assert scenario.zone == "Europe/Moscow" and scenario.start.isoformat() == "2026-11-22T21:00:00+00:00"
    central, north, hotline, ambulance = scenario.streams
    assert (central.did, central.keys) == ("+78162700101", ("2", "1")), "the submenu's path"
    assert (north.keys, hotline.keys) == (("3",), ("0",))
    assert (ambulance.did, ambulance.keys) == ("103", ()), "the line skips the menu"
    assert hotline.intervals[0] == (9 * 3600, 9 * 3600 + 900, 2 / 900), "per_quarter: calls in 15 minutes"
    assert scenario.shifts["agent1"] == ((8 * 3600, 20 * 3600),), "08-16 then 16-20: one stretch"
    assert scenario.shifts["agent2"] == ((8 * 3600, 16 * 3600),)


def test_bad_keys_are_named_by_their_path_all_at_once() -> None:
    data = small()
    data["arrivals"][2]["per_hours"] = [1]
    data["arrivals"][0]["per_hour"] = [1, -2]
    data["arrivals"][1]["per_quarter"] = [1]  # and per_hour
    data["patience"] = {"distribution": "exponential"}
    data["handle"]["distribution"] = "gamma"
    data["shifts"][0]["end"] = "25:00"
    data["seeds"] = 3
    data["callers"] = {"withheld": 1.5, "menu_hangups": 0.1}
    data["misses"] = {"probability": -0.1}
    data["arrivals"][3]["handle"] = {"distribution": "fixed"}
    found = problems(data)
    for path in (
        "arrivals[2].per_hours: Extra inputs are not permitted",
        "arrivals[0].per_hour[1]: Input should be greater than or equal to 0",
        "arrivals[1]: give per_hour or per_quarter (one of them)",
        "patience: mean_seconds is required for exponential patience",
        "handle.distribution: Input should be 'exponential', 'lognormal', 'fixed' or 'empirical'",
        "shifts[0].end: a time of day as HH:MM (08:00; 24:00 ends the day), not '25:00'",
        "seeds: Extra inputs are not permitted",
        "callers.withheld: Input should be less than or equal to 1",
        "callers.menu_hangups: Extra inputs are not permitted",
        "misses.probability: Input should be greater than or equal to 0",
        "arrivals[3].handle.mean_seconds: Field required",
    ):
        assert any(p.startswith(path) for p in found), (path, found)
    assert len(found) == 11


def test_what_the_config_does_not_know_is_named_too() -> None:
    data = small()
    data["arrivals"][0]["line"] = "clinic-nowhere"
    data["arrivals"][1]["topic"] = "results_consult"  # no menu key leads there
    data["arrivals"][3]["topic"] = "operator"  # the ambulance line skips the menu
    data["arrivals"][2]["start"] = "22:00"  # 8 quarters from 22:00 fit; 12 hours from 20:00 do not
    data["arrivals"].append(
        {"line": "clinic-south", "topic": "home_visit", "start": "20:00", "per_hour": [1] * 5}
    )
    data["shifts"][0]["agents"] = ["agent1", "agent9"]
    data["shifts"][2]["agents"] = ["agent3", "agent1"]  # all day: agent1 is on shifts[0] and [1] then too
    data["timing"]["agent_answer_seconds"] = 15
    found = problems(data)
    assert found[0].startswith("arrivals[0].line: no line 'clinic-nowhere' in the config (lines: ambulance, ")
    assert found[1:] == [
        "arrivals[1].topic: 'results_consult' cannot be reached from clinic-north's menu",
        "arrivals[3].topic: ambulance skips the menu: its callers all go to urgent",
        "arrivals[4].per_hour: 5 hours from 20:00 run past midnight",
        "shifts[0].agents[1]: no agent 'agent9' in the config",
        "shifts[2].agents[1]: agent1 is on shifts[0] then too",
        "shifts[2].agents[1]: agent1 is on shifts[1] then too",
        "timing.agent_answer_seconds: must be shorter than the config's ring timeout (15 s): "
        "agents who never answer are paused, and nobody resumes them",
    ]


def test_a_bad_key_hides_no_problem_with_the_config_beside_it() -> None:
    """As the config's checks across keys run over its good tables: a bad start, a bad end
    or an unknown key says itself, and what the config does not know is said in the same run."""
    data = small()
    data["arrivals"][0]["start"] = "8:00"  # bad, and its line unknown: both said
    data["arrivals"][0]["line"] = "clinic-nowhere"
    data["arrivals"][1]["topic"] = "results_consult"  # no menu key leads there
    data["shifts"][0]["end"] = "25:00"  # its agents still checked; when it overlaps: not known
    data["shifts"][0]["agents"] = ["agent1", "agent9"]
    data["timing"]["agent_answer_seconds"] = 15
    data["seeds"] = 3
    found = problems(data)
    assert found[:3] == [
        "arrivals[0].start: a time of day as HH:MM (08:00; 24:00 ends the day), not '8:00'",
        "shifts[0].end: a time of day as HH:MM (08:00; 24:00 ends the day), not '25:00'",
        "seeds: Extra inputs are not permitted",
    ]
    assert found[3].startswith("arrivals[0].line: no line 'clinic-nowhere' in the config (lines: ambulance, ")
    assert found[4:] == [
        "arrivals[1].topic: 'results_consult' cannot be reached from clinic-north's menu",
        "shifts[0].agents[1]: no agent 'agent9' in the config",
        "timing.agent_answer_seconds: must be shorter than the config's ring timeout (15 s): "
        "agents who never answer are paused, and nobody resumes them",
    ]
    data["config"] = "nothing-here.toml"  # a config that cannot be read is said beside the bad keys
    assert problems(data)[3:] == [
        f"config: {ROOT / 'nothing-here.toml'}: cannot read: No such file or directory"
    ]
    data["arrivals"][0]["line"] = 7  # a bad line: its route is not checked, nor said twice
    data["config"] = "callrouter.example.toml"
    found = problems(data)
    assert "arrivals[0].line: Input should be a valid string" in found
    assert not any(p.startswith("arrivals[0].line: no line") for p in found)


def test_a_bad_config_and_a_bad_file_say_so() -> None:
    data = small()
    data["config"] = "pyproject.toml"
    (first, *_) = problems(data)
    assert first == f"config: {ROOT / 'pyproject.toml'}: build-system: Extra inputs are not permitted"
    data["config"] = "nothing-here.toml"
    assert problems(data) == [f"config: {ROOT / 'nothing-here.toml'}: cannot read: No such file or directory"]


def test_numbers_that_would_hang_or_mislead_a_day_are_refused_by_their_path() -> None:
    """NaN or infinity anywhere, a rate no centre has, a day outside the calendar the zones
    know, an empirical handle with a mean of its own (the formula and the day would read
    two talk times), and a day the clocks change on (hours of two clocks)."""
    data = small()
    data["arrivals"][0]["per_hour"] = [float("nan"), 1]
    data["arrivals"][1]["per_hour"] = [float("inf")]
    data["arrivals"][2]["per_quarter"] = [30_000]
    data["patience"] = {"distribution": "exponential", "mean_seconds": float("nan")}
    data["handle"] = {"distribution": "empirical", "samples": [10, 20], "mean_seconds": 1000}
    data["date"] = datetime.date(1, 1, 1)
    found = problems(data)
    for path in (
        "arrivals[0].per_hour[0]: Input should be a finite number",
        "arrivals[1].per_hour[0]: Input should be a finite number",
        "arrivals[2].per_quarter[0]: Input should be less than or equal to 25000",
        "patience.mean_seconds: Input should be a finite number",
        "handle: an empirical distribution's mean is its samples': leave mean_seconds out",
        "date: a day from 1970-01-01 to 2199-12-31",
    ):
        assert any(p.startswith(path) for p in found), (path, found)
    assert len(found) == 6, found
    never_taken = small()  # nobody takes a callback: how late they would answer is no matter
    never_taken["callback"] = {"accept_probability": 0, "answer_seconds": 30}
    assert build(never_taken, "ok.toml", ROOT).file.callback.answer_seconds == 30
    unanswered = small()
    unanswered["callback"] = {"accept_probability": 0.5, "answer_seconds": 30}  # the config rings 30 s
    assert problems(unanswered) == [
        "callback.answer_seconds: must be shorter than the config's callback ring (30 s): nobody would "
        "answer a callback"
    ]
    spring, autumn, ordinary = small(), small(), small()
    spring.update(date=datetime.date(2026, 3, 29), zone="Europe/Berlin")
    autumn.update(date=datetime.date(2026, 10, 25), zone="Europe/Berlin")
    ordinary.update(date=datetime.date(2026, 3, 22), zone="Europe/Berlin")
    assert problems(spring) == [
        "date: 2026-03-29 is a day the clocks change in Europe/Berlin (23 hours); a scenario plays a "
        "24-hour day: take the same weekday a week before or after"
    ]
    assert "(25 hours)" in problems(autumn)[0]
    assert build(ordinary, "ok.toml", ROOT).start.isoformat() == "2026-03-21T23:00:00+00:00"


def test_files_that_are_no_text_or_too_deep_are_refused_in_words(tmp_path: Path) -> None:
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "bin.toml")
    assert raised.value.problems == ["not UTF-8 text (byte 0): invalid start byte"]
    (tmp_path / "deep.json").write_text("[" * 100_000)
    with pytest.raises(ScenarioError, match="nested too deeply"):
        load_scenario(tmp_path / "deep.json")
    (tmp_path / "long.json").write_text('{"seed": ' + "9" * 5000 + "}")
    with pytest.raises(ScenarioError, match="not valid JSON: a number of thousands of digits"):
        load_scenario(tmp_path / "long.json")
    data = small()
    data.update(config=str(tmp_path / "bin.toml"), date="2026-11-24")
    (tmp_path / "day.json").write_text(json.dumps(data))
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "day.json")
    assert raised.value.problems == [
        f"config: {tmp_path / 'bin.toml'}: not UTF-8 text (byte 0): invalid start byte"
    ]
    bom = tmp_path / "bom.toml"  # a UTF-8 byte-order mark, as some editors write it, is skipped
    text = SMALL.read_text().replace('"../callrouter.example.toml"', f'"{ROOT}/callrouter.example.toml"')
    bom.write_text(text, encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf") and load_scenario(bom).seed == small()["seed"]


def test_json_scenarios_are_read_by_their_name(tmp_path: Path) -> None:
    data = small()
    data["date"] = "2026-11-24"
    data["config"] = str(ROOT / "callrouter.example.toml")
    (tmp_path / "day.json").write_text(json.dumps(data))
    assert load_scenario(tmp_path / "day.json").start.isoformat() == "2026-11-23T21:00:00+00:00"
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(tmp_path / "bad.json")
    text = json.dumps(data)  # a key given twice: said, not the last one taken unsaid
    (tmp_path / "twice.json").write_text(text.replace('{"', '{"seed": 1, "seed": 2, "', 1))
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "twice.json")
    assert raised.value.problems == ['not valid JSON: the key "seed" given twice in one object']


def test_a_flag_or_a_string_where_a_number_goes_is_named_not_read_as_one(tmp_path: Path) -> None:
    data = small()
    data["config"] = str(ROOT / "callrouter.example.toml")
    data["seed"], data["redial"]["probability"], data["date"] = True, "0.5", "2026-11-23"
    data["arrivals"][0]["per_hour"] = [10, True, "20"]
    data["handle"] = {"distribution": "empirical", "samples": [60, False]}
    (tmp_path / "day.json").write_text(json.dumps(data))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "day.json")
    named = {p.split(":", 1)[0] for p in caught.value.problems}
    per_hour = {"arrivals[0].per_hour[1]", "arrivals[0].per_hour[2]"}
    assert named == {"seed", "redial.probability", "handle.samples[1]", *per_hour}


def test_the_shortest_keys_lead_to_each_topic() -> None:
    menu = load_scenario(SMALL).settings.file.menu.to_core()
    assert keys_to(menu, "appointment_change") == ("2", "2")
    assert keys_to(menu, "operator") == ("0",)
    assert keys_to(menu, "results_consult") is None


def test_the_command_prints_the_day_and_each_hour(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", str(SMALL), "--format", "json", "--seed", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seed"] == 5 and out["service_level"] == {"seconds": 20.0, "target": 0.8}
    assert len(out["hours"]) == 24 and out["day"]["offered"] == sum(h["offered"] for h in out["hours"])
    assert cli.main(["simulate", str(SMALL)]) == 0
    table = capsys.readouterr().out
    assert "  day  " in table and "\n   09 " in table and "outcomes: " in table


def test_the_command_exits_2_naming_each_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.read_text().replace("per_quarter", "per_quarters").replace("seed = 1", 'seed = "x"'))
    assert cli.main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{bad}: invalid scenario"
    assert "  seed: Input should be a valid integer" in err
    assert "  arrivals[2].per_quarters: Extra inputs are not permitted" in err


def test_where_the_day_comes_from_is_one_source_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    for args, said in (
        ([str(SMALL), "--base", "x.toml"], "--base: with --from and --to only"),
        ([str(SMALL), "-c", "x.toml"], "--config: with --from and --to only"),
        ([str(SMALL), "--from", "2026-11-23", "--to", "2026-11-24"], "a SCENARIO or --from and --to"),
        (["--from", "2026-11-23"], "--from and --to go together"),
        (
            ["--from", "2026-11-02", "--to", "2026-11-30", "--format", "html", "--replications", "2"],
            "--format html draws one day: not with --replications",
        ),
        ([], "give a SCENARIO, or --from and --to"),
    ):
        assert cli.main(["simulate", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"simulate: {said}") and len(err.splitlines()) == 1, err


class _Full(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_an_output_that_cannot_be_written_is_said_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", _Full())
    assert cli.main(["simulate", str(SMALL)]) == 2
    assert capsys.readouterr().err == "callrouter: cannot write the output: No space left on device\n"


def test_arrivals_no_agent_on_shift_can_take_are_noted_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """agent1 speaks Russian only: the English international hotline's callers wait in vain."""
    data = small()
    data.update(date="2026-11-24", config=str(ROOT / "callrouter.example.toml"))
    data["arrivals"] = [
        {"line": "hotline-international", "topic": "operator", "start": "08:00", "per_hour": [20]},
        {"line": "clinic-central", "topic": "appointment_book", "start": "08:00", "per_hour": [20]},
    ]
    data["shifts"] = [{"agents": ["agent1"], "start": "00:00", "end": "24:00"}]
    path = tmp_path / "day.json"
    path.write_text(json.dumps(data))
    assert cli.main(["simulate", str(path), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "note: arrivals[0] (hotline-international, operator): no agent on shift takes operator in 'en'; "
        "none of its callers will be answered\n"
    )
    hours = json.loads(out)["hours"]
    assert hours[8]["answered"] > 0, "clinic-central's callers are answered"
    assert load_scenario(SMALL).unserved() == []


def test_a_day_that_takes_a_while_says_how_far_it_has_come(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(command.Progress, "EVERY", 0.0)  # as if every hour took a while
    assert cli.main(["simulate", str(SMALL), "--format", "json"]) == 0
    told = [line for line in capsys.readouterr().err.splitlines() if line.startswith("simulate: ")]
    hours = [line.split()[1] for line in told]
    assert "09:00" in hours and hours == sorted(hours), told
    assert all(line.endswith(" s)") and " reached (" in line for line in told), told


def test_a_json_scenario_is_known_by_its_name_in_any_case_and_an_endless_file_refused(tmp_path: Path) -> None:
    data = small()
    data.update(date="2026-11-24", config=str(ROOT / "callrouter.example.toml"))
    (tmp_path / "DAY.JSON").write_text(json.dumps(data))
    assert load_scenario(tmp_path / "DAY.JSON").seed == data["seed"]
    with pytest.raises(ScenarioError, match="larger than 20 MB"):
        load_scenario(Path("/dev/zero"))


def test_a_date_is_a_date_and_a_path_has_no_nul(tmp_path: Path) -> None:
    """A number is not a date (it was read as seconds since 1970), nor is a date and time."""
    for date, said in (
        (0, "a date as YYYY-MM-DD (2026-11-23), not 0"),
        ("1795392000", "a date as YYYY-MM-DD (2026-11-23), not '1795392000'"),
        ("20261123", "a date as YYYY-MM-DD (2026-11-23), not '20261123'"),
        ("2026-02-30", "not a date: day is out of range for month"),
    ):
        assert problems({**small(), "date": date}) == [f"date: {said}"], date
    toml = tmp_path / "day.toml"
    toml.write_text(SMALL.read_text().replace("date = 2026-11-23", "date = 2026-11-23T10:00:00"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(toml)
    said = "date: a date as YYYY-MM-DD (2026-11-23), not 2026-11-23T10:00:00"  # as written, no Python repr
    assert caught.value.problems[0] == said, caught.value.problems
    assert problems({**small(), "config": "/tmp/a\x00b.toml"}) == [
        "config: a path without a NUL character, not '/tmp/a\\x00b.toml'"
    ]


def test_empirical_samples_that_are_no_list_are_named_as_such() -> None:
    for samples in (5, "60, 90"):
        said = problems({**small(), "handle": {"distribution": "empirical", "samples": samples}})
        assert said == ["handle.samples: a list is expected here"], said


def test_a_list_of_bad_samples_is_named_by_its_items_alone() -> None:
    """Not also "at least 1 item after validation, not 0": the list was not empty."""
    said = problems({**small(), "handle": {"distribution": "empirical", "samples": ["a"]}})
    assert said == ["handle.samples[0]: Input should be a valid number"], said
    said = problems({**small(), "handle": {"distribution": "empirical", "samples": []}})
    assert said == ["handle: samples are required for an empirical distribution (durations in seconds)"], said


def test_a_key_a_distribution_would_ignore_is_refused() -> None:
    for key, value, said in (
        (
            "patience",
            {"distribution": "infinite", "mean_seconds": 5},
            "infinite patience has no mean_seconds",
        ),
        ("patience", {"distribution": "exponential", "mean_seconds": 60, "cv": 2}, "cv shapes a lognormal"),
        ("handle", {"distribution": "fixed", "mean_seconds": 60, "cv": 0.5}, "cv shapes a lognormal"),
    ):
        found = problems({**small(), key: value})
        assert len(found) == 1 and found[0].startswith(f"{key}: {said}"), found


def test_a_list_too_short_as_given_is_still_said_so_beside_its_bad_items() -> None:
    """Only the "too short" that counts the good items alone is left out."""
    from pydantic import BaseModel, Field, ValidationError

    from callrouter.config_errors import named_errors

    class Three(BaseModel):
        items: tuple[int, ...] = Field(min_length=3)

    for given, kinds in ((["1", "x"], ["int_parsing", "too_short"]), ([1, "x", 3], ["int_parsing"])):
        with pytest.raises(ValidationError) as caught:
            Three.model_validate({"items": given})
        assert [e["type"] for e in named_errors(caught.value)] == kinds, given


def test_menu_hangups_with_a_menu_keyed_in_no_time_are_refused() -> None:
    """They would never happen (every key comes before the hang-up): the figures would
    silently leave them out."""
    data = small()
    data["callers"] = {"menu_hangup": 0.5}
    data["timing"]["key_seconds"] = 0
    assert [p for p in problems(data) if p.startswith("callers.menu_hangup")] == [
        "callers.menu_hangup: a menu keyed in no time (timing.key_seconds = 0) leaves nobody a moment "
        "to hang up in it"
    ]
