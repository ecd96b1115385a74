"""docker/'s shell scripts, run: they parse, and the Asterisk entrypoint renders
the repository's asterisk-conf/ and dialplans/ exactly as the dev stack does
(devstack/asterisk_files.py), refusing values that would break them.

These tests spawn bash (and git), so they live outside tests/unit/.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest

from devstack.asterisk_files import PLACEHOLDER, render, values_for
from tests.packaging.docker_files import DOCKER, PLACEHOLDER_VALUE, REPO, environment

if TYPE_CHECKING:
    from devstack.stack import StackInfo

ASTERISK_ENTRYPOINT = DOCKER / "asterisk/entrypoint.sh"

SITE = {
    "SIP_BIND": "0.0.0.0:5060",
    "MEDIA_ADDRESS": "192.0.2.10",
    "TRUNK_MATCH": "198.51.100.0/24",
    "TRUNK_CONTACT": "sip:198.51.100.1:5060",
    "ARI_BIND": "127.0.0.1",
    "ARI_PORT": "8088",
    "ARI_USER": "callrouter",
    "ARI_PASSWORD": "ari&secret\\1",
    "RTP_START": "10000",
    "RTP_END": "20000",
    "FALLBACK_DIAL": "PJSIP/fallback-desk",
    "FALLBACK_CONTACT": "sip:fallback-desk@192.0.2.20:5060",
}


def test_shell_scripts_parse_and_are_executable() -> None:
    scripts = sorted(DOCKER.rglob("*.sh"))
    assert scripts
    for script in scripts:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{script}: {result.stderr}"
        assert os.access(script, os.X_OK), f"{script} is not executable"


def test_the_operators_env_file_is_ignored_by_git() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "-q", "docker/.env"], cwd=REPO, capture_output=True, check=False
    )
    assert result.returncode == 0, "docker/.env holds the operator's secrets"


# ---- Asterisk: rendered from the dev stack's files, the dev stack's way ----------------


def _bash_array(script: str, name: str) -> set[str]:
    match = re.search(rf"^{name}=\(([^)]*)\)", script, re.MULTILINE)
    assert match is not None, f"no {name}=(...) in the entrypoint"
    return set(match.group(1).split())


def placeholders_in_repo() -> set[str]:
    names: set[str] = set()
    sources = [
        *(REPO / "asterisk-conf").glob("*.conf"),
        *(REPO / "dialplans").glob("*.conf"),
        REPO / "asterisk-conf/pjsip_agent.conf.in",
    ]
    for source in sources:
        names.update(PLACEHOLDER.findall(source.read_text(encoding="utf-8")))
    return names


def test_the_entrypoint_fills_every_placeholder_the_dev_stack_fills() -> None:
    script = ASTERISK_ENTRYPOINT.read_text(encoding="utf-8")
    general = _bash_array(script, "PLACEHOLDERS")
    agent = _bash_array(script, "AGENT_PLACEHOLDERS")
    assert general | agent == placeholders_in_repo()
    info = SimpleNamespace(
        sip_port=5060, ari_port=8088, ari_user="u", ari_password="p", fallback_port=5070, trunk_port=5080
    )
    assert general == set(values_for(cast("StackInfo", info)))
    assert general <= set(environment("asterisk")), "Compose gives Asterisk every one"


def run_entrypoint(etc: Path, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CALLROUTER_ASTERISK_TEMPLATES": str(REPO),
        "CALLROUTER_ASTERISK_ETC": str(etc),
        **values,
    }
    return subprocess.run(
        ["bash", str(ASTERISK_ENTRYPOINT), "render"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_entrypoint_renders_exactly_what_the_dev_stack_renders(tmp_path: Path) -> None:
    values = {
        **SITE,
        "AGENTS": "agent1 agent2=sip:agent2@192.0.2.31:5060",
        "AGENT_PASSWORDS": "agent1=pw=one agent2=pw-two",
    }
    result = run_entrypoint(tmp_path / "etc", values)
    assert result.returncode == 0, result.stderr
    expected = {}
    for folder in ("asterisk-conf", "dialplans"):
        for source in sorted((REPO / folder).glob("*.conf")):
            expected[source.name] = render(source.read_text(encoding="utf-8"), SITE, source.name)
    template = (REPO / "asterisk-conf/pjsip_agent.conf.in").read_text(encoding="utf-8")
    agents = [
        ("agent1", "", "pw=one"),
        ("agent2", "sip:agent2@192.0.2.31:5060", "pw-two"),
    ]
    expected["pjsip_agents.conf"] = "\n".join(
        render(template, dict(SITE, AGENT_ID=a, AGENT_CONTACT=c, AGENT_PASSWORD=p), "agent")
        for a, c, p in agents
    )
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "etc").iterdir()}
    assert written == expected


def test_the_entrypoint_without_agents_writes_an_empty_agents_file(tmp_path: Path) -> None:
    result = run_entrypoint(tmp_path / "etc", SITE)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc/pjsip_agents.conf").read_text(encoding="utf-8") == ""


def test_the_entrypoint_escapes_semicolons(tmp_path: Path) -> None:
    values = dict(SITE, FALLBACK_CONTACT="sip:desk@192.0.2.20;transport=tcp")
    result = run_entrypoint(tmp_path / "etc", values)
    assert result.returncode == 0, result.stderr
    pjsip = (tmp_path / "etc/pjsip.conf").read_text(encoding="utf-8")
    assert "contact = sip:desk@192.0.2.20\\;transport=tcp\n" in pjsip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MEDIA_ADDRESS": None}, "MEDIA_ADDRESS is not set"),
        ({"TRUNK_MATCH": ""}, "TRUNK_MATCH is not set"),
        ({"ARI_PASSWORD": PLACEHOLDER_VALUE}, "ARI_PASSWORD is still the placeholder"),
        ({"ARI_PASSWORD": "two\nlines"}, "ARI_PASSWORD holds a line break"),
        ({"AGENTS": "agent1", "AGENT_PASSWORDS": "agent2=pw-secret"}, "agent1 has no password"),
        ({"AGENTS": "agent1 agent1", "AGENT_PASSWORDS": "agent1=pw-secret"}, "listed twice"),
        ({"AGENTS": "agent1", "AGENT_PASSWORDS": "agent1=pw-secret x=pw-secret"}, "x is not in AGENTS"),
        ({"AGENTS": "agent1", "AGENT_PASSWORDS": "agent1"}, "every entry is id=password"),
        ({"AGENTS": "a<b>", "AGENT_PASSWORDS": "a<b>=pw-secret"}, "may hold only"),
        ({"AGENTS": "agent1", "AGENT_PASSWORDS": "agent1=change-me"}, "AGENT_PASSWORD is still"),
    ],
)
def test_the_entrypoint_refuses_bad_values(
    tmp_path: Path, change: dict[str, str | None], message: str
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "previous.conf").write_text("; left alone\n")
    values = {k: v for k, v in {**SITE, **change}.items() if v is not None}
    result = run_entrypoint(etc, values)
    assert result.returncode != 0
    assert message in result.stderr
    assert "pw-secret" not in result.stderr + result.stdout
    assert [p.name for p in etc.iterdir()] == ["previous.conf"]
