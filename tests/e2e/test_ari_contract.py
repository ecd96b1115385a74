"""The router's typed ARI models held against the models the installed Asterisk
ships (``/usr/share/asterisk/rest-api/*.json``): an Asterisk upgrade that
renames, retypes or drops a field the router reads fails here, not in a call."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel

from callrouter.ari import models
from devstack import rootfs

PLAIN = {str: "string", int: "int", bool: "boolean", datetime: "Date", AwareDatetime: "Date"}
# Swagger types that our Python type reads without loss.
COMPATIBLE = {"long": "int"}


@pytest.fixture(scope="module")
def asterisk_models() -> dict[str, dict[str, Any]]:
    api = rootfs.ensure_template() / "usr/share/asterisk/rest-api"
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(api).glob("*.json")):
        found.update(json.loads(path.read_text()).get("models", {}))
    assert "StasisStart" in found and "Channel" in found, f"no ARI models under {api}"
    return found


def swagger_type(annotation: Any) -> tuple[str, bool]:
    """Our annotation as Asterisk's type name, and whether it may be None."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        inner, _ = swagger_type(typing.get_args(annotation)[0])
        return f"List[{inner}]", optional
    if typing.get_origin(annotation) is typing.Literal:
        return "string", optional
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__, optional
    return PLAIN[annotation], optional


def own_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {name: field for name, field in model.model_fields.items()}


def asterisk_properties(name: str, catalogue: dict[str, dict[str, Any]]) -> dict[str, Any]:
    props = dict(catalogue[name]["properties"])
    if name in models.EVENT_TYPES:  # every event extends Event, which extends Message
        props.update(catalogue["Event"]["properties"])
        props.update(catalogue["Message"]["properties"])
    return props


MODELS = [
    models.Channel,
    models.CallerID,
    models.DialplanCEP,
    models.Playback,
    models.Application,
    models.Endpoint,
    *models.EVENT_TYPES.values(),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_model_matches_installed_asterisk(model: type[BaseModel], asterisk_models: dict[str, dict[str, Any]]):
    assert model.__name__ in asterisk_models, f"Asterisk has no model {model.__name__}"
    props = asterisk_properties(model.__name__, asterisk_models)
    for name, field in own_fields(model).items():
        assert name in props, f"{model.__name__}.{name} is not in Asterisk's model"
        ours, _ = swagger_type(field.annotation)
        theirs = COMPATIBLE.get(props[name]["type"], props[name]["type"])
        assert theirs == ours, f"{model.__name__}.{name}: Asterisk says {props[name]['type']}"
        if field.is_required():
            assert props[name].get("required") is True, f"{model.__name__}.{name} is optional in Asterisk"
        if props[name].get("required") is not True:
            assert not field.is_required(), f"{model.__name__}.{name} may be missing; ours requires it"


def test_event_filter_names_real_events(asterisk_models: dict[str, dict[str, Any]]):
    from callrouter.calls.reconcile import EVENT_FILTER

    for name in EVENT_FILTER:
        assert name in asterisk_models, f"{name} is not an event this Asterisk sends"
