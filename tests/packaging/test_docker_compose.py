"""The production-like composition in docker/, checked as far as it can be here.

No container engine runs where the tests run (DECISIONS.md, "docker/"), so
these tests read the files: they parse, every path they name exists and
reaches the build, the services agree on their addresses, the dashboard asks
only for metrics the router exports, and secrets come only from .env, whose
example holds placeholders only. What the files merely say (image tags,
restart policies, the order of lines in a script) is not restated here.
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from callrouter.config import load
from tests.packaging.docker_files import (
    DOCKER,
    PLACEHOLDER_VALUE,
    REPO,
    SECRET_WORDS,
    VARIABLE,
    built,
    command_option,
    compose,
    copies,
    dockerfile_of,
    dockerignore_for,
    environment,
    files_of,
    host_port,
    instructions,
    load_yaml,
    mounted,
    prometheus_config,
    router_settings,
    scrape_job,
    sent_to_build,
    service,
    services,
    url_host_port,
    volumes,
    walk_strings,
    with_defaults,
)

# ---- the files parse, and every path they name exists -------------------------------


@pytest.mark.parametrize(
    "path",
    sorted([*DOCKER.rglob("*.yaml"), *DOCKER.rglob("*.yml")]),
    ids=lambda p: str(p.relative_to(DOCKER)),
)
def test_every_yaml_file_parses_to_a_mapping(path: Path) -> None:
    assert isinstance(load_yaml(path), dict)


def test_every_built_image_finds_its_dockerfile_in_its_context() -> None:
    assert built()
    for name in built():
        assert dockerfile_of(name).is_file(), name
        assert dockerfile_of(name).is_relative_to(REPO), name


def test_every_mounted_path_exists_and_every_volume_is_declared() -> None:
    declared = set(compose()["volumes"])
    used = set()
    for name in services():
        for volume in volumes(name):
            if volume["type"] == "bind":
                source = DOCKER / with_defaults(volume["source"])
                assert source.exists(), f"{name}: {volume['source']} -> {source} is missing"
            else:
                assert volume["type"] == "volume"
                assert volume["source"] in declared, f"{name}: volume {volume['source']} is not declared"
                used.add(volume["source"])
    assert used == declared


@pytest.mark.parametrize("name", built())
def test_every_copied_path_exists_and_reaches_the_build(name: str) -> None:
    dockerfile = dockerfile_of(name)
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


@pytest.mark.parametrize("name", built())
def test_the_entrypoint_is_a_file_the_image_copies_in(name: str) -> None:
    dockerfile = dockerfile_of(name)
    entrypoint = [json.loads(args) for word, args in instructions(dockerfile) if word == "ENTRYPOINT"]
    assert len(entrypoint) == 1
    destinations = {dest: sources for sources, dest in copies(dockerfile)}
    assert entrypoint[0][0] in destinations
    for source in destinations[entrypoint[0][0]]:
        assert all(path.is_file() for path in files_of(source))


def test_the_router_image_installs_every_runtime_dependency_pinned() -> None:
    dockerfile = (DOCKER / "callrouter/Dockerfile").read_text(encoding="utf-8")
    marker = re.search(r"sed '/\^(# [a-z]+)/,\$d' requirements\.lock", dockerfile)
    assert marker is not None, "the image installs requirements.lock up to a marker line"
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
    assert marker.group(1) in lock
    runtime = lock[: lock.index(marker.group(1))]
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in runtime if "==" in line}
    with open(REPO / "pyproject.toml", "rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    needed = {re.split(r"[<>=!~ \[]", dep)[0].lower().replace("_", "-") for dep in dependencies}
    assert needed <= pinned


def test_the_router_runs_with_the_mounted_config() -> None:
    cmd = next(a for w, a in instructions(DOCKER / "callrouter/Dockerfile") if w == "CMD")
    config = json.loads(cmd)[0]
    assert mounted("callrouter", config).is_file()


# ---- secrets --------------------------------------------------------------------------


def test_secrets_come_only_from_the_environment() -> None:
    for name in services():
        for key, value in environment(name).items():
            if any(word in key for word in SECRET_WORDS):
                match = VARIABLE.fullmatch(value)
                assert match is not None, f"{name}: {key} must be ${{VAR}} from .env, not a literal"
                default = match.group("op") in (":-", "-") and match.group("arg")
                assert not default, f"{name}: {key} has a default secret"


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
    variables: dict[str, tuple[str | None, str]] = {}
    for text in walk_strings(compose()):
        for match in VARIABLE.finditer(text):
            variables[match.group("name")] = (match.group("op"), match.group("arg") or "")
    for name, (op, arg) in variables.items():
        if op in (":-", "-"):
            shown = name in set_keys or documented.get(name) == arg
            assert shown, f"{name}: set it, or show its default {arg!r} commented out, in .env.example"
        else:
            assert name in set_keys, f"{name} is required by compose.yaml: set it in .env.example"
    assert set(set_keys) | set(documented) <= set(variables)


# ---- the services agree on where they meet ---------------------------------------------


def test_ari_stays_on_a_private_address_and_the_router_reaches_it() -> None:
    asterisk = environment("asterisk")
    router = environment("callrouter")
    assert ipaddress.ip_address(asterisk["ARI_BIND"]).is_loopback
    assert url_host_port(router["CALLROUTER_ARI_URL"]) == (asterisk["ARI_BIND"], int(asterisk["ARI_PORT"]))
    assert router["CALLROUTER_ARI_USER"] == asterisk["ARI_USER"]
    assert router["CALLROUTER_ARI_PASSWORD"] == asterisk["ARI_PASSWORD"]


def test_asterisk_and_router_share_the_prompts_where_both_expect_them() -> None:
    asterisk = {v["source"]: v["target"] for v in volumes("asterisk") if v["type"] == "volume"}
    router = {v["source"]: v["target"] for v in volumes("callrouter") if v["type"] == "volume"}
    (shared,) = set(asterisk) & set(router)
    target = asterisk[shared]
    assert router[shared] == target
    settings = load(REPO / "callrouter.example.toml", environ={})
    assert settings.file.prompts.directory.startswith(target + "/")
    dialplan = (REPO / "dialplans/callrouter.conf").read_text(encoding="utf-8")
    played = re.findall(r"Playback\((/[^,)]+)", dialplan)
    assert played
    assert all(path.startswith(target + "/") for path in played)
    script = (DOCKER / "callrouter/entrypoint.sh").read_text(encoding="utf-8")
    assert f"SHARED={target}\n" in script, "the router's entrypoint publishes the audio there"


def test_the_default_config_loads_with_the_compose_environment() -> None:
    settings = router_settings()
    assert settings.ari.url == environment("callrouter")["CALLROUTER_ARI_URL"]
    assert settings.admin.bind == environment("callrouter")["CALLROUTER_ADMIN_BIND"]
    assert str(settings.database.spool_dir) == environment("callrouter")["CALLROUTER_SPOOL_DIR"]
    targets = {v["target"] for v in volumes("callrouter")}
    assert str(settings.database.spool_dir) in targets, "the spool survives a restart"


def test_the_router_reaches_postgres() -> None:
    dsn = urlsplit(environment("callrouter")["CALLROUTER_DATABASE_DSN"])
    assert dsn.password is None  # the password comes from CALLROUTER_DATABASE_PASSWORD
    assert dsn.hostname == command_option("postgres", "listen_addresses")
    assert dsn.port == int(command_option("postgres", "port"))
    check = [str(arg) for arg in service("postgres")["healthcheck"]["test"]]
    assert check[check.index("-p") + 1] == str(dsn.port)
    init = (mounted("postgres", "/docker-entrypoint-initdb.d") / "10-callrouter.sh").read_text(
        encoding="utf-8"
    )
    assert f"CREATE ROLE {dsn.username} LOGIN" in init
    assert f"CREATE DATABASE {dsn.path.lstrip('/')} OWNER {dsn.username}" in init
    assert (
        environment("postgres")["CALLROUTER_DATABASE_PASSWORD"]
        == environment("callrouter")["CALLROUTER_DATABASE_PASSWORD"]
    )


def test_prometheus_scrapes_the_router_admin_port() -> None:
    router = scrape_job("callrouter")
    assert router.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for group in router["static_configs"] for t in group["targets"]]
    assert targets == [environment("callrouter")["CALLROUTER_ADMIN_BIND"]]
    assert host_port(targets[0])[1] == router_settings().admin.port


def datasource() -> dict[str, Any]:
    path = mounted("grafana", "/etc/grafana/provisioning") / "datasources/prometheus.yaml"
    sources = load_yaml(path)["datasources"]
    assert len(sources) == 1
    result: dict[str, Any] = sources[0]
    return result


def test_grafana_reads_the_composition_prometheus_and_the_mounted_dashboards() -> None:
    source = datasource()
    assert source["type"] == "prometheus"
    listen = command_option("prometheus", "--web.listen-address")
    assert url_host_port(source["url"]) == host_port(listen)
    provider_file = mounted("grafana", "/etc/grafana/provisioning") / "dashboards/callrouter.yaml"
    for provider in load_yaml(provider_file)["providers"]:
        assert list(mounted("grafana", provider["options"]["path"]).glob("*.json"))


def test_prometheus_scrapes_asterisk_on_the_http_server_that_carries_ari() -> None:
    asterisk = environment("asterisk")
    job = scrape_job("asterisk")
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets == [f"{asterisk['ARI_BIND']}:{asterisk['ARI_PORT']}"]
    conf = (REPO / "asterisk-conf/prometheus.conf").read_text(encoding="utf-8")
    assert re.search(r"^enabled = yes$", conf, re.MULTILINE)
    uri = re.search(r"^uri = (\S+)$", conf, re.MULTILINE)
    assert uri is not None and job.get("metrics_path", "/metrics") == f"/{uri.group(1)}"
    modules = (REPO / "asterisk-conf/modules.conf").read_text(encoding="utf-8")
    assert re.search(r"^load => res_prometheus\.so$", modules, re.MULTILINE)


def test_prometheus_loads_the_rules_compose_mounts() -> None:
    config_dir = Path(command_option("prometheus", "--config.file")).parent
    patterns = prometheus_config()["rule_files"]
    assert patterns
    for pattern in patterns:
        folder, _, glob = (config_dir / pattern).as_posix().rpartition("/")
        assert list(mounted("prometheus", folder).glob(glob)), f"rule_files {pattern}: no file in the mount"
