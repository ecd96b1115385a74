"""What gets recorded about a call: one row per call, written as it progresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    GREETED = "greeted"  # the router played the greeting and ended the call
    CALLER_HANGUP = "caller_hangup"  # the caller left before the router was done
    NO_LINE = "no_line"  # the DID belongs to no line and there is no default line
    FAILED = "failed"  # Asterisk refused what the router asked, or the call vanished


@dataclass(frozen=True)
class CallRecord:
    """A snapshot of a call; later snapshots of one call_id complete earlier ones."""

    call_id: str
    node: str
    channel_id: str
    did: str
    line: str | None
    caller_number: str | None  # E.164, or None when withheld/unparseable
    caller_presentation: str
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    end_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "call"}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        fields = {k: v for k, v in data.items() if k != "kind"}
        for key in ("started_at", "answered_at", "ended_at"):
            if fields.get(key):
                fields[key] = datetime.fromisoformat(fields[key])
        if fields.get("outcome"):
            fields["outcome"] = Outcome(fields["outcome"])
        return cls(**fields)
