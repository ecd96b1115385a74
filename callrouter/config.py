"""The one settings object: ``callrouter.toml`` validated, secrets from the environment.

A bad file is refused with the path of every bad key (``lines[3].kind: ...``),
all in one pass: each table is validated on its own, so one bad key hides
nothing else, and the rules across keys (``config_checks``) then run over
whatever validated.
Secrets never live in the file: ``CALLROUTER_ARI_PASSWORD``,
``CALLROUTER_DATABASE_PASSWORD`` and ``CALLROUTER_ADMIN_TOKEN`` carry them, and
``CALLROUTER_ARI_URL`` / ``CALLROUTER_DATABASE_DSN`` may override the file's
addresses (the dev stack uses that).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from callrouter import config_checks, config_results, prompts
from callrouter.config_centre import (
    DEFAULT_MENU,
    DEFAULT_TOPICS,
    AgentConfig,
    CallbackConfig,
    HoursConfig,
    MenuConfig,
    QueueConfig,
    RepeatConfig,
    TopicConfig,
)
from callrouter.config_dsn import passwords_in_addresses
from callrouter.config_errors import error_path as error_path
from callrouter.config_errors import from_environment
from callrouter.config_results import ResultsConfig
from callrouter.config_router import Admin, Ari, Database, Line, Prompts, Router, Strict
from callrouter.config_tables import field_problems, split, table_item
from callrouter.secrets_pepper import PEPPER_MIN_CHARS, Pepper

SECRET_KEYS = {"password", "token", "secret", "pepper"}


class ConfigError(Exception):
    """The config is unusable; ``problems`` lists ``path: message`` lines."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class FileConfig(Strict):
    """The whole file. Only ``validate`` builds one, after every rule across keys
    (``config_checks``) has passed: the models check keys, not how they fit together."""

    router: Router = Router()
    ari: Ari = Ari()
    database: Database = Database()
    admin: Admin = Admin()
    prompts: Prompts = Prompts()
    menu: MenuConfig = MenuConfig.model_validate(DEFAULT_MENU)
    topics: dict[str, TopicConfig] = Field(
        default_factory=lambda: {k: TopicConfig.model_validate(v) for k, v in DEFAULT_TOPICS.items()}
    )
    queue: QueueConfig = QueueConfig()
    repeat: RepeatConfig = RepeatConfig()
    callback: CallbackConfig = CallbackConfig()
    results: ResultsConfig | None = None  # absent: no results call is made
    agents: list[AgentConfig] = Field(default_factory=list)
    hours: dict[str, HoursConfig] = Field(default_factory=dict)
    lines: list[Line] = Field(min_length=1)


class EnvironmentValues(BaseModel):
    """What may come from ``CALLROUTER_*`` environment variables."""

    model_config = ConfigDict(extra="ignore")
    ari_url: str | None = None
    ari_user: str | None = None
    ari_password: SecretStr | None = None
    database_dsn: str | None = None
    database_password: SecretStr | None = None
    admin_token: SecretStr | None = None
    repeat_key: SecretStr | None = None
    results_pepper: SecretStr | None = None
    admin_bind: str | None = None
    spool_dir: Path | None = None


class Environment(EnvironmentValues, BaseSettings):
    """``EnvironmentValues`` read from the process environment."""

    model_config = SettingsConfigDict(env_prefix="CALLROUTER_", extra="ignore")


class Settings(BaseModel):
    """The file's settings with the environment applied; the app's one config."""

    model_config = ConfigDict(frozen=True)
    file: FileConfig
    ari_password: SecretStr | None
    database_password: SecretStr | None
    admin_token: SecretStr | None
    source: str
    # The key of the hash people are recognised by (CALLROUTER_REPEAT_KEY); without
    # one, ``run`` makes one and keeps it beside the spool.
    repeat_key: SecretStr | None = None
    # The key results secrets are run through before they are hashed (CALLROUTER_RESULTS_PEPPER,
    # ``secrets_hash``); without one, they are hashed as they are.
    results_pepper: SecretStr | None = None

    def pepper(self) -> Pepper | None:
        """The key results secrets are hashed under (``results_pepper``), if one is set."""
        return Pepper.of(self.results_pepper.get_secret_value() if self.results_pepper else None)

    @property
    def router(self) -> Router:
        return self.file.router

    @property
    def ari(self) -> Ari:
        return self.file.ari

    @property
    def database(self) -> Database:
        return self.file.database

    @property
    def admin(self) -> Admin:
        return self.file.admin

    @property
    def lines(self) -> list[Line]:
        return self.file.lines


def _secrets_in(data: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).lower() in SECRET_KEYS:
                found.append(
                    f"{here}: secrets do not belong in the file; set CALLROUTER_* in the environment"
                )
            found.extend(_secrets_in(value, here))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(_secrets_in(value, f"{path}[{i}]"))
    if not path and isinstance(data, dict):
        found.extend(passwords_in_addresses(data))
    return found


# Environment variables that override a key of the file (the dev stack uses them).
ENV_OVERRIDES = {
    "ari_url": ("ari", "url"),
    "ari_user": ("ari", "user"),
    "database_dsn": ("database", "dsn"),
    "spool_dir": ("database", "spool_dir"),
    "admin_bind": ("admin", "bind"),
}


def parse(
    text: str,
    source: str = "callrouter.toml",
    environ: dict[str, str] | None = None,
    prompts_base: Path | None = None,
) -> Settings:
    """Settings from the file's text; a TOML syntax error is the one problem that stops early."""
    try:
        data = tomllib.loads(text)
        return validate(data, source, environ, prompts_base)
    except tomllib.TOMLDecodeError as exc:  # its message says the line and column
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:  # arrays in arrays a thousand deep: no settings are
        raise ConfigError(source, ["not valid TOML: nested too deeply"]) from None


def validate(
    data: dict[str, Any],
    source: str = "callrouter.toml",
    environ: dict[str, str] | None = None,
    prompts_base: Path | None = None,
) -> Settings:
    """Settings from the parsed file, or a ``ConfigError`` with every problem at once.

    ``prompts_base``: also check that every enabled language has every prompt,
    reading ``prompts.source`` relative to this folder (the config file's).
    """
    data = copy.deepcopy(data)
    secrets = _secrets_in(data)  # the file's own, whatever the environment overrides
    problems: list[str] = []
    # An explicit environ replaces the process environment entirely.
    env = EnvironmentValues(**_env_kwargs(environ)) if environ is not None else Environment()
    overridden: dict[str, str] = {}  # a key's path -> the variable its value came from
    for field, (section, key) in ENV_OVERRIDES.items():
        value = getattr(env, field)
        if value is not None:
            table = data.setdefault(section, {})
            if isinstance(table, dict):
                table[key] = str(value)
                overridden[f"{section}.{key}"] = f"CALLROUTER_{field.upper()}"
    problems.extend(f"{k}: Extra inputs are not permitted" for k in data if k not in FileConfig.model_fields)
    parts = split(data, problems)
    problems.extend(config_checks.problems(parts))
    if env.results_pepper is not None and len(env.results_pepper.get_secret_value()) < PEPPER_MIN_CHARS:
        problems.append(
            f"CALLROUTER_RESULTS_PEPPER: at least {PEPPER_MIN_CHARS} characters "
            "(a random one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if "results" in data:
        results = table_item(ResultsConfig, data["results"], ("results",), problems)
        problems.extend(config_results.problems(results, parts.topics, parts.lines))
    if prompts_base is not None and parts.prompts.has("source"):
        words = prompts_base / parts.prompts["source"]
        needed = prompts.RESULTS if "results" in data else ()
        problems.extend(prompts.missing(parts, words, also=needed))
    if problems or secrets:
        raise ConfigError(source, secrets + from_environment(problems, overridden))
    try:
        file = FileConfig.model_validate(data)
    except ValidationError as exc:  # split() saw every key; kept so nothing slips through
        raise ConfigError(source, field_problems(exc, ())) from None
    return Settings(
        file=file,
        ari_password=env.ari_password,
        database_password=env.database_password,
        admin_token=env.admin_token,
        source=source,
        repeat_key=env.repeat_key,
        results_pepper=env.results_pepper,
    )


def _env_kwargs(environ: dict[str, str]) -> dict[str, Any]:
    prefix = "CALLROUTER_"
    return {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}


def load(path: Path | str, environ: dict[str, str] | None = None, *, check_prompts: bool = False) -> Settings:
    """The file's settings; ``check_prompts``: also every prompt in every language
    (``prompts.source`` is relative to the file's folder)."""
    path = Path(path)
    text = read_file(path)
    return parse(text, str(path), environ, path.resolve().parent if check_prompts else None)


MAX_FILE_BYTES = 20 * 2**20  # a config or a scenario is kilobytes; /dev/zero is endless


def read_file(path: Path, error: type[ConfigError] = ConfigError) -> str:
    """A config's or a scenario's text (a byte-order mark some editors write skipped);
    ``error`` says in one line why there is none: unreadable, too large, not UTF-8."""
    if path.is_dir():
        raise error(str(path), ["a folder, not a file"])
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise error(str(path), [f"larger than {MAX_FILE_BYTES // 2**20} MB: not a file of settings"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(str(path), [f"not UTF-8 text (byte {exc.start}): {exc.reason}"]) from None
