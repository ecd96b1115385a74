"""deploy/systemd/ as systemd and an installer would read it.

Where ``systemd-analyze`` exists (Debian 12: systemd 252), the unit is verified
by it (with ExecStart's path pointed at this checkout's own console script, as
``verify`` wants the command to exist) and its sandbox rated by ``security
--offline``; elsewhere each key is checked against the directives systemd
documents. Always: the commands are the package's console script with
arguments its CLI accepts, every path the unit names is made by the unit or
installed from this repository by the README's commands, the state directory is
where the router spools, the restart policy follows the router's exit codes,
and the env example holds no secret.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from callrouter import cli, config
from callrouter.app import EXIT_REPLACED
from callrouter.config import EnvironmentValues

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy/systemd"
UNIT = DEPLOY / "callrouter.service"
ENV_EXAMPLE = DEPLOY / "callrouter.env.example"
SYSUSERS = DEPLOY / "callrouter.sysusers.conf"
VENV = Path("/opt/callrouter")
SECRETS = ("CALLROUTER_ARI_PASSWORD", "CALLROUTER_DATABASE_PASSWORD", "CALLROUTER_ADMIN_TOKEN",
           "CALLROUTER_REPEAT_KEY", "CALLROUTER_RESULTS_PEPPER")  # fmt: skip
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "MemoryDenyWriteExecute": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet": "",
    "SystemCallArchitectures": "native",
}  # fmt: skip
# What systemd documents for these sections (systemd.unit, .service, .exec, .kill): the
# check where systemd-analyze is not installed.
DIRECTIVES = {
    "Unit": {"Description", "Documentation", "Wants", "Requires", "After", "Before",
             "StartLimitIntervalSec", "StartLimitBurst", "ConditionPathExists"},
    "Service": {"Type", "User", "Group", "EnvironmentFile", "Environment", "StateDirectory",
                "StateDirectoryMode", "ConfigurationDirectory", "UMask", "ExecStartPre", "ExecStart",
                "KillSignal", "TimeoutStopSec", "Restart", "RestartSec", "RestartPreventExitStatus",
                "AmbientCapabilities", "PrivateUsers", "PrivateMounts", "ProtectClock", "ProtectHostname",
                "ProtectProc", "ProcSubset", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
                "LockPersonality", "RemoveIPC", "SystemCallFilter", "SystemCallErrorNumber", *HARDENING},
    "Install": {"WantedBy"},
}  # fmt: skip


def read_unit(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value given (a key may be repeated), continuation lines joined."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, list[str]]:
    return read_unit()["Service"]


def one(key: str) -> str:
    (value,) = service()[key]
    return value


def commands() -> list[list[str]]:
    """ExecStartPre and ExecStart, split as systemd splits them, prefixes ("-") off."""
    lines = service().get("ExecStartPre", []) + service()["ExecStart"]
    return [shlex.split(line.lstrip("-@:+!")) for line in lines]


def environment() -> dict[str, str]:
    return dict(item.split("=", 1) for line in service().get("Environment", []) for item in shlex.split(line))


def state_directory() -> Path:
    return Path("/var/lib") / one("StateDirectory")


def installed() -> dict[Path, list[Path]]:
    """What the README's ``install`` commands put where: target -> the repository files."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    found: dict[Path, list[Path]] = {}
    for line in readme.splitlines():
        words = shlex.split(line.split("#", 1)[0]) if line.startswith("install ") else []
        files = [w for w in words[1:] if not w.startswith("-") and not re.fullmatch(r"0[0-7]{3}", w)]
        if len(files) >= 2 and "-d" not in words:
            *sources, target = files
            found[Path(target)] = [p for s in sources for p in sorted(REPO.glob(s))] or [REPO / sources[0]]
    return found


def test_the_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze verify (``./dev.sh`` installs systemd where it is missing), and every
    key is one systemd documents."""
    for section, keys in read_unit().items():
        assert set(keys) <= DIRECTIVES[section], f"[{section}]: {set(keys) - DIRECTIVES[section]}"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: ./dev.sh installs Debian's systemd package for it")
    ours = Path(sys.executable).with_name("callrouter")  # this checkout's console script
    unit = UNIT.read_text(encoding="utf-8").replace(str(VENV / "bin/callrouter"), str(ours))
    copy = tmp_path / UNIT.name
    copy.write_text(unit)
    verified = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    rated = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(copy)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", rated.stdout)
    assert exposure is not None, rated.stdout + rated.stderr
    assert float(exposure.group(1)) <= 2.0, rated.stdout


def test_the_commands_are_the_packages_console_script_with_arguments_it_takes() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    parser = cli.build_parser()
    seen = []
    for command in commands():
        program = Path(command[0])
        assert program.parent == VENV / "bin" and program.name in scripts, program
        args = parser.parse_args(command[1:])
        assert args.config.startswith("/"), "an absolute config path"
        seen.append(args.command)
    assert seen[-1] == "run", "ExecStart runs the router"
    assert set(seen) <= {"migrate", "run"}


def test_every_path_the_unit_names_is_made_by_it_or_installed_from_the_repo() -> None:
    made = {state_directory(), Path("/etc") / one("ConfigurationDirectory")}
    from_repo = installed()
    named = {Path(word) for command in commands() for word in command if word.startswith("/")}
    named |= {Path(p.lstrip("-")) for p in service()["EnvironmentFile"]}
    named |= {Path(v) for v in environment().values() if v.startswith("/")}
    for path in sorted(named):
        if path in made:
            continue
        if path.parent == VENV / "bin":  # the venv's console script: the README installs the package there
            assert f"python3 -m venv {VENV}" in (DEPLOY / "README.md").read_text()
            continue
        assert path in from_repo, f"{path}: neither made by the unit nor installed by the README"
        for source in from_repo[path]:
            assert source.is_file(), f"{path} is installed from {source}, which is not in the repository"
    # The config's relative prompts.source is read next to it: the README installs the texts there.
    prompts = Path("/etc") / one("ConfigurationDirectory") / "prompts"
    texts = [p for target, sources in from_repo.items() if target == prompts for p in sources]
    assert {p.name for p in texts} == {p.name for p in (REPO / "prompts").glob("*.toml")}


def test_the_state_directory_is_the_routers_spool() -> None:
    assert environment()["CALLROUTER_SPOOL_DIR"] == str(state_directory())
    settings = config.load(REPO / "callrouter.example.toml", environ=environment())
    assert settings.database.spool_dir == state_directory(), "the unit's environment overrides the file"
    assert "CALLROUTER_SPOOL_DIR" not in assignments(ENV_EXAMPLE), "the env file would override the unit"
    assert one("StateDirectoryMode") == "0700" and one("UMask") == "0077", "the spool holds callers' numbers"


def test_restarts_follow_the_routers_exit_codes() -> None:
    assert one("Restart") == "on-failure"
    assert set(one("RestartPreventExitStatus").split()) == {str(cli.EXIT_BAD_CONFIG), str(EXIT_REPLACED)}
    assert read_unit()["Unit"]["StartLimitIntervalSec"] == ["0"], "never gives up on exit 1"


@pytest.mark.parametrize(("key", "value"), sorted(HARDENING.items()))
def test_the_sandbox(key: str, value: str) -> None:
    assert one(key) == value


def test_it_runs_as_the_user_sysusers_makes(tmp_path: Path) -> None:
    user = one("User")
    assert one("Group") == user and user != "root"
    entries = [
        line.split() for line in SYSUSERS.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert [(e[0], e[1]) for e in entries] == [("u", user)]
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is not None:
        (tmp_path / "etc").mkdir()
        dry = subprocess.run([sysusers, "--dry-run", f"--root={tmp_path}", str(SYSUSERS)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert dry.returncode == 0 and f"Creating user '{user}'" in dry.stdout + dry.stderr, dry.stderr


def assignments(path: Path) -> dict[str, str]:
    """The variables a file sets (commented lines set nothing)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def test_the_env_example_holds_no_secret_and_names_every_variable() -> None:
    assert service()["EnvironmentFile"] == ["/etc/callrouter/callrouter.env"], "required: no leading '-'"
    assert all(not assignments(ENV_EXAMPLE).get(name) for name in SECRETS)
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    variables = {f"CALLROUTER_{name.upper()}" for name in EnvironmentValues.model_fields} - {
        "CALLROUTER_SPOOL_DIR"
    }
    assert {v for v in variables if f"#{v}=" not in text} == set(), "each one, commented out"
