"""The one settings object: ``callrouter.toml`` validated, secrets from the environment.

A bad file is refused with the path of every bad key (``lines[3].kind: ...``).
Secrets never live in the file: ``CALLROUTER_ARI_PASSWORD``,
``CALLROUTER_DATABASE_PASSWORD`` and ``CALLROUTER_ADMIN_TOKEN`` carry them, and
``CALLROUTER_ARI_URL`` / ``CALLROUTER_DATABASE_DSN`` may override the file's
addresses (the dev stack uses that).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from callrouter.config_centre import (
    DEFAULT_MENU,
    DEFAULT_TOPICS,
    AgentConfig,
    HoursConfig,
    MenuConfig,
    QueueConfig,
    TopicConfig,
)
from callrouter.core.lines import DidPattern, PatternError, digits_of, is_pattern

SECRET_KEYS = {"password", "token", "secret"}


class ConfigError(Exception):
    """The config is unusable; ``problems`` lists ``path: message`` lines."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineKind(StrEnum):
    CLINIC = "clinic"
    HOTLINE = "hotline"
    AMBULANCE = "ambulance"


class Line(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="short id used in records and metrics"
    )
    dids: list[str] = Field(min_length=1)
    kind: LineKind
    organisation: str = Field(min_length=1)
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 country for number normalisation")
    hours: str | None = Field(default=None, description="a name from [hours]; none: always open")
    menu: Literal["full", "skip", "fast"] = Field(
        default="full", description="skip: straight to `topic`; fast: one key (1) to `topic`, else the menu"
    )
    topic: str | None = Field(
        default=None, description="skip/fast: the topic; full: the default topic after too many failures"
    )
    priority: int = Field(default=0, ge=0, le=1000, description="raises its callers' priority")

    @field_validator("dids")
    @classmethod
    def _dids(cls, dids: list[str]) -> list[str]:
        for did in dids:
            if is_pattern(did):
                try:
                    DidPattern.parse(did)
                except PatternError as exc:
                    raise ValueError(str(exc)) from None
            elif not digits_of(did).isdigit():
                raise ValueError(f"{did!r} is neither a number nor a pattern starting with '_'")
        return dids

    @field_validator("country")
    @classmethod
    def _country(cls, country: str) -> str:
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown country code {country!r}")
        return country

    @property
    def urgent(self) -> bool:
        return self.kind is LineKind.AMBULANCE

    @model_validator(mode="after")
    def _line_rules(self) -> Self:
        if self.menu != "full" and self.topic is None:
            raise ValueError(f"menu = {self.menu!r} needs a topic")
        if self.urgent and self.hours is not None:
            raise ValueError("an ambulance line is always open: it takes no hours")
        return self


class Router(Strict):
    app: str = Field(default="callrouter", pattern=r"^[A-Za-z0-9_-]+$")
    node: str = Field(default="asterisk-1", pattern=r"^[A-Za-z0-9_.-]+$", description="this Asterisk's name")
    default_line: str | None = Field(default=None, description="line for DIDs no line lists")
    max_call_seconds: float = Field(default=4 * 3600, gt=0, description="the router hangs up longer calls")
    reconcile_seconds: float = Field(default=30, gt=0, description="how often state is checked against ARI")
    shed_lag_seconds: float = Field(
        default=0.5,
        ge=0,
        description="new calls are sent back (call back / fallback) while the router is this far behind"
        " (their event's lag, or ARI round trips); 0: never",
    )


class Ari(Strict):
    url: str = Field(default="http://127.0.0.1:8088", pattern=r"^https?://")
    user: str = "callrouter"
    max_connections: int = Field(default=50, ge=1, le=1000, description="keep below http.conf sessionlimit")
    rest_websockets: int = Field(
        default=4, ge=0, le=16, description="REST requests over this many WebSockets (0: HTTP only)"
    )
    reconnect_max_seconds: float = Field(default=10, gt=0)


class Database(Strict):
    dsn: str = Field(
        default="postgresql://callrouter@127.0.0.1:5432/callrouter", pattern=r"^postgres(ql)?://"
    )
    spool_dir: Path = Path("/var/spool/callrouter")
    batch_size: int = Field(default=200, ge=1)
    batch_max_wait_ms: int = Field(default=200, ge=1)
    queue_limit: int = Field(default=10_000, ge=10)


class Admin(Strict):
    bind: str = Field(default="127.0.0.1:8090", pattern=r"^[^:]+:\d+$")

    @property
    def host(self) -> str:
        return self.bind.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.bind.rsplit(":", 1)[1])


class Prompts(Strict):
    directory: str = Field(default="/usr/share/callrouter/prompts", description="where Asterisk finds them")
    source: Path = Field(default=Path("prompts"), description="the prompts' texts (for check-config)")


class FileConfig(Strict):
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
    agents: list[AgentConfig] = Field(default_factory=list)
    hours: dict[str, HoursConfig] = Field(default_factory=dict)
    lines: list[Line] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        """Every name used refers to something defined; urgent callers are never hung up on.
        All problems are reported together, each naming its key."""
        problems = self._naming_problems() + self._reference_problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _naming_problems(self) -> list[str]:
        problems: list[str] = []
        names = [line.name for line in self.lines]
        problems.extend(
            f"lines: name {n!r} is repeated" for n in sorted({n for n in names if names.count(n) > 1})
        )
        owner: dict[str, str] = {}
        for line in self.lines:
            for did in line.dids:
                key = digits_of(did)
                if key in owner and owner[key] != line.name:
                    problems.append(f"lines: DID {did} is on both line {owner[key]!r} and line {line.name!r}")
                owner[key] = line.name
        if self.router.default_line is not None and self.router.default_line not in names:
            problems.append(f"router.default_line: {self.router.default_line!r} names no line")
        ids = [a.id for a in self.agents]
        problems.extend(f"agents: id {a!r} is repeated" for a in sorted({a for a in ids if ids.count(a) > 1}))
        return problems

    def _reference_problems(self) -> list[str]:
        problems: list[str] = []
        topics = set(self.topics)
        for missing in sorted(self.menu.topics() - topics):
            problems.append(f"menu: topic {missing!r} is not defined in [topics]")
        for name, rules in self.topics.items():
            if rules.overflow_topic and rules.overflow_topic not in topics:
                problems.append(f"topics.{name}.overflow_topic: {rules.overflow_topic!r} is not a topic")
        for i, line in enumerate(self.lines):
            if line.topic and line.topic not in topics:
                problems.append(f"lines[{i}].topic: {line.topic!r} is not a topic")
            if line.hours and line.hours not in self.hours:
                problems.append(f"lines[{i}].hours: {line.hours!r} is not in [hours]")
            if line.language not in self.menu.languages:
                problems.append(f"lines[{i}].language: {line.language!r} is not in menu.languages")
            if line.urgent:
                problems.extend(self._urgent_problems(i, line))
        for i, agent in enumerate(self.agents):
            for topic in agent.topics:
                if topic not in topics:
                    problems.append(f"agents[{i}].topics: {topic!r} is not a topic")
        return problems

    def _urgent_problems(self, i: int, line: Line) -> list[str]:
        """Follow an urgent line's topic through its overflows: none may end in a hang-up."""
        seen: set[str] = set()
        topic = line.topic
        out: list[str] = []
        while topic and topic in self.topics and topic not in seen:
            seen.add(topic)
            rules = self.topics[topic]
            if rules.overflow_prompt:
                out.append(
                    f"lines[{i}]: urgent line {line.name!r} reaches topic {topic!r}, whose overflow hangs up "
                    "(overflow_prompt); give it an overflow_topic or no maximum wait"
                )
            topic = rules.overflow_topic
        return out


class EnvironmentValues(BaseModel):
    """What may come from ``CALLROUTER_*`` environment variables."""

    model_config = ConfigDict(extra="ignore")
    ari_url: str | None = None
    ari_user: str | None = None
    ari_password: SecretStr | None = None
    database_dsn: str | None = None
    database_password: SecretStr | None = None
    admin_token: SecretStr | None = None
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


def error_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


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
    return found


# Environment variables that override a key of the file (the dev stack uses them).
ENV_OVERRIDES = {
    "ari_url": ("ari", "url"),
    "ari_user": ("ari", "user"),
    "database_dsn": ("database", "dsn"),
    "spool_dir": ("database", "spool_dir"),
    "admin_bind": ("admin", "bind"),
}


def parse(text: str, source: str = "callrouter.toml", environ: dict[str, str] | None = None) -> Settings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    problems = _secrets_in(data)
    # An explicit environ replaces the process environment entirely.
    env = EnvironmentValues(**_env_kwargs(environ)) if environ is not None else Environment()
    for field, (section, key) in ENV_OVERRIDES.items():
        value = getattr(env, field)
        if value is not None:
            table = data.setdefault(section, {})
            if isinstance(table, dict):
                table[key] = str(value)
    try:
        file = FileConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            # Cross-key checks name their own keys, one problem per line.
            for part in message.split("\n"):
                problems.append(f"{error_path(err['loc'])}: {part}" if err["loc"] else part)
        raise ConfigError(source, problems) from None
    if problems:
        raise ConfigError(source, problems)
    return Settings(
        file=file,
        ari_password=env.ari_password,
        database_password=env.database_password,
        admin_token=env.admin_token,
        source=source,
    )


def _env_kwargs(environ: dict[str, str]) -> dict[str, Any]:
    prefix = "CALLROUTER_"
    return {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}


def load(path: Path | str, environ: dict[str, str] | None = None) -> Settings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return parse(text, str(path), environ)
