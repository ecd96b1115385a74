"""Typed ARI resources and events: the fields the router reads, nothing more.

Field names follow Asterisk's own models (``/usr/share/asterisk/rest-api/``);
a test holds these models against the installed JSON, so an Asterisk upgrade
that changes a field fails a test instead of a call.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)


class AriModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CallerID(AriModel):
    name: str = ""
    number: str = ""


class DialplanCEP(AriModel):
    context: str
    exten: str
    priority: int
    app_name: str = ""
    app_data: str = ""


class Channel(AriModel):
    id: str
    name: str
    state: str
    caller: CallerID
    connected: CallerID
    dialplan: DialplanCEP
    creationtime: datetime
    language: str = "en"


class Bridge(AriModel):
    id: str
    channels: list[str]


class Playback(AriModel):
    id: str
    media_uri: str
    target_uri: str
    state: str


class Application(AriModel):
    name: str
    channel_ids: list[str]
    bridge_ids: list[str]
    endpoint_ids: list[str]
    device_names: list[str]


class Endpoint(AriModel):
    technology: str
    resource: str
    state: str | None = None  # online, offline, unknown
    channel_ids: list[str]


class Event(AriModel):
    type: str
    application: str
    timestamp: AwareDatetime
    asterisk_id: str | None = None


class StasisStart(Event):
    type: Literal["StasisStart"]
    args: list[str] = Field(default_factory=list)
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(Event):
    type: Literal["StasisEnd"]
    channel: Channel


class ChannelDtmfReceived(Event):
    type: Literal["ChannelDtmfReceived"]
    digit: str
    duration_ms: int
    channel: Channel


class PlaybackStarted(Event):
    type: Literal["PlaybackStarted"]
    playback: Playback


class PlaybackFinished(Event):
    type: Literal["PlaybackFinished"]
    playback: Playback


class ChannelStateChange(Event):
    type: Literal["ChannelStateChange"]
    channel: Channel


class ChannelHangupRequest(Event):
    type: Literal["ChannelHangupRequest"]
    channel: Channel
    cause: int | None = None
    soft: bool | None = None


class ChannelDestroyed(Event):
    type: Literal["ChannelDestroyed"]
    channel: Channel
    cause: int
    cause_txt: str


class ApplicationReplaced(Event):
    type: Literal["ApplicationReplaced"]


class EndpointStateChange(Event):
    type: Literal["EndpointStateChange"]
    endpoint: Endpoint


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        StasisStart,
        StasisEnd,
        ChannelDtmfReceived,
        PlaybackStarted,
        PlaybackFinished,
        ChannelStateChange,
        ChannelHangupRequest,
        ChannelDestroyed,
        ApplicationReplaced,
        EndpointStateChange,
    )
}


class BadEvent(Exception):
    """An event the router cannot read; it is logged and skipped."""


def parse_event(raw: str | bytes) -> Event | None:
    """Parse one WebSocket message. ``None`` for a well-formed event of a type
    the router does not use; ``BadEvent`` for anything malformed."""
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadEvent(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise BadEvent("no event type")
    model = EVENT_TYPES.get(data["type"])
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadEvent(f"{data['type']}: {where}: {first['msg']}") from None
