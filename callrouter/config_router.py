"""The router's part of ``callrouter.toml``: router, ari, database, admin, prompts, lines.

Each table validates its own keys; how the keys fit together (a DID on two
lines, a line naming unknown hours) is ``config_checks``'s.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from callrouter.config_dsn import dsn_problem
from callrouter.core.lines import DidPattern, LineKind, PatternError, digits_of, is_pattern

E164_DIGITS = 15  # a phone number has at most as many


def dial_route(value: str) -> str:
    """An outbound route as Asterisk dials it: one ``{number}`` and nothing else in braces
    (the router fills it with ``str.format``: another brace failed every dial)."""
    if not re.fullmatch(r"[A-Za-z0-9_/@.:+-]*\{number\}[A-Za-z0-9_/@.:+-]*", value):
        raise ValueError(
            "a dial string with one {number} (the E.164 number without its +) and no other "
            "brace, of letters, digits and _/@.:+- besides: PJSIP/{number}@trunk"
        )
    return value


DialRoute = Annotated[str, AfterValidator(dial_route)]


def calendar_day(value: object) -> object:
    """A date as TOML writes one (2026-11-23) or as a string of it ("2026-11-23": JSON
    has no dates); not a number (pydantic read 0 as 1970-01-01) nor a date and time."""
    if type(value) is date:
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not a date: {exc}") from None
    # A TOML date and time (2026-11-23T08:00) said as written, not as Python's repr of it.
    said = value.isoformat() if isinstance(value, datetime | time) else repr(value)
    raise ValueError(f"a date as YYYY-MM-DD (2026-11-23), not {said}")


CalendarDay = Annotated[date, BeforeValidator(calendar_day)]


class Strict(BaseModel):
    # strict: a number is a number (``true`` or ``"20"`` is refused, not read as 1 or 20), a
    # flag a flag; the few fields a string names (a kind, an action, a date) say so themselves.
    # NaN or infinity is no number of seconds or calls.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Line(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="short id used in records and metrics"
    )
    dids: list[str] = Field(min_length=1)
    kind: LineKind = Field(strict=False)  # named by its value
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
            elif len(digits_of(did)) > E164_DIGITS:
                raise ValueError(f"{did!r}: a number has at most {E164_DIGITS} digits (E.164)")
        return dids

    @field_validator("country")
    @classmethod
    def _country(cls, country: str) -> str:
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown country code {country!r}")
        return country

    @property
    def urgent(self) -> bool:
        return self.kind.urgent


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

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        """Read as aiohttp will read it when it connects (a host, a port that is a port)."""
        if any(c.isspace() for c in url):
            raise ValueError("http://host:port: no spaces")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError("http://host:port: the port is a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError("http://host:port: no host")
        if port == 0:
            raise ValueError("http://host:port: the port is a number from 1 to 65535")
        return url


class Database(Strict):
    dsn: str = Field(
        default="postgresql://callrouter@127.0.0.1:5432/callrouter", pattern=r"^postgres(ql)?://"
    )

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, dsn: str) -> str:
        problem = dsn_problem(dsn)  # read as the driver reads it, which it does only when it connects
        if problem is not None:
            raise ValueError(problem)
        return dsn

    spool_dir: Path = Field(default=Path("/var/spool/callrouter"), strict=False)  # a path is a string
    batch_size: int = Field(default=200, ge=1)
    batch_max_wait_ms: int = Field(default=200, ge=1)
    queue_limit: int = Field(default=10_000, ge=10)


HOST_NAME = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"


class Admin(Strict):
    bind: str = Field(default="127.0.0.1:8090", description="host:port, [v6 address]:port")

    @field_validator("bind")
    @classmethod
    def _bind(cls, bind: str) -> str:
        host, colon, port = bind.rpartition(":")
        wrong = None
        if not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
            wrong = "the port must be a number from 1 to 65535"
        elif host.startswith("[") and host.endswith("]"):
            try:
                ipaddress.IPv6Address(host[1:-1])
            except ValueError:
                wrong = f"{host} is no IPv6 address"
        elif re.fullmatch(r"[\d.]+", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                wrong = f"{host} is no IPv4 address"
        elif not re.fullmatch(HOST_NAME, host):
            wrong = f"{host!r} is no address or host name"
        if wrong is not None:
            raise ValueError(f"host:port (127.0.0.1:8090, [::1]:8090): {wrong}")
        return bind

    @property
    def host(self) -> str:
        return self.bind.rsplit(":", 1)[0].removeprefix("[").removesuffix("]")

    @property
    def port(self) -> int:
        return int(self.bind.rsplit(":", 1)[1])


class Prompts(Strict):
    directory: str = Field(default="/usr/share/callrouter/prompts", description="where Asterisk finds them")
    source: Path = Field(
        default=Path("prompts"),
        strict=False,
        description="the prompts' texts, checked at start (relative: to the file)",
    )
