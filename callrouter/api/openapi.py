"""The OpenAPI 3.1 description served at /openapi.json, built from the routes as
they are registered and from the pydantic models that validate them, so the
description and the checks cannot drift apart."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from callrouter import __version__
from callrouter.api.errors import Handler

REF = "#/components/schemas/{model}"
REASONS = {
    200: "done",
    400: "the body is not JSON (syntax, encoding, nesting)",
    401: "no valid `Authorization: Bearer` token",
    404: "no such agent, queue entry, open callback, result or route",
    409: "not possible now (the agent's state; a callback being dialled, already open, or callbacks off;"
    " a result being dialled or told already)",
    413: "the body is too large",
    415: "the body is not application/json in UTF-8",
    422: "a field is invalid; `problems` names it",
    503: "not ready (ARI down) or the database is unreachable",
}


class ProblemAnswer(BaseModel):
    field: str = Field(description="the field, e.g. `priority`; `body` for the body as a whole")
    in_: str = Field(alias="in", description="body, query or path")
    message: str


class ErrorAnswer(BaseModel):
    """Every answer but a success: ``error`` for people, ``problems`` per field."""

    error: str
    problems: list[ProblemAnswer] = []


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    statuses: tuple[int, ...] = ()
    secured: bool = True
    content_type: str = "application/json"
    answer: dict[str, Any] = dataclass_field(default_factory=lambda: {"type": "object"})


class Routes:
    """Registers routes on an app and remembers them for the description."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.operations: list[Operation] = []

    def add(self, operation: Operation, handler: Handler) -> None:
        self.app.router.add_route(operation.method, operation.path, handler)
        self.operations.append(operation)

    def describe(self) -> dict[str, Any]:
        return describe(self.operations)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        # An absent parameter is None: the query string has no null to send.
        options = [s for s in prop.get("anyOf", [prop]) if s.get("type") != "null"]
        value = dict(options[0]) if len(options) == 1 else {"anyOf": options}
        description = prop.get("description", "")
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": description,
                "schema": value,
            }
        )
    return out


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    responses: dict[str, Any] = {
        "200": {"description": REASONS[200], "content": {op.content_type: {"schema": op.answer}}}
    }
    statuses = set(op.statuses) | ({401} if op.secured else set())
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.query is not None:
        statuses |= {422}
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}}
    for status in sorted(statuses):
        responses[str(status)] = {"description": REASONS[status], "content": error}
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', op.path)}",
        "responses": responses,
        "security": [{"bearer": []}] if op.secured else [],
    }
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        body = {"schema": {"$ref": REF.format(model=op.body.__name__)}}
        # Without required fields, the body may be left out (it counts as {}).
        required = any(field.is_required() for field in op.body.model_fields.values())
        out["requestBody"] = {"required": required, "content": {"application/json": body}}
    return out


def describe(operations: list[Operation]) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorAnswer, *(op.body for op in operations if op.body is not None)}
    _, defs = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)], ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "callrouter admin API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
