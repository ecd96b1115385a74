"""The settings object: the example loads, bad files are refused with the path of each bad key."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from callrouter import cli, config
from callrouter.config import ConfigError
from callrouter.core.lines import LineKind

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"

MINIMAL = """\
[[lines]]
name = "clinic-central"
kind = "clinic"
organisation = "Central City Polyclinic"
dids = ["+78162700101"]
country = "RU"
"""


def line_toml(name: str, dids: str = '["+78162700101"]', kind: str = "clinic", country: str = "RU") -> str:
    return textwrap.dedent(
        f"""\
        [[lines]]
        name = "{name}"
        kind = "{kind}"
        organisation = "Org {name}"
        dids = {dids}
        country = "{country}"
        """
    )


def four_lines(**fourth: str) -> str:
    head = [line_toml(f"line-{i}", f'["+7816270010{i}"]') for i in range(3)]
    return "\n".join([*head, line_toml("line-3", **{"dids": '["+78162700103"]', **fourth})])


def problems_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "test.toml", environ={} if environ is None else environ)
    assert caught.value.source == "test.toml"
    assert caught.value.problems, "a ConfigError must say what is wrong"
    return caught.value.problems


# ---- good configs ---------------------------------------------------------------
def test_example_config_loads() -> None:
    settings = config.load(EXAMPLE, environ={})
    assert len(settings.lines) == 15
    assert settings.router.default_line == "hotline-health"
    assert settings.source == str(EXAMPLE)
    ambulance = next(line for line in settings.lines if line.name == "ambulance")
    assert ambulance.urgent
    assert ambulance.dids == ["103", "112", "+78162700903"]
    assert settings.ari_password is None
    assert settings.database_password is None
    assert settings.admin_token is None
    assert settings.admin.host == "127.0.0.1"
    assert settings.admin.port == 8090


def test_minimal_config_takes_defaults() -> None:
    settings = config.parse(MINIMAL, environ={})
    (line,) = settings.lines
    assert line.name == "clinic-central"
    assert line.kind is LineKind.CLINIC
    assert line.language == "en"
    assert not line.urgent
    assert settings.router.app == "callrouter"
    assert settings.ari.url == "http://127.0.0.1:8088"
    assert settings.database.dsn.startswith("postgresql://")
    assert settings.router.default_line is None


def test_settings_are_frozen() -> None:
    settings = config.parse(MINIMAL, environ={})
    with pytest.raises(ValueError, match="frozen"):
        settings.router.app = "other"  # type: ignore[misc]


def test_the_menu_says_its_short_form_once_after_a_silence_by_default() -> None:
    spec = config.parse(MINIMAL, environ={}).file.menu.to_core()
    assert (spec.root.short_prompt, spec.silent_to_default_after) == ("menu_short", 1)
    text = '[menu]\nshort_prompt = "menu_brief"\nsilent_to_default_after = 0\n' + MINIMAL
    spec = config.parse(text, environ={}).file.menu.to_core()
    assert (spec.root.short_prompt, spec.silent_to_default_after) == ("menu_brief", 0)


@pytest.mark.parametrize("value", ["-1", "11", "1.5", '"once"'])
def test_a_bad_silent_to_default_after_is_refused_with_its_path(value: str) -> None:
    problems = problems_of(f"[menu]\nsilent_to_default_after = {value}\n" + MINIMAL)
    assert [p.split(":", 1)[0] for p in problems] == ["menu.silent_to_default_after"]


EVENINGS = """\
[hours.evenings]
zone = "Europe/Moscow"
weekly = { mon = ["18:00-01:00"], sun = ["22:00-24:00"] }

[results]
consult_topic = "operator"

[results.window]
zone = "Europe/Moscow"
hours = ["18:00-01:00"]
"""


def test_spans_may_cross_midnight() -> None:
    settings = config.parse(EVENINGS + MINIMAL + 'hours = "evenings"\n', environ={})
    monday_evening = datetime(2026, 11, 23, 23, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    tuesday_night = monday_evening + timedelta(hours=1)
    assert settings.file.hours["evenings"].to_core().is_open(tuesday_night)
    assert settings.file.results is not None
    assert settings.file.results.window.to_core().is_open(tuesday_night)


# ---- bad configs: every problem names its path --------------------------------
def test_bad_spans_are_refused_with_their_paths() -> None:
    bad = EVENINGS.replace('mon = ["18:00-01:00"]', 'mon = ["18:00-18:00"]')
    bad = bad.replace('hours = ["18:00-01:00"]', 'hours = ["6pm-1am"]')
    assert problems_of(bad + MINIMAL + 'hours = "evenings"\n') == [
        "hours.evenings.weekly: '18:00-18:00' starts when it ends: empty or 24 hours is ambiguous"
        " (00:00-24:00 is a whole day; split a day from another hour in two spans)",
        "results.window.hours: '6pm-1am' is not a span like 08:00-20:00 or 18:00-01:00",
    ]


def test_bad_kind_on_fourth_line_names_its_path() -> None:
    problems = problems_of(four_lines(kind="pharmacy"))
    assert len(problems) == 1
    assert problems[0].startswith("lines[3].kind: ")


def test_every_bad_key_is_reported() -> None:
    text = MINIMAL.replace('kind = "clinic"', 'kind = "pharmacy"') + "\n[ari]\nmax_connections = 0\n"
    problems = problems_of(text)
    assert {p.split(":", 1)[0] for p in problems} == {"lines[0].kind", "ari.max_connections"}


def test_a_flag_or_a_string_where_a_number_goes_is_refused_not_read_as_one() -> None:
    # TOML and JSON say what is a number: ``true`` is not 1, ``"10"`` not 10, ``1`` not a flag.
    text = MINIMAL + '\n[queue]\nwrap_up_seconds = true\n[ari]\nmax_connections = "10"\n'
    problems = problems_of(text)
    assert {p.split(":", 1)[0] for p in problems} == {"queue.wrap_up_seconds", "ari.max_connections"}
    assert all("valid" in p for p in problems)


def test_the_fields_a_string_names_still_take_their_strings() -> None:
    hours = (
        'zone = "Europe/Moscow"\nweekly = { mon = ["08:00-20:00"] }\nholidays = ["2026-01-01", 2026-01-02]'
    )
    text = MINIMAL + f"\n[hours.clinics]\n{hours}\n"
    settings = config.parse(text, "test.toml", environ={})
    assert settings.file.lines[0].kind is LineKind.CLINIC
    assert [d.isoformat() for d in settings.file.hours["clinics"].holidays] == ["2026-01-01", "2026-01-02"]
    problems = problems_of(text.replace('"2026-01-01"', "0"))
    assert problems == ["hours.clinics.holidays[0]: a date as YYYY-MM-DD (2026-11-23), not 0"], problems


def test_unknown_key_is_refused_with_its_path() -> None:
    problems = problems_of("[router]\nnode = 'a'\ntimeout = 5\n" + MINIMAL)
    assert problems == ["router.timeout: Extra inputs are not permitted"]


def test_unknown_key_in_a_line_is_refused_with_its_path() -> None:
    problems = problems_of(four_lines().replace('name = "line-3"', 'name = "line-3"\ncolour = "red"'))
    assert [p.split(":", 1)[0] for p in problems] == ["lines[3].colour"]


@pytest.mark.parametrize(
    ("section", "key"),
    [("ari", "password"), ("database", "password"), ("admin", "token"), ("router", "secret")],
)
def test_a_secret_in_the_file_is_refused(section: str, key: str) -> None:
    problems = problems_of(f'[{section}]\n{key} = "hunter2"\n' + MINIMAL)
    assert any(
        p.startswith(f"{section}.{key}: ") and "CALLROUTER_" in p and "environment" in p for p in problems
    ), problems
    assert all("hunter2" not in p for p in problems)


def test_a_secret_is_found_at_any_depth_in_any_case() -> None:
    text = MINIMAL.replace('name = "clinic-central"', 'name = "clinic-central"\nPassword = "x"')
    problems = problems_of(text)
    assert any(p.startswith("lines[0].Password: secrets do not belong") for p in problems), problems


def test_duplicate_line_names_are_refused() -> None:
    text = line_toml("clinic-a", '["+78162700101"]') + line_toml("clinic-a", '["+78162700102"]')
    (problem,) = problems_of(text)
    assert problem.startswith("lines: name 'clinic-a' is repeated")
    assert "clinic-a" in problem


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('"+78162700101"', '"+78162700101"'),
        ('"+78162700101"', '"78162700101"'),  # the same DID with and without "+"
        ('"_81627001XX"', '"_81627001XX"'),
    ],
)
def test_a_did_on_two_lines_is_refused(first: str, second: str) -> None:
    text = line_toml("clinic-a", f"[{first}]") + line_toml("clinic-b", f"[{second}]")
    (problem,) = problems_of(text)
    assert "is on both line 'clinic-a' and line 'clinic-b'" in problem


def test_a_did_listed_twice_on_one_line_is_fine() -> None:
    settings = config.parse(line_toml("clinic-a", '["+78162700101", "78162700101"]'), environ={})
    assert settings.lines[0].dids == ["+78162700101", "78162700101"]


@pytest.mark.parametrize(
    ("did", "words"),
    [
        ("_81627001.X", "must end pattern"),
        ("_8162700[9-1]X", "bad range 9-1"),
        ("_81627001AB", "bad character 'A'"),
        ("_", "empty pattern"),
        ("+7 816 270", "neither a number nor a pattern"),
        ("clinic", "neither a number nor a pattern"),
    ],
)
def test_bad_did_is_refused_with_its_path(did: str, words: str) -> None:
    (problem,) = problems_of(four_lines(dids=f'["{did}"]'))
    assert problem.startswith("lines[3].dids: ")
    assert words in problem


def test_unknown_country_is_refused() -> None:
    (problem,) = problems_of(four_lines(country="XX"))
    assert problem == "lines[3].country: unknown country code 'XX'"


def test_badly_written_country_is_refused() -> None:
    (problem,) = problems_of(four_lines(country="ru"))
    assert problem.startswith("lines[3].country: ")


def test_default_line_must_name_a_line() -> None:
    (problem,) = problems_of('[router]\ndefault_line = "nowhere"\n' + MINIMAL)
    assert problem.startswith("router.default_line: 'nowhere' names no line")


def test_no_lines_is_refused() -> None:
    problems = problems_of("[router]\nnode = 'a'\n")
    assert [p.split(":", 1)[0] for p in problems] == ["lines"]


def test_invalid_toml_is_refused() -> None:
    (problem,) = problems_of(MINIMAL + "\n[router\n")
    assert problem.startswith("not valid TOML: ")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        config.load(missing, environ={})
    assert caught.value.source == str(missing)
    assert caught.value.problems[0].startswith("cannot read: ")


def test_a_folder_is_refused_as_no_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path, environ={})
    assert caught.value.problems == ["a folder, not a file"]


# ---- the environment ------------------------------------------------------------
def test_environment_overrides_the_files_addresses() -> None:
    environ = {
        "CALLROUTER_ARI_URL": "http://asterisk.test:8088",
        "CALLROUTER_DATABASE_DSN": "postgres://router@db.test/calls",
        "CALLROUTER_SPOOL_DIR": "/tmp/spool",
        "UNRELATED": "x",
    }
    settings = config.parse(MINIMAL, environ=environ)
    assert settings.ari.url == "http://asterisk.test:8088"
    assert settings.database.dsn == "postgres://router@db.test/calls"
    assert settings.database.spool_dir == Path("/tmp/spool")


def test_environment_overrides_win_over_the_file() -> None:
    text = '[ari]\nurl = "http://file.test:8088"\n' + MINIMAL
    settings = config.parse(text, environ={"CALLROUTER_ARI_URL": "https://env.test:8089"})
    assert settings.ari.url == "https://env.test:8089"


@pytest.mark.parametrize(
    ("name", "value", "path"),
    [
        ("CALLROUTER_ARI_URL", "ftp://asterisk.test", "ari.url"),
        ("CALLROUTER_DATABASE_DSN", "mysql://db.test/calls", "database.dsn"),
        ("CALLROUTER_ADMIN_BIND", "localhost", "admin.bind"),
    ],
)
def test_a_bad_environment_value_is_reported_with_its_path(name: str, value: str, path: str) -> None:
    (problem,) = problems_of(MINIMAL, environ={name: value})
    assert problem.startswith(f"{path} ({name}): "), "the environment's value, not the file's"


@pytest.mark.parametrize(
    ("dsn", "said"),
    [
        ("postgresql://callrouter@127.0.0.1:99999/callrouter", "the port '99999' of '127.0.0.1:99999'"),
        ("postgresql://callrouter@127.0.0.1:abc/callrouter", "the port 'abc'"),
        ("postgresql://u:secret-pass@[::1]:0/db", "the port '0' of '[::1]:0'"),
        ("postgresql://u@h1:5432,h2:70000/db", "the port '70000' of 'h2:70000'"),
        ("postgresql:///db?port=99999", "the port '99999' of '?port='"),
        ("postgresql://callrouter@[::1:5432/x", "Invalid IPv6 URL"),
        ("postgresql://u@h1,/db", "an empty host in the host list 'h1,'"),
        ("postgresql://u@127.0.0.1:5432:1/db", "the port '5432:1'"),  # split at the first colon
        ("postgresql://u@h/db?sslmode", "name=value pairs"),
        ("postgresql:///db?host=127.0.0.1:99999", "the port '99999' of '127.0.0.1:99999'"),
        ("postgresql://u:secret-pass/x@db/calls", "percent-encode it"),  # never a piece of it
        ("postgresql://u:secret-pass?x@db/calls", "percent-encode it"),
    ],
)
def test_a_database_address_the_driver_would_fail_on_is_refused_by_its_path(dsn: str, said: str) -> None:
    """The driver reads the port only when it connects: report, migrate and results import
    failed there with a traceback, and check-config said OK."""
    (problem,) = problems_of(MINIMAL, environ={"CALLROUTER_DATABASE_DSN": dsn})
    assert problem.startswith("database.dsn (CALLROUTER_DATABASE_DSN): ") and said in problem, problem
    assert "secret-pass" not in problem


@pytest.mark.parametrize(
    ("table", "address"),
    [
        ("database", 'dsn = "postgresql://callrouter:secret-pass@127.0.0.1:5432/callrouter"'),
        (
            "database",
            'dsn = "postgresql://callrouter@127.0.0.1/callrouter?sslmode=require&password=secret-pass"',
        ),
        ("ari", 'url = "http://asterisk:secret-pass@127.0.0.1:8088"'),
    ],
)
def test_a_password_in_an_address_of_the_file_is_refused_and_never_repeated(table: str, address: str) -> None:
    (problem,) = problems_of(f"[{table}]\n{address}\n" + MINIMAL)
    key = address.partition(" ")[0]
    assert problem.startswith(f"{table}.{key}: a password in the address") and "secret-pass" not in problem
    # from the environment (not the file), as the environment holds the other secrets: taken
    dsn = "postgresql://callrouter:secret-pass@127.0.0.1:5432/callrouter"
    assert config.parse(MINIMAL, environ={"CALLROUTER_DATABASE_DSN": dsn}).database.dsn == dsn


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u@h1:5432,h2:5433/db",
        "postgresql://u@[::1]:5432/db",
        "postgresql://u@[::1]/db",
        "postgresql:///db?host=/run/postgresql&port=5433",
        "postgres://u:p%40ss@db.test/calls",
        "postgresql://u@h:%35432/db",  # the driver unquotes the port
        "postgresql://u@[::1]:abc/db",  # the driver reads no port there, and takes its default
        "postgresql://h/db?user=a@b",
    ],
)
def test_the_database_addresses_libpq_takes_are_taken(dsn: str) -> None:
    assert config.parse(MINIMAL, environ={"CALLROUTER_DATABASE_DSN": dsn}).database.dsn == dsn


def test_secrets_come_from_the_environment_as_secret_str() -> None:
    environ = {
        "CALLROUTER_ARI_PASSWORD": "ari-secret",
        "CALLROUTER_DATABASE_PASSWORD": "db-secret",
        "CALLROUTER_ADMIN_TOKEN": "admin-secret",
    }
    settings = config.parse(MINIMAL, environ=environ)
    assert isinstance(settings.ari_password, SecretStr)
    assert isinstance(settings.database_password, SecretStr)
    assert isinstance(settings.admin_token, SecretStr)
    assert settings.ari_password.get_secret_value() == "ari-secret"
    assert settings.database_password.get_secret_value() == "db-secret"
    assert settings.admin_token.get_secret_value() == "admin-secret"
    shown = repr(settings) + str(settings)
    for secret in environ.values():
        assert secret not in shown


def test_an_explicit_environ_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``environ`` is how tests and tools say "this is the whole environment";
    # the process's own CALLROUTER_* variables must not leak in beside it.
    monkeypatch.setenv("CALLROUTER_ARI_URL", "http://leaked.test:8088")
    monkeypatch.setenv("CALLROUTER_ARI_PASSWORD", "leaked")
    settings = config.parse(MINIMAL, environ={})
    assert settings.ari.url == "http://127.0.0.1:8088"
    assert settings.ari_password is None


def test_without_environ_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLROUTER_ARI_URL", "http://process.test:8088")
    monkeypatch.setenv("CALLROUTER_ADMIN_TOKEN", "from-process")
    settings = config.parse(MINIMAL)
    assert settings.ari.url == "http://process.test:8088"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "from-process"


# ---- the CLI --------------------------------------------------------------------
@pytest.mark.usefixtures("clean_cli")
def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{EXAMPLE}: OK (15 lines, 18 DIDs of which 1 patterns)"
    assert err == ""


@pytest.mark.usefixtures("clean_cli")
def test_check_config_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[ari]\npassword = "x"\n' + four_lines(kind="pharmacy"), encoding="utf-8")
    expected = problems_of(bad.read_text(encoding="utf-8"))
    assert expected == [  # the secret, the key pydantic refuses, the kind
        "ari.password: secrets do not belong in the file; set CALLROUTER_* in the environment",
        "ari.password: Extra inputs are not permitted",
        "lines[3].kind: Input should be 'clinic', 'hotline' or 'ambulance'",
    ]

    with pytest.raises(SystemExit) as exited:
        cli.main(["check-config", str(bad)])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{bad}: invalid configuration" in err
    for problem in expected:
        assert f"  {problem}\n" in err
    assert "lines[3].kind: " in err
    assert "ari.password: secrets do not belong" in err


@pytest.mark.usefixtures("clean_cli")
def test_check_config_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["check-config", str(tmp_path / "nope.toml")])
    assert exited.value.code == 2
    assert "cannot read" in capsys.readouterr().err


BACK = "overflow_topic: the overflows lead back to"


@pytest.mark.parametrize(
    ("overflows", "named"),
    [
        ({"results": "results"}, [f"topics.results.{BACK} 'results' (results -> results)"]),
        ({"results": "operator", "operator": "results"}, [
            f"topics.results.{BACK} 'results' (results -> operator -> results)",
            f"topics.operator.{BACK} 'operator' (operator -> results -> operator)",
        ]),
    ],
)  # fmt: skip
def test_overflows_that_lead_back_to_their_topic_are_refused(
    overflows: dict[str, str], named: list[str]
) -> None:
    """A caller overflowed round a loop would be moved for ever (the router spun on it)."""
    text = EXAMPLE.read_text().replace('max_wait_seconds = 600\noverflow_topic = "operator"\n', "", 1)
    for topic, to in overflows.items():
        header = f"[topics.{topic}]\n"
        text = text.replace(header, f'{header}max_wait_seconds = 600\noverflow_topic = "{to}"\n', 1)
    problems = [p for p in problems_of(text) if "overflow" in p]
    assert [p.split(": end them")[0] for p in problems] == named, problems


@pytest.mark.parametrize("section", ["callback", "results"])
@pytest.mark.parametrize(
    "dial",
    ["PJSIP/{number}@{trunk}", "PJSIP/{number}@trunk{", "PJSIP/number@trunk", "PJSIP/{number}@trunk;x"],
)
def test_a_dial_string_the_router_could_not_fill_is_refused(section: str, dial: str) -> None:
    """The router fills the one {number} with str.format: any other brace failed every dial."""
    problems = problems_of(MINIMAL + f'\n[{section}]\ndial = "{dial}"\n')
    said = [p for p in problems if p.startswith(f"{section}.dial: ")]
    assert len(said) == 1 and "one {number}" in said[0], problems


def test_a_dial_string_with_its_number_is_taken() -> None:
    settings = config.parse(
        MINIMAL + '\n[callback]\ndial = "PJSIP/{number}@trunk-out.1"\n', "t.toml", environ={}
    )
    assert settings.file.callback.dial.format(number="78162700101") == "PJSIP/78162700101@trunk-out.1"


def test_an_endless_file_is_refused_and_a_byte_order_mark_skipped(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load("/dev/zero", environ={})
    assert caught.value.problems == ["larger than 20 MB: not a file of settings"]
    bom = tmp_path / "bom.toml"
    bom.write_text(MINIMAL, encoding="utf-8-sig")
    assert config.load(bom, environ={}).lines[0].name == "clinic-central"


@pytest.mark.parametrize(
    ("bind", "said"),
    [
        ("127.0.0.1:99999", "the port must be a number from 1 to 65535"),
        ("127.0.0.1", "the port must be a number from 1 to 65535"),
        ("nonsense host:80", "'nonsense host' is no address or host name"),
        ("999.1.1.1:80", "999.1.1.1 is no IPv4 address"),
        ("[::zz]:80", "[::zz] is no IPv6 address"),
    ],
)
def test_a_bind_address_that_cannot_be_bound_is_refused_in_words(bind: str, said: str) -> None:
    problems = problems_of(MINIMAL + f'\n[admin]\nbind = "{bind}"\n')
    assert problems == [f"admin.bind: host:port (127.0.0.1:8090, [::1]:8090): {said}"], problems


def test_an_ipv6_bind_address_is_taken_and_bound_without_its_brackets() -> None:
    admin = config.parse(MINIMAL + '\n[admin]\nbind = "[::1]:8091"\n', "t.toml", environ={}).admin
    assert (admin.host, admin.port) == ("::1", 8091)


def test_nan_or_infinity_is_no_number_of_seconds() -> None:
    problems = problems_of(MINIMAL + "\n[queue]\nwrap_up_seconds = nan\nring_timeout_seconds = inf\n")
    assert sorted(problems) == [
        "queue.ring_timeout_seconds: Input should be a finite number",
        "queue.wrap_up_seconds: Input should be a finite number",
    ], problems


def test_the_results_pepper_comes_from_the_environment_and_is_long_enough() -> None:
    (problem,) = problems_of(MINIMAL, {"CALLROUTER_RESULTS_PEPPER": "too short"})
    assert problem.startswith("CALLROUTER_RESULTS_PEPPER: at least 16 characters"), problem
    assert "too short" not in problem
    pepper = "a pepper long enough for a centre"
    settings = config.parse(MINIMAL, environ={"CALLROUTER_RESULTS_PEPPER": pepper})
    assert settings.results_pepper is not None and settings.results_pepper.get_secret_value() == pepper
    assert pepper not in repr(settings)
    assert config.parse(MINIMAL, environ={}).results_pepper is None
    problems = problems_of('[results]\npepper = "a pepper long enough for a centre"\n' + MINIMAL)
    assert any(p.startswith("results.pepper: secrets do not belong") for p in problems), problems


@pytest.mark.parametrize("table", ["[results.window]", "[results.windows.line-1]"])
def test_a_results_window_of_no_day_is_refused_with_its_path(table: str) -> None:
    """It would never open: its line's results would expire unphoned."""
    text = f'[results]\nconsult_topic = "operator"\n\n{table}\ndays = []\n' + MINIMAL
    problems = problems_of(text)
    path = "results.window.days" if table == "[results.window]" else "results.windows.line-1.days"
    assert any(p.startswith(f"{path}: ") for p in problems), problems


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://", "no host"),
        ("http://127.0.0.1:99999", "the port is a number"),
        ("http://127.0.0.1:0", "the port is a number"),
        ("http://127.0.0.1:ari", "the port is a number"),
        ("http://exa mple:80/ x", "no spaces"),
    ],
)
def test_an_ari_address_the_client_could_not_connect_to_is_refused_by_its_path(url: str, said: str) -> None:
    (problem,) = problems_of(f'[ari]\nurl = "{url}"\n' + MINIMAL)
    assert problem.startswith("ari.url: ") and said in problem, problem


def test_a_config_nested_a_thousand_deep_is_refused_not_a_traceback() -> None:
    (problem,) = problems_of("x = " + "[" * 1000 + "]" * 1000 + "\n" + MINIMAL)
    assert problem == "not valid TOML: nested too deeply"


def test_a_language_code_is_a_code_not_a_path() -> None:
    problems = problems_of('[menu]\nlanguages = ["ru", "../callrouter.example"]\n' + MINIMAL)
    assert problems and problems[0].startswith("menu.languages[1]: "), problems
    assert config.parse('[menu]\nlanguages = ["ru", "en", "pt-BR", "zh_Hant"]\n' + MINIMAL, environ={})


def test_a_topic_table_is_named_as_a_topic_is() -> None:
    text = '[topics."=HYPERLINK(1)"]\nprompt = "queue_joined"\n' + MINIMAL
    problems = problems_of(text)
    assert any(p.startswith("topics.'=HYPERLINK(1)': not a name (") for p in problems), problems


def test_a_did_longer_than_any_phone_number_is_refused() -> None:
    (problem,) = problems_of(line_toml("c", '["+7816270010100000000000"]'))
    assert problem.startswith("lines[0].dids: ") and "at most 15 digits" in problem, problem


def test_a_password_in_the_files_address_is_the_files_even_when_the_environment_overrides_it() -> None:
    text = '[ari]\nurl = "http://u:secret-pass@127.0.0.1:8088"\n' + MINIMAL
    (problem,) = problems_of(text, environ={"CALLROUTER_ARI_URL": "http://127.0.0.1:8088"})
    assert problem.startswith("ari.url: a password in the address"), problem
