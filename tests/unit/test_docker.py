"""The production-like composition in docker/, checked as far as it can be here.

No container engine runs where the tests run (DECISIONS.md, "docker/"), so
these tests read the files: compose.yaml parses (with the small block-YAML
reader below: PyYAML is not a dependency), every path it and the Dockerfiles
name exists and reaches the build, the Asterisk entrypoint renders the
repository's asterisk-conf/ and dialplans/ exactly as the dev stack does, the
services agree on their addresses, the dashboard asks only for metrics the
router exports, and .env.example holds placeholders only.
"""

from __future__ import annotations

import fnmatch
import inspect
import ipaddress
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callrouter.config import load
from callrouter.metrics import LiveCollector, Metrics
from devstack.asterisk_files import PLACEHOLDER, render, values_for

if TYPE_CHECKING:
    from devstack.stack import StackInfo

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
ASTERISK_ENTRYPOINT = DOCKER / "asterisk/entrypoint.sh"
SERVICES = {"asterisk", "postgres", "callrouter", "prometheus", "grafana"}
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET")
PLACEHOLDER_VALUE = "change-me"


# ---- a small reader for the block YAML these files use -----------------------


class YamlError(ValueError):
    pass


@dataclass(frozen=True)
class _Line:
    number: int
    indent: int
    text: str


_KEY = re.compile(r"""^(?P<key>"[^"]*"|'[^']*'|[A-Za-z0-9_][A-Za-z0-9_.\-/]*):(?:[ ]+(?P<rest>.*))?$""")
_UNSUPPORTED_START = tuple("[]{}&*!|>%@`")


def _strip_comment(text: str) -> str:
    """Drop a comment: '#' at the start or after a space, outside a quoted scalar."""
    quote = ""
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'" and (i == 0 or text[:i].rstrip().endswith((":", "-"))):
            quote = char
        elif char == "#" and (i == 0 or text[i - 1] == " "):
            return text[:i].rstrip()
    return text.rstrip()


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _split_key(text: str) -> tuple[str, str] | None:
    match = _KEY.match(text)
    if match is None:
        return None
    key = match.group("key")
    if key[0] in "\"'":
        key = key[1:-1]
    return key, match.group("rest") or ""


def _scalar(text: str, number: int) -> str:
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise YamlError(f"line {number}: unterminated double-quoted scalar")
        value: str = json.loads(text)
        return value
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise YamlError(f"line {number}: unterminated single-quoted scalar")
        return text[1:-1].replace("''", "'")
    if text.startswith(_UNSUPPORTED_START):
        raise YamlError(f"line {number}: flow style, anchors, tags and block scalars are not supported")
    if ": " in text:
        raise YamlError(f"line {number}: ': ' inside a plain scalar")
    return text


def _block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    if _is_item(lines[i].text):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _check_dedent(lines: list[_Line], i: int, indent: int) -> None:
    if i < len(lines) and lines[i].indent > indent:
        raise YamlError(f"line {lines[i].number}: unexpected indentation")


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(lines) and lines[i].indent == indent and _is_item(lines[i].text):
        line = lines[i]
        rest = line.text[1:].lstrip(" ")
        if not rest:
            if i + 1 < len(lines) and lines[i + 1].indent > indent:
                value, i = _block(lines, i + 1, lines[i + 1].indent)
            else:
                value, i = None, i + 1
        elif _split_key(rest) is not None:
            # "- key: value": a mapping that starts on the dash's line.
            inner = indent + len(line.text) - len(rest)
            lines[i] = _Line(line.number, inner, rest)
            value, i = _mapping(lines, i, inner)
        else:
            value, i = _scalar(rest, line.number), i + 1
        items.append(value)
    _check_dedent(lines, i, indent)
    return items, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i].indent == indent:
        line = lines[i]
        split = _split_key(line.text)
        if split is None:
            raise YamlError(f"line {line.number}: expected 'key: value', got {line.text!r}")
        key, rest = split
        if key in result:
            raise YamlError(f"line {line.number}: duplicate key {key!r}")
        i += 1
        nested = i < len(lines) and (
            lines[i].indent > indent or (lines[i].indent == indent and _is_item(lines[i].text))
        )
        if rest:
            result[key] = _scalar(rest, line.number)
        elif nested:
            result[key], i = _block(lines, i, lines[i].indent)
        else:
            result[key] = None
    _check_dedent(lines, i, indent)
    return result, i


def load_yaml(text: str) -> Any:
    """Block mappings and sequences of plain or quoted scalars; all scalars are str."""
    lines: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = raw.lstrip(" ")
        if body.startswith("\t"):
            raise YamlError(f"line {number}: tab in indentation")
        content = _strip_comment(body)
        if content in ("---", "..."):
            raise YamlError(f"line {number}: one document only")
        if content:
            lines.append(_Line(number, len(raw) - len(body), content))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0].indent)
    if end != len(lines):
        raise YamlError(f"line {lines[end].number}: unexpected indentation")
    return value


def test_yaml_reader_reads_what_the_files_use() -> None:
    text = """
# comment
a:
  b: plain value  # trailing comment
  c: "quoted # not a comment"
  d: 'it''s'
  empty:
  list:
    - one
    - -c
    - key: 1
      other: x
    -
      nested: y
same-indent:
- p
- q
"""
    assert load_yaml(text) == {
        "a": {
            "b": "plain value",
            "c": "quoted # not a comment",
            "d": "it's",
            "empty": None,
            "list": ["one", "-c", {"key": "1", "other": "x"}, {"nested": "y"}],
        },
        "same-indent": ["p", "q"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "a: [1, 2]\n",
        "a: {b: c}\n",
        "a: &anchor x\n",
        "a: |\n  text\n",
        "a: 1\na: 2\n",
        "a: 1\n  b: 2\n",
        "a:\n  - x\n  y: z\n",
        "a: b: c\n",
    ],
)
def test_yaml_reader_refuses_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(YamlError):
        load_yaml(text)


# ---- helpers ------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose() -> dict[str, Any]:
    data = load_yaml((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert isinstance(services, dict)
    result = services[name]
    assert isinstance(result, dict)
    return result


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    assert isinstance(env, dict), f"{name}: environment is written as a mapping"
    return {str(k): str(v) for k, v in env.items()}


def with_defaults(value: str) -> str:
    """Interpolate as Compose does with an empty environment; refuse required variables."""

    def fill(match: re.Match[str]) -> str:
        if match.group("op") not in (":-", "-"):
            raise AssertionError(f"{value!r} needs {match.group('name')} from .env")
        return match.group("arg")

    return _VARIABLE.sub(fill, value)


def walk_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [str(key), *walk_strings(value)]]
    if isinstance(node, list):
        return [s for value in node for s in walk_strings(value)]
    return [node] if isinstance(node, str) else []


def command_option(name: str, option: str) -> str:
    """The value of ``option=value`` in a service's command list."""
    for arg in service(name)["command"]:
        if arg.startswith(f"{option}="):
            return str(arg.split("=", 1)[1])
    raise AssertionError(f"{name}: no {option}= in its command")


def volumes(name: str) -> list[dict[str, Any]]:
    result = service(name).get("volumes") or []
    assert all(isinstance(v, dict) for v in result), f"{name}: volumes use the long syntax"
    return cast("list[dict[str, Any]]", result)


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


# ---- compose.yaml: structure and paths -------------------------------------------


def test_compose_has_the_five_services() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    assert service("postgres")["image"].startswith("postgres:15")
    assert service("prometheus")["image"].startswith("prom/prometheus:")
    assert service("grafana")["image"].startswith("grafana/grafana:")
    for name in SERVICES:
        # Host networking (see compose.yaml): published ports would be ignored.
        assert service(name)["network_mode"] == "host", name
        assert "ports" not in service(name), name
        assert service(name)["restart"] == "unless-stopped", name


@pytest.mark.parametrize("name", ["asterisk", "callrouter"])
def test_built_images_use_the_repository_root_as_context(name: str) -> None:
    build = service(name)["build"]
    assert build["context"] == ".."
    context = (DOCKER / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).is_file()
    assert build["dockerfile"] == f"docker/{name}/Dockerfile"


def test_every_mounted_path_exists_and_every_volume_is_declared() -> None:
    declared = set(compose()["volumes"])
    used = set()
    for name in SERVICES:
        for volume in volumes(name):
            if volume["type"] == "bind":
                source = DOCKER / with_defaults(volume["source"])
                assert source.exists(), f"{name}: {volume['source']} -> {source} is missing"
            else:
                assert volume["type"] == "volume"
                assert volume["source"] in declared, f"{name}: volume {volume['source']} is not declared"
                used.add(volume["source"])
    assert used == declared


def test_secrets_come_only_from_the_environment() -> None:
    for name in SERVICES:
        for key, value in environment(name).items():
            if any(word in key for word in SECRET_WORDS):
                match = _VARIABLE.fullmatch(value)
                assert match is not None, f"{name}: {key} must be ${{VAR}} from .env, not a literal"
                default = match.group("op") in (":-", "-") and match.group("arg")
                assert not default, f"{name}: {key} has a default secret"


def test_postgres_is_ready_before_the_router_migrates() -> None:
    depends = service("callrouter")["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in service("postgres")


# ---- Dockerfiles ----------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, args = (pending + line).partition(" ")
        result.append((word.upper(), args.strip()))
        pending = ""
    assert not pending, f"{dockerfile}: ends inside a continued line"
    return result


def copies(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    result = []
    for word, args in instructions(dockerfile):
        if word in ("COPY", "ADD"):
            assert word == "COPY", f"{dockerfile}: use COPY"
            parts = shlex.split(args)
            if any(p.startswith("--from=") for p in parts):
                continue
            paths = [p for p in parts if not p.startswith("--")]
            result.append((paths[:-1], paths[-1]))
    return result


def _pattern_matches(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return True  # Docker: a pattern that matches a folder matches what is in it
    if pattern[0] == "**":
        return any(_pattern_matches(pattern[1:], parts[k:]) for k in range(len(parts) + 1))
    if not parts:
        return False
    return fnmatch.fnmatchcase(parts[0], pattern[0]) and _pattern_matches(pattern[1:], parts[1:])


def sent_to_build(dockerignore: list[str], path: str) -> bool:
    """Whether Docker sends ``path`` (relative to the context): the last matching pattern decides."""
    excluded = False
    for pattern in dockerignore:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        if _pattern_matches(body.strip("/").split("/"), path.split("/")):
            excluded = not negate
    return not excluded


def dockerignore_for(dockerfile: Path) -> list[str]:
    path = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert path.is_file(), f"{path} keeps .run/ and .venv/ out of the build context"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def files_of(source: str) -> list[Path]:
    if any(char in source for char in "*?["):
        found = sorted(REPO.glob(source))
        assert found, f"COPY {source} matches nothing"
        return found
    path = REPO / source.rstrip("/")
    assert path.exists(), f"COPY {source}: missing"
    if path.is_dir():
        return [p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return [path]


@pytest.mark.parametrize("name", ["asterisk", "callrouter"])
def test_every_copied_path_exists_and_reaches_the_build(name: str) -> None:
    dockerfile = REPO / service(name)["build"]["dockerfile"]
    ignore = dockerignore_for(dockerfile)
    assert sent_to_build(ignore, ".run/dev/root/etc/passwd") is False
    assert sent_to_build(ignore, ".venv/bin/python") is False
    copied = copies(dockerfile)
    assert copied
    for sources, _ in copied:
        for source in sources:
            for path in files_of(source):
                relative = path.relative_to(REPO).as_posix()
                assert sent_to_build(ignore, relative), f"{dockerfile.name}: {relative} is .dockerignored"


@pytest.mark.parametrize("name", ["asterisk", "callrouter"])
def test_entrypoint_is_a_copied_script(name: str) -> None:
    dockerfile = REPO / service(name)["build"]["dockerfile"]
    entrypoint = [json.loads(args) for word, args in instructions(dockerfile) if word == "ENTRYPOINT"]
    assert len(entrypoint) == 1
    destinations = {dest: sources for sources, dest in copies(dockerfile)}
    sources = destinations[entrypoint[0][0]]
    assert sources == [f"docker/{name}/entrypoint.sh"]


def test_base_images() -> None:
    asterisk = instructions(DOCKER / "asterisk/Dockerfile")
    args = dict(a.split("=", 1) for w, a in asterisk if w == "ARG" and "=" in a)
    base = next(a for w, a in asterisk if w == "FROM")
    assert _VARIABLE.sub(lambda m: args[m.group("name")], base) == "debian:testing-slim"
    assert "asterisk asterisk-core-sounds-en" in " ".join(a for w, a in asterisk if w == "RUN")
    router = instructions(DOCKER / "callrouter/Dockerfile")
    assert next(a for w, a in router if w == "FROM") == "python:3.11-slim"


def test_router_image_installs_the_pinned_runtime_dependencies() -> None:
    dockerfile = (DOCKER / "callrouter/Dockerfile").read_text(encoding="utf-8")
    marker = re.search(r"sed '/\^(# [a-z]+)/,\$d' requirements\.lock", dockerfile)
    assert marker is not None
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
    assert marker.group(1) in lock
    runtime = lock[: lock.index(marker.group(1))]
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in runtime if "==" in line}
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    needed = {re.split(r"[<>=!~ ]", dep)[0].lower() for dep in re.findall(r'"([^"]+)"', block)}
    assert needed <= pinned


def test_router_runs_migrate_then_run_with_the_mounted_config() -> None:
    script = (DOCKER / "callrouter/entrypoint.sh").read_text(encoding="utf-8")
    migrate = script.index("callrouter migrate")
    run = script.index("exec callrouter run")
    assert migrate < run
    cmd = next(a for w, a in instructions(DOCKER / "callrouter/Dockerfile") if w == "CMD")
    config = json.loads(cmd)[0]
    targets = {v["target"] for v in volumes("callrouter") if v["type"] == "bind"}
    assert config in targets
    assert "APP=/opt/callrouter" in script


def test_shell_scripts_parse_and_are_executable() -> None:
    scripts = sorted(DOCKER.rglob("*.sh"))
    assert len(scripts) >= 3
    for script in scripts:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{script}: {result.stderr}"
        assert os.access(script, os.X_OK), f"{script} is not executable"


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


def dev_values() -> dict[str, str]:
    info = SimpleNamespace(sip_port=5060, ari_port=8088, ari_user="u", ari_password="p", fallback_port=5070)
    return values_for(cast("StackInfo", info))


def test_entrypoint_handles_every_placeholder() -> None:
    script = ASTERISK_ENTRYPOINT.read_text(encoding="utf-8")
    general = _bash_array(script, "PLACEHOLDERS")
    agent = _bash_array(script, "AGENT_PLACEHOLDERS")
    assert general | agent == placeholders_in_repo()
    # The same names the dev stack fills, and Compose gives every one to Asterisk.
    assert general == set(dev_values())
    assert general <= set(environment("asterisk"))


SITE = {
    "SIP_BIND": "0.0.0.0:5060",
    "MEDIA_ADDRESS": "192.0.2.10",
    "TRUNK_MATCH": "198.51.100.0/24",
    "ARI_BIND": "127.0.0.1",
    "ARI_PORT": "8088",
    "ARI_USER": "callrouter",
    "ARI_PASSWORD": "ari&secret\\1",
    "RTP_START": "10000",
    "RTP_END": "20000",
    "FALLBACK_DIAL": "PJSIP/fallback-desk",
    "FALLBACK_CONTACT": "sip:fallback-desk@192.0.2.20:5060",
}


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


def test_entrypoint_renders_exactly_what_the_dev_stack_renders(tmp_path: Path) -> None:
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


def test_entrypoint_without_agents_writes_an_empty_agents_file(tmp_path: Path) -> None:
    result = run_entrypoint(tmp_path / "etc", SITE)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc/pjsip_agents.conf").read_text(encoding="utf-8") == ""


def test_entrypoint_escapes_semicolons(tmp_path: Path) -> None:
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
def test_entrypoint_refuses_bad_values(tmp_path: Path, change: dict[str, str | None], message: str) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "previous.conf").write_text("; left alone\n")
    values = {k: v for k, v in {**SITE, **change}.items() if v is not None}
    result = run_entrypoint(etc, values)
    assert result.returncode != 0
    assert message in result.stderr
    assert "pw-secret" not in result.stderr + result.stdout
    assert [p.name for p in etc.iterdir()] == ["previous.conf"]


def test_ari_stays_on_a_private_address_and_the_router_reaches_it() -> None:
    asterisk = environment("asterisk")
    router = environment("callrouter")
    assert ipaddress.ip_address(asterisk["ARI_BIND"]).is_loopback
    assert url_host_port(router["CALLROUTER_ARI_URL"]) == (asterisk["ARI_BIND"], int(asterisk["ARI_PORT"]))
    assert router["CALLROUTER_ARI_USER"] == asterisk["ARI_USER"]
    assert router["CALLROUTER_ARI_PASSWORD"] == asterisk["ARI_PASSWORD"]


def test_asterisk_and_router_share_the_prompts_where_both_expect_them() -> None:
    asterisk = {v["source"]: v for v in volumes("asterisk") if v["type"] == "volume"}
    router = {v["source"]: v for v in volumes("callrouter") if v["type"] == "volume"}
    shared = asterisk["callrouter-audio"]
    assert shared["target"] == router["callrouter-audio"]["target"]
    assert shared["read_only"] == "true"
    settings = load(REPO / "callrouter.example.toml", environ={})
    assert settings.file.prompts.directory.startswith(shared["target"] + "/")
    dialplan = (REPO / "dialplans/callrouter.conf").read_text(encoding="utf-8")
    played = re.findall(r"Playback\((/[^,)]+)", dialplan)
    assert played
    assert all(path.startswith(shared["target"] + "/") for path in played)
    script = (DOCKER / "callrouter/entrypoint.sh").read_text(encoding="utf-8")
    assert f"SHARED={shared['target']}\n" in script


# ---- the router's settings, PostgreSQL, Prometheus, Grafana --------------------------


def router_settings() -> Any:
    """The default config as the router's container loads it (secrets stubbed)."""
    env = {key: ("stub" if "${" in value else value) for key, value in environment("callrouter").items()}
    config = next(v for v in volumes("callrouter") if v["target"] == "/etc/callrouter/callrouter.toml")
    return load(DOCKER / with_defaults(config["source"]), environ=env)


def test_the_default_config_loads_with_the_compose_environment() -> None:
    settings = router_settings()
    assert settings.ari.url == environment("callrouter")["CALLROUTER_ARI_URL"]
    assert settings.admin.bind == environment("callrouter")["CALLROUTER_ADMIN_BIND"]
    assert str(settings.database.spool_dir) == environment("callrouter")["CALLROUTER_SPOOL_DIR"]
    targets = {v["target"] for v in volumes("callrouter")}
    assert str(settings.database.spool_dir) in targets


def test_the_router_reaches_postgres() -> None:
    dsn = urlsplit(environment("callrouter")["CALLROUTER_DATABASE_DSN"])
    assert dsn.username == "callrouter"
    assert dsn.password is None  # the password comes from CALLROUTER_DATABASE_PASSWORD
    assert dsn.path == "/callrouter"
    assert dsn.hostname == command_option("postgres", "listen_addresses")
    assert dsn.port == int(command_option("postgres", "port"))
    check = service("postgres")["healthcheck"]["test"]
    assert check[check.index("-p") + 1] == str(dsn.port)
    init = (DOCKER / "postgres/initdb/10-callrouter.sh").read_text(encoding="utf-8")
    assert "CREATE ROLE callrouter LOGIN" in init
    assert "CREATE DATABASE callrouter OWNER callrouter" in init
    postgres_env = environment("postgres")
    assert (
        postgres_env["CALLROUTER_DATABASE_PASSWORD"]
        == environment("callrouter")["CALLROUTER_DATABASE_PASSWORD"]
    )


def test_prometheus_scrapes_the_router_admin_port() -> None:
    mounted = next(v for v in volumes("prometheus") if v["type"] == "bind")
    assert mounted["target"] == command_option("prometheus", "--config.file")
    config = load_yaml((DOCKER / with_defaults(mounted["source"])).read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    router = jobs["callrouter"]
    assert router.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for group in router["static_configs"] for t in group["targets"]]
    admin = environment("callrouter")["CALLROUTER_ADMIN_BIND"]
    assert targets == [admin]
    assert host_port(targets[0])[1] == router_settings().admin.port


def grafana_mount(target: str) -> Path:
    mounted = next(v for v in volumes("grafana") if v["target"] == target)
    return DOCKER / with_defaults(mounted["source"])


def datasource() -> dict[str, Any]:
    path = grafana_mount("/etc/grafana/provisioning") / "datasources/prometheus.yaml"
    sources = load_yaml(path.read_text(encoding="utf-8"))["datasources"]
    assert len(sources) == 1
    result: dict[str, Any] = sources[0]
    return result


def test_grafana_reads_the_composition_prometheus() -> None:
    source = datasource()
    assert source["type"] == "prometheus"
    listen = command_option("prometheus", "--web.listen-address")
    assert url_host_port(source["url"]) == host_port(listen)
    provider_file = grafana_mount("/etc/grafana/provisioning") / "dashboards/callrouter.yaml"
    providers = load_yaml(provider_file.read_text(encoding="utf-8"))["providers"]
    paths = {p["options"]["path"] for p in providers}
    assert paths == {"/etc/grafana/dashboards"}
    assert list(grafana_mount("/etc/grafana/dashboards").glob("*.json"))


def exported() -> dict[str, set[str]]:
    """Every sample name the router exports, with its label names."""
    metrics = Metrics(["clinic-central"])
    params = inspect.signature(LiveCollector).parameters
    metrics.watch(LiveCollector(*[lambda: 0 for _ in params]))
    text = generate_latest(metrics.registry).decode()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        names.setdefault(family.name, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def dashboard_panels() -> list[dict[str, Any]]:
    panels = []
    for path in sorted(grafana_mount("/etc/grafana/dashboards").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        panels.extend(board["panels"])
    assert panels
    return panels


def test_dashboard_uses_only_metrics_the_router_exports() -> None:
    names = exported()
    uid = datasource()["uid"]
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            used = re.findall(r"\bcallrouter_[a-z0-9_]+", expr)
            assert used, f"{panel['title']}: {expr}"
            for name in used:
                assert name in names, f"{panel['title']}: {name} is not in callrouter/metrics.py"
            labels = set().union(*(names[name] for name in used))
            for group in re.findall(r"\bby \(([^)]*)\)", expr):
                for label in group.split(","):
                    assert label.strip() in labels, f"{panel['title']}: no label {label.strip()!r}"


# ---- .env.example ---------------------------------------------------------------------

_ENV_LINE = re.compile(r"^(?P<comment># ?)?(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_DOCUMENTATION_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


def env_example() -> tuple[dict[str, str], dict[str, str]]:
    """(keys set, keys shown commented out with their default)."""
    set_keys: dict[str, str] = {}
    documented: dict[str, str] = {}
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line)
        if match is None:
            continue
        value = match.group("value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        (documented if match.group("comment") else set_keys)[match.group("key")] = value
    return set_keys, documented


def compose_variables() -> dict[str, tuple[str | None, str]]:
    """{name: (operator, argument)} of every ${...} compose.yaml reads."""
    found: dict[str, tuple[str | None, str]] = {}
    for text in walk_strings(compose()):
        for match in _VARIABLE.finditer(text):
            found[match.group("name")] = (match.group("op"), match.group("arg") or "")
    return found


def test_env_example_holds_placeholders_only() -> None:
    set_keys, documented = env_example()
    assert set_keys
    for key, value in {**set_keys, **documented}.items():
        if any(word in key for word in SECRET_WORDS):
            listed = key.endswith("_PASSWORDS")  # "id=password id=password"
            entries = value.split() if listed else [value]
            secrets = [e.split("=", 1)[1] if listed else e for e in entries]
            assert secrets, key
            assert all(s == PLACEHOLDER_VALUE for s in secrets), f"{key} must be {PLACEHOLDER_VALUE}"
        for address in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", value):
            ip = ipaddress.ip_address(address)
            assert ip.is_loopback or ip.is_unspecified or any(ip in n for n in _DOCUMENTATION_NETS), (
                f"{key}: {address} is not a documentation address (RFC 5737)"
            )


def test_env_example_covers_every_variable_compose_reads() -> None:
    set_keys, documented = env_example()
    variables = compose_variables()
    for name, (op, arg) in variables.items():
        if op in (":-", "-"):
            shown = name in set_keys or documented.get(name) == arg
            assert shown, f"{name}: set it, or show its default {arg!r} commented out, in .env.example"
        else:
            assert name in set_keys, f"{name} is required by compose.yaml: set it in .env.example"
    assert set(set_keys) | set(documented) <= set(variables)


def test_env_file_is_ignored_by_git() -> None:
    ignored = (DOCKER / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored
    result = subprocess.run(
        ["git", "check-ignore", "-q", "docker/.env"], cwd=REPO, capture_output=True, check=False
    )
    assert result.returncode == 0


def test_readme_tells_how_to_start() -> None:
    readme = (DOCKER / "README.md").read_text(encoding="utf-8")
    for words in ("cp .env.example .env", "docker compose up -d", "TRUNK_MATCH", "MEDIA_ADDRESS"):
        assert words in readme
    for name in SERVICES:
        assert f"`{name}`" in readme
