"""One pass: every bad key and every broken rule across keys, each with its path, in one ConfigError.

A bad key costs only its own value: the rules across keys still run over the
rest, and a rule that needs the bad key is skipped (no follow-on errors).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter import cli, config
from callrouter.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (REPO / "callrouter.example.toml").read_text(encoding="utf-8")

# (path reported, text in the example, its replacement): each breaks one key of the example.
FIELD_ERRORS = [
    ("router.node", 'node = "asterisk-1"', 'node = "two words"'),
    ("router.max_call_seconds", "max_call_seconds = 14400", "max_call_seconds = 0"),
    ("ari.url", 'url = "http://127.0.0.1:8088"', 'url = "ftp://asterisk"'),
    ("ari.max_connections", "max_connections = 50", "max_connections = 0"),
    ("database.dsn", 'dsn = "postgresql://', 'dsn = "mysql://'),
    ("admin.bind", 'bind = "127.0.0.1:8090"', 'bind = "nowhere"'),
    ("menu.timeout_seconds", "timeout_seconds = 5 ", "timeout_seconds = 0 "),
    ("menu.default_topic", 'default_topic = "operator"', 'default_topic = "Operator!"'),
    ("menu.languages", 'languages = ["ru", "en"]      #', "languages = []      #"),
    ("topics.infection.priority", "[topics.infection]\npriority = 10", "[topics.infection]\npriority = -1"),
    ("topics.results.overflow_topic", 'overflow_topic = "operator"', 'overflow_topic = "Bad Topic"'),
    ("queue.hold", 'hold = "channel"', 'hold = "stage"'),
    ("queue.estimate_window", "estimate_window = 20", "estimate_window = 0"),
    ("agents[0].id", 'id = "agent1"', 'id = "Agent One"'),
    (
        "agents[3].languages",
        'topics = ["urgent", "operator"]\nlanguages = ["ru"]',
        'topics = ["urgent", "operator"]\nlanguages = []',
    ),
    (
        "hours.clinics.zone",
        '[hours.clinics]\nzone = "Europe/Moscow"',
        '[hours.clinics]\nzone = "Mars/Olympus"',
    ),
    ("hours.clinics.closed_prompt", 'closed_prompt = "after_hours"', 'closed_prompt = "After Hours"'),
    (
        "lines[0].kind",
        'name = "clinic-central"\nkind = "clinic"',
        'name = "clinic-central"\nkind = "pharmacy"',
    ),
    (
        "lines[1].country",
        '"+78162700102"]\nlanguage = "ru"\ncountry = "RU"',
        '"+78162700102"]\nlanguage = "ru"\ncountry = "XX"',
    ),
    ("lines[2].dids", 'dids = ["+78162700103"]', 'dids = ["clinic"]'),
    (
        "lines[3].priority",
        'organisation = "Riverside Polyclinic"',
        'organisation = "Riverside Polyclinic"\npriority = 5000',
    ),
    ("lines[12].name", 'name = "hotline-health"', 'name = "Hotline Health"'),  # router.default_line's
    ("lines[13].language", 'language = "en"', 'language = "english"'),
    ("lines[14].menu", 'menu = "skip" ', 'menu = "slow" '),
    ("hours.clinics.weekly", 'sat = ["09:00-15:00"]', 'sat = ["09:00-09:00"]'),  # empty or a whole day?
]
CROSS_ERRORS = [
    (
        "lines[4].hours",
        'name = "clinic-children-1"\nkind = "clinic"\nhours = "clinics"',
        'name = "clinic-children-1"\nkind = "clinic"\nhours = "weekdays"',
    ),
    ("lines[6].dids", 'dids = ["+78162700107"]', 'dids = ["+78162700101"]'),  # lines[0]'s
    ("lines", 'name = "clinic-okulovka"', 'name = "clinic-valdai"'),  # a name twice
    ("lines[7]", 'organisation = "Regional Dental', 'menu = "skip"\norganisation = "Regional Dental'),
    (
        "lines[14]",
        "priority = 100 ",
        'max_wait_seconds = 60\noverflow_prompt = "overflow_busy"\npriority = 100 ',
    ),
    (
        "menu.options.3.topic",
        '[menu.options.3]\ntopic = "results"',
        '[menu.options.3]\ntopic = "lab_results"',
    ),
    (
        "topics.home_visit.overflow_topic",
        "[topics.home_visit]\npriority = 5",
        '[topics.home_visit]\npriority = 5\noverflow_topic = "nowhere"',
    ),
    (
        "agents[2].topics",
        'topics = ["urgent", "infection", "operator"]',
        'topics = ["urgent", "surgery", "operator"]',
    ),
    ("agents", 'id = "agent4"', 'id = "agent2"'),  # an id twice
]
MUTATIONS = FIELD_ERRORS + CROSS_ERRORS


def mutated(*mutations: tuple[str, str, str]) -> str:
    text = EXAMPLE_TEXT
    for _, old, new in mutations:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def problems_of(text: str, prompts_base: Path | None = None) -> list[str]:
    with_prompts = {"prompts_base": prompts_base} if prompts_base else {}
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "test.toml", environ={}, **with_prompts)
    return caught.value.problems


def paths(problems: list[str]) -> list[str]:
    return sorted(p.split(": ", 1)[0] for p in problems)


def test_each_mutation_breaks_only_its_own_key() -> None:
    for mutation in MUTATIONS:
        assert paths(problems_of(mutated(mutation))) == [mutation[0]], mutation


def test_several_field_and_cross_errors_in_one_pass() -> None:
    chosen = [FIELD_ERRORS[3], FIELD_ERRORS[15], FIELD_ERRORS[17], *CROSS_ERRORS[:6]]
    problems = problems_of(mutated(*chosen))
    assert paths(problems) == sorted(path for path, _, _ in chosen)
    assert "lines[0].kind: Input should be 'clinic', 'hotline' or 'ambulance'" in problems
    assert "lines[4].hours: 'weekdays' is not in [hours]" in problems
    assert (
        "lines[6].dids: DID +78162700101 is on both line 'clinic-central' and line 'clinic-womens'"
        in problems
    )
    assert "lines: name 'clinic-valdai' is repeated" in problems
    assert "lines[7]: menu = 'skip' needs a topic" in problems
    assert any(p.startswith("lines[14]: urgent line 'ambulance' reaches topic 'urgent'") for p in problems)


def four_lines(**second: str) -> str:
    """Four lines, the last two sharing a DID; ``second``: TOML values for lines[1]'s keys."""
    dids = ["+78162700101", "+78162700102", "+78162700103", "+78162700103"]
    text = ""
    for i, did in enumerate(dids):
        keys = {"name": f'"line-{i}"', "kind": '"clinic"', "organisation": f'"Org {i}"'}
        keys |= {"dids": f'["{did}"]', "country": '"RU"'} | (second if i == 1 else {})
        text += "[[lines]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())
    return text


@pytest.mark.parametrize(
    "bad",
    [{"kind": '"pharmacy"'}, {"colour": '"red"'}, {"language": '"english"'}, {"priority": "-1"}],
)
def test_a_bad_key_in_one_line_does_not_hide_a_did_on_two_others(bad: dict[str, str]) -> None:
    problems = problems_of(four_lines(**bad))
    assert "lines[3].dids: DID +78162700103 is on both line 'line-2' and line 'line-3'" in problems
    assert paths(problems) == [f"lines[1].{next(iter(bad))}", "lines[3].dids"], problems


def test_a_line_with_a_bad_key_still_has_its_own_rules_checked() -> None:
    problems = problems_of(four_lines(menu='"fast"', language='"english"'))
    assert "lines[1]: menu = 'fast' needs a topic" in problems
    assert paths(problems) == ["lines[1]", "lines[1].language", "lines[3].dids"], problems


def test_a_line_with_a_bad_name_still_clashes_by_its_path() -> None:
    problems = problems_of(four_lines().replace('name = "line-3"', 'name = "Line 3"'))
    assert "lines[3].dids: DID +78162700103 is on both line 'line-2' and line lines[3]" in problems


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        # The line the default names has a bad name: no "names no line".
        ("lines[12].name", 'name = "hotline-health"', 'name = "hotline health"'),
        # Hours, a topic, a menu with a bad key are still defined: nothing naming them is wrong.
        (
            "hours.clinics.zone",
            'zone = "Europe/Moscow"\nweekly = { mon = ["08',
            'zone = "Mars"\nweekly = { mon = ["08',
        ),
        ("topics.urgent.priority", "priority = 100 ", "priority = 1e9 "),
        ("topics.urgent.overflow_prompt", "priority = 100 ", 'overflow_prompt = "Bye!"\npriority = 100 '),
        ("menu.languages", 'languages = ["ru", "en"]      #', 'languages = "ru"      #'),
        ("menu.options.1.topic", '[menu.options.1]\ntopic = "infection"', "[menu.options.1]\ntopic = 1"),
        ("menu.options.2.prompt", 'prompt = "menu_appointments"', 'prompt = "Menu"'),
        # A topic with an unknown key is still a topic.
        ("topics.x.y", "[topics.infection]", "[topics.x]\ny = 1\n[topics.infection]"),
    ],
)
def test_one_bad_key_brings_no_follow_on_errors(path: str, old: str, new: str) -> None:
    problems = problems_of(mutated(("", old, new)), prompts_base=REPO)
    assert paths(problems) == [path], problems


def test_a_bad_kind_is_not_also_an_ambulance_with_hours() -> None:
    text = mutated(("", 'kind = "ambulance"', 'kind = "ambulanse"\nhours = "clinics"'))
    problems = problems_of(text, prompts_base=REPO)
    assert paths(problems) == ["lines[14].kind"], problems


def test_prompts_are_checked_in_the_same_pass() -> None:
    text = mutated(
        FIELD_ERRORS[0], ("", 'languages = ["ru", "en"]      #', 'languages = ["ru", "en", "de"] #')
    )
    problems = problems_of(text, prompts_base=REPO)
    assert paths(problems) == ["prompts", "router.node"]
    assert f"{REPO / 'prompts' / 'de'}.toml is missing" in problems[-1]


def test_the_short_form_must_exist_in_every_language() -> None:
    text = mutated(("", 'short_prompt = "menu_short"', 'short_prompt = "menu_brief"'))
    problems = problems_of(text, prompts_base=REPO)
    assert paths(problems) == ["prompts", "prompts"], problems
    assert all("'menu_brief' is missing" in p for p in problems)


def test_invalid_toml_names_the_line_and_column() -> None:
    (problem,) = problems_of(EXAMPLE_TEXT.replace("[queue]", "[queue", 1))
    assert problem.startswith("not valid TOML: ")
    assert f"(at line {EXAMPLE_TEXT[: EXAMPLE_TEXT.index('[queue]')].count(chr(10)) + 1}, column" in problem


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(range(len(MUTATIONS))), min_size=1))
def test_n_independent_mistakes_give_n_problems_each_with_its_path(chosen: set[int]) -> None:
    mutations = [MUTATIONS[i] for i in sorted(chosen)]
    problems = problems_of(mutated(*mutations))
    assert paths(problems) == sorted(path for path, _, _ in mutations)


# ---- the CLI: check-config and run say the same, all of it ------------------------
def many_errors_file(tmp_path: Path) -> Path:
    text = mutated(FIELD_ERRORS[3], FIELD_ERRORS[17], *CROSS_ERRORS[:3])
    text = text.replace('languages = ["ru", "en"]      #', 'languages = ["ru", "en", "de"] #')
    text = text.replace('source = "prompts" ', f'source = "{REPO / "prompts"}" ')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    return bad


EXPECTED_CLI_PATHS = [
    "ari.max_connections",
    "lines",
    "lines[0].kind",
    "lines[4].hours",
    "lines[6].dids",
    "prompts",
]


def test_check_config_prints_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = many_errors_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}
    done = subprocess.run(
        [sys.executable, "-m", "callrouter", "check-config", str(bad)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    header, *listed = done.stderr.splitlines()
    assert header == f"{bad}: invalid configuration"
    assert all(line.startswith("  ") for line in listed)
    assert paths([line.strip() for line in listed]) == EXPECTED_CLI_PATHS
    assert (
        "  lines[6].dids: DID +78162700101 is on both line 'clinic-central' and line 'clinic-womens'"
        in listed
    )


@pytest.mark.usefixtures("clean_cli")
def test_run_refuses_with_the_same_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = many_errors_file(tmp_path)
    with pytest.raises(SystemExit) as checked:
        cli.main(["check-config", str(bad)])
    check_config = capsys.readouterr()
    with pytest.raises(SystemExit) as ran:
        cli.main(["run", "--config", str(bad)])
    run = capsys.readouterr()
    assert checked.value.code == ran.value.code == 2
    assert run == check_config
    assert paths([line.strip() for line in run.err.splitlines()[1:]]) == EXPECTED_CLI_PATHS
