"""Reading docker/ as Compose and Docker would: YAML by PyYAML, ``${VAR:-default}``
interpolation, Dockerfile instructions and which paths .dockerignore sends; and
what the composition's router and Prometheus make of them (the router's config
and metrics, Prometheus' config)."""

from __future__ import annotations

import fnmatch
import functools
import re
import shlex
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callrouter.app import build_metrics
from callrouter.config import Settings, load
from callrouter.core.waits import agents_now
from callrouter.metrics import CentreNow, LiveCollector

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET")
PLACEHOLDER_VALUE = "change-me"
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@functools.cache
def compose() -> dict[str, Any]:
    data = load_yaml(DOCKER / "compose.yaml")
    assert isinstance(data, dict)
    return data


def services() -> list[str]:
    return list(compose()["services"])


def built() -> list[str]:
    """The services whose image is built from the repository."""
    return [name for name in services() if "build" in service(name)]


def service(name: str) -> dict[str, Any]:
    result = compose()["services"][name]
    assert isinstance(result, dict)
    return result


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    assert isinstance(env, dict), f"{name}: environment is written as a mapping"
    return {str(k): str(v) for k, v in env.items()}


def volumes(name: str) -> list[dict[str, Any]]:
    result = service(name).get("volumes") or []
    assert all(isinstance(v, dict) for v in result), f"{name}: volumes use the long syntax"
    return cast("list[dict[str, Any]]", result)


def mounted(name: str, target: str) -> Path:
    """The repository path bound at ``target`` in service ``name``."""
    volume = next(v for v in volumes(name) if v["target"] == target)
    assert volume["type"] == "bind", f"{name}: {target} is not a bind mount"
    return DOCKER / with_defaults(volume["source"])


def command_option(name: str, option: str) -> str:
    """The value of ``option=value`` in a service's command list."""
    for arg in service(name)["command"]:
        if arg.startswith(f"{option}="):
            return str(arg.split("=", 1)[1])
    raise AssertionError(f"{name}: no {option}= in its command")


def with_defaults(value: str) -> str:
    """Interpolate as Compose does with an empty environment; refuse required variables."""

    def fill(match: re.Match[str]) -> str:
        if match.group("op") not in (":-", "-"):
            raise AssertionError(f"{value!r} needs {match.group('name')} from .env")
        return match.group("arg")

    return VARIABLE.sub(fill, value)


def walk_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [str(key), *walk_strings(value)]]
    if isinstance(node, list):
        return [s for value in node for s in walk_strings(value)]
    return [node] if isinstance(node, str) else []


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


# ---- Dockerfiles -------------------------------------------------------------------


def dockerfile_of(name: str) -> Path:
    build = service(name)["build"]
    dockerfile: Path = (DOCKER / build["context"]).resolve() / build["dockerfile"]
    return dockerfile


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
    """The repository files a COPY source names (it must name at least one)."""
    if any(char in source for char in "*?["):
        found = sorted(REPO.glob(source))
        assert found, f"COPY {source} matches nothing"
        return found
    path = REPO / source.rstrip("/")
    assert path.exists(), f"COPY {source}: missing"
    if path.is_dir():
        return [p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return [path]


# ---- what the router and Prometheus make of it -------------------------------------


def router_settings() -> Settings:
    """The default config as the router's container loads it (secrets stubbed)."""
    env = {key: ("stub" if "${" in value else value) for key, value in environment("callrouter").items()}
    return load(mounted("callrouter", "/etc/callrouter/callrouter.toml"), environ=env)


def exported() -> dict[str, set[str]]:
    """Every sample name the composition's router exports, with its label names
    (every child it pre-initialises, and the live gauges)."""
    settings = router_settings()
    lines = [line.name for line in settings.file.lines]
    metrics = build_metrics(lines, settings)
    topics = list(settings.file.topics)
    centre = CentreNow(
        callers=dict.fromkeys(topics, 0),
        oldest_seconds=dict.fromkeys(topics, 0.0),
        agents=agents_now([]),
        lines_open=dict.fromkeys(lines, True),
    )
    metrics.watch(LiveCollector(lambda: 0, lambda: 0, lambda: 0, centre=lambda: centre))
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        names.setdefault(family.name, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def prometheus_config() -> dict[str, Any]:
    """The Prometheus config the composition mounts."""
    config: dict[str, Any] = load_yaml(mounted("prometheus", command_option("prometheus", "--config.file")))
    return config


def scrape_job(name: str) -> dict[str, Any]:
    (job,) = [job for job in prometheus_config()["scrape_configs"] if job["job_name"] == name]
    return cast("dict[str, Any]", job)


def kept_by(job: dict[str, Any], name: str) -> bool:
    """Whether the job's metric_relabel_configs keep a series of this name."""
    keeps = [
        rule["regex"]
        for rule in job.get("metric_relabel_configs", [])
        if rule.get("source_labels") == ["__name__"] and rule.get("action") == "keep"
    ]
    return all(re.fullmatch(regex, name) for regex in keeps)


def metric_names(expr: str) -> list[str]:
    """The callrouter_ and asterisk_ metric names a PromQL expression reads."""
    return re.findall(r"\b(?:callrouter|asterisk)_[a-z0-9_]+", expr)
