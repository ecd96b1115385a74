"""What the admin API accepts: one pydantic model per body or query, the same
models that /openapi.json describes, and the readers that apply them.

A body is read only up to ``MAX_BODY_BYTES`` (413 beyond, decoded too), only as
``application/json`` in UTF-8, plain or in gzip or deflate (415 otherwise), and
parsed by pydantic's own JSON parser, which bounds nesting: nothing a client
sends reaches Python's ``json`` module, ``float('inf')`` or PostgreSQL unchecked.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import hdrs, web
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from callrouter.api import encodings
from callrouter.api.errors import ApiError, Problem, invalid

MAX_BODY_BYTES = 16 * 1024  # the largest valid body (a follow-up) is far below this
ABANDONED_WINDOW = timedelta(days=1)
# One line of text a person wrote (a reason, a name): no control characters, so it
# can be logged, stored and shown as it is.
ONE_LINE = r"^[^\x00-\x1f\x7f]+$"
CallbackStateName = Literal["pending", "dialling", "completed", "failed", "cancelled"]
# RFC 3339 with seconds and a zone, in years a person may mean (and PostgreSQL
# holds in any zone): the description's pattern and the check are one.
TIME_PATTERN = (
    r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
TIME_EXAMPLE = "2026-01-31T08:00:00+03:00"
LATEST = datetime.max.replace(tzinfo=UTC)
# The one rule across fields (JSON Schema cannot say it): the window's order.
UNTIL_BEFORE_SINCE = "must not be before since"
SINCE_AFTER_NOW = "must not be after until, which is now when not given"

Model = TypeVar("Model", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AgentCommandBody(Body):
    """login, logout and resume take no fields; the body may be left out."""


def _one_line(description: str, default: str | None = None, max_length: int = 200) -> Any:
    """A text field of one line, ``max_length`` at most (required when no default)."""
    return Field(
        default=... if default is None else default,
        min_length=1,
        max_length=max_length,
        pattern=ONE_LINE,
        description=f"{description}; no control characters",
    )


class PauseBody(Body):
    reason: str = _one_line("why the agent is paused (shown in GET /agents)", "admin")


def _whole_number(value: object) -> object:
    """JSON has one number type: 26.0 is the integer 26 (as JSON Schema says); 1.5, inf, NaN are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The bounds before the validator: it runs first, and the description keeps them.
Priority = Annotated[int, Field(ge=0, le=1000), BeforeValidator(_whole_number)]


class PriorityBody(Body):
    priority: Priority = Field(description="the caller's new priority; higher is served first")


def _rfc3339(value: object) -> object:
    if not isinstance(value, str) or not re.fullmatch(TIME_PATTERN, value):
        raise ValueError(f"must be a time with seconds and a zone, year 1970-9999, e.g. {TIME_EXAMPLE}")
    return value


def _in_utc(value: datetime) -> datetime:
    """The time in UTC; past the end of 9999 there, the end of 9999 (Python's last time).
    Years 1970-9999 as written, in any zone, are well inside what PostgreSQL holds."""
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC
        return LATEST


StorableTime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_in_utc),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": TIME_PATTERN, "examples": [TIME_EXAMPLE]}
    ),
]


class AbandonedQuery(BaseModel):
    """``GET /calls/abandoned``: RFC 3339 times with a zone; by default the last 24 hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    since: StorableTime | None = Field(
        default=None, description="from this time (inclusive); default: 24 hours before `until`"
    )
    until: StorableTime | None = Field(default=None, description="to this time (exclusive); default: now")

    @field_validator("until")
    @classmethod
    def _not_before_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if until is not None and since is not None and until < since:
            raise ValueError(UNTIL_BEFORE_SINCE)
        return until

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        until = self.until or now
        since = self.since or until - ABANDONED_WINDOW
        if since > until:  # only `since` given, and it is in the future
            raise ApiError(422, f"since: {SINCE_AFTER_NOW}", [Problem("since", "query", SINCE_AFTER_NOW)])
        return since, until


class CallbacksQuery(BaseModel):
    """``GET /callbacks``: the latest callbacks, by state."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    state: CallbackStateName | None = Field(default=None, description="only callbacks in this state")
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many, latest change first")


class FollowUpBody(Body):
    """``POST /callbacks``: a follow-up scheduled by hand; it joins the queue at ``at``."""

    number: str = _one_line("the number to call, in any format (read in the line's country)", max_length=40)
    line: str = _one_line("a configured line's name", max_length=100)
    topic: str = _one_line("a configured topic", max_length=100)
    language: str | None = Field(
        default=None, min_length=1, max_length=20, pattern=ONE_LINE, description="default: the line's"
    )
    at: StorableTime | None = Field(
        default=None,
        strict=False,  # strict, a union takes no string for a time; _rfc3339 takes nothing else
        description="when it joins the queue (a time gone by: now); default: now",
    )
    priority: Priority | None = Field(
        default=None, description="higher is served first; default: the topic's (or the line's, if higher)"
    )
    by: str = _one_line("who schedules it (an agent's id, an operator's name), recorded as made by", "admin")


class CancelBody(Body):
    reason: str = _one_line("why the callback is cancelled (recorded with it)", "admin")


# ---- results (api/results.py) -------------------------------------------------------------
MAX_RESULTS = 5000
RESULTS_BODY_BYTES = 4 * 1024 * 1024  # 5,000 results of about 800 bytes each
ResultStateName = Literal[
    "pending", "dialling", "delivered", "transferred", "verification_failed", "unreachable", "cancelled",
    "expired",
]  # fmt: skip
DAY_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# The one rule JSON Schema cannot say of a day: which days a month has (2026-02-31).
NOT_A_REAL_DAY = "not a real date or time"
RESULT_ITEM = (
    "one result: `external_id` (1-128 printable characters), `phone` (a national number is read in the"
    " line's country), `secret` (the digits the callee keys: a date of birth as DDMMYYYY or a PIN;"
    " `.`, `-`, `/` and spaces between them are dropped), `test_type` (1-64 printable characters),"
    " `result` (negative, positive or inconclusive), `line` (a configured line's name), `language`"
    " (optional: the line's), all strings. Checked one by one: a bad one is reported as `invalid`"
    " with its problems, the others go in."
)


class ResultsBody(Body):
    """``POST /results``: up to 5,000 results, each answered in its own report."""

    results: list[dict[str, Any]] = Field(
        max_length=MAX_RESULTS,
        description=RESULT_ITEM,
        json_schema_extra={
            "examples": [[{
                "external_id": "LAB-2026-000123", "phone": "+79161234567", "secret": "12.03.1980",
                "test_type": "PCR SARS-CoV-2", "result": "negative", "line": "clinic-central",
            }]],
        },
    )  # fmt: skip


DAY_OR_TIME = f"must be a day (2026-11-30) or a time with seconds and a zone, e.g. {TIME_EXAMPLE}"


def _real_day_or_time(value: str) -> str:
    day = re.fullmatch(DAY_PATTERN, value)
    if not day and not re.fullmatch(TIME_PATTERN, value):  # the form said in words, not as a pattern
        raise ValueError(DAY_OR_TIME)
    try:
        (date if day else datetime).fromisoformat(value)
    except ValueError:
        raise ValueError(NOT_A_REAL_DAY) from None
    return value


DayOrTime = Annotated[
    str,
    AfterValidator(_real_day_or_time),
    WithJsonSchema({"type": "string", "pattern": f"{DAY_PATTERN}|{TIME_PATTERN}"}),
]


def _moment(value: str | None, day_end: bool) -> datetime | None:
    """A time in UTC; a day is UTC's, from its start (or, ``day_end``, to its end)."""
    if value is None:
        return None
    if re.fullmatch(DAY_PATTERN, value):
        start = datetime.combine(date.fromisoformat(value), time(), UTC)
        if not day_end:
            return start
        # To the day's end: past 9999-12-31 there is no next day, so Python's last time.
        return start + timedelta(days=1) if start.date() < date.max else LATEST
    return _in_utc(datetime.fromisoformat(value))


class ResultsQuery(BaseModel):
    """``GET /results``: latest received first, ``limit`` at a time; ``next`` gives the page after."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    state: ResultStateName | None = Field(default=None, description="only results in this state")
    line: str | None = Field(default=None, min_length=1, max_length=100, pattern=ONE_LINE)
    from_: DayOrTime | None = Field(
        default=None, alias="from", description="received from (inclusive): a time, or a day (UTC)"
    )
    to: DayOrTime | None = Field(
        default=None, description="received before (exclusive): a time, or a day (UTC; that day included)"
    )
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many")
    after: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the external id the page before ended with (its `next`); 404 when there is none",
    )

    def window(self) -> tuple[datetime | None, datetime | None]:
        return _moment(self.from_, day_end=False), _moment(self.to, day_end=True)


class ResultCancelBody(Body):
    reason: str = _one_line("why the result is not to be phoned (recorded with it)", "admin")


async def read_body(request: web.Request, model: type[Model], limit: int = MAX_BODY_BYTES) -> Model:
    """The request's JSON body as ``model``, ``limit`` bytes at most; no body counts as ``{}``."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"body: larger than {limit} bytes")
    # Given on several header lines, it is one list (RFC 9110, 5.3): read whole.
    name = encodings.coding(", ".join(request.headers.getall(hdrs.CONTENT_ENCODING, [])) or None)
    if limit != request.client_max_size:  # the app's limit is the other routes' (413 beyond, too)
        request = request.clone(client_max_size=limit)
    try:
        raw = await request.read() if request.body_exists else b""
    except web.RequestPayloadError as exc:  # a body cut short, a broken chunked encoding
        raise ApiError(
            400, f"body: could not be read ({exc})", [Problem("body", "body", "unreadable")]
        ) from None
    raw = encodings.decoded(raw, name, limit)
    if not raw.strip():
        raw = b"{}"
    elif request.content_type != "application/json" or (request.charset or "utf-8").lower() != "utf-8":
        raise ApiError(415, "body: send application/json (UTF-8)", [Problem("body", "body", "not JSON")])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid(exc, "body") from None


def read_query(request: web.Request, model: type[Model]) -> Model:
    """The query string as ``model``; a parameter may be given once."""
    values: dict[str, Any] = {}
    for name in request.query:
        given = request.query.getall(name)
        if len(given) > 1:
            problem = Problem(name, "query", "given more than once")
            raise ApiError(422, f"{name}: {problem.message}", [problem])
        values[name] = given[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(exc, "query") from None
