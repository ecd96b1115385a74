"""The config file validated table by table (``split``): each ``[section]``, the
menu and its options, every ``[topics.x]`` and ``[[lines]]`` item on its own, so
one bad key hides nothing beside it; a table with bad keys keeps its good ones
(as written) for the rules across keys (``config_checks``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from callrouter.config_centre import (
    DEFAULT_MENU,
    DEFAULT_TOPICS,
    NAME,
    AgentConfig,
    CallbackConfig,
    HoursConfig,
    MenuConfig,
    MenuOptionConfig,
    QueueConfig,
    RepeatConfig,
    TopicConfig,
)
from callrouter.config_checks import Item, Parts
from callrouter.config_errors import error_path, named_errors
from callrouter.config_router import Admin, Ari, Database, Line, Prompts, Router

SECTIONS: dict[str, type[BaseModel]] = {
    "router": Router,
    "ari": Ari,
    "database": Database,
    "admin": Admin,
    "prompts": Prompts,
    "queue": QueueConfig,
    "repeat": RepeatConfig,
    "callback": CallbackConfig,
}
TABLE: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
LIST: TypeAdapter[list[Any]] = TypeAdapter(list[Any])


def split(data: dict[str, Any], problems: list[str]) -> Parts:
    """Validate each table on its own, appending its problems: a bad key hides nothing beside it."""
    sections = {
        name: table_item(model, data.get(name, {}), (name,), problems) for name, model in SECTIONS.items()
    }
    menu = data.get("menu", DEFAULT_MENU)
    menu_item = table_item(MenuConfig, _without_options(menu), ("menu",), problems)
    options = (
        _options(menu.get("options", {}), ("menu", "options"), problems) if isinstance(menu, dict) else []
    )
    # Named as every reference to a topic must be: a table named otherwise could be none's.
    topics = _table(TopicConfig, data.get("topics", DEFAULT_TOPICS), "topics", problems, NAME)
    hours = _table(HoursConfig, data.get("hours", {}), "hours", problems)
    agents = _list(AgentConfig, data.get("agents", []), "agents", problems)
    lines = None
    if "lines" not in data:
        problems.append("lines: Field required")
    elif (lines := _list(Line, data["lines"], "lines", problems)) == []:
        problems.append("lines: List should have at least 1 item")
    return Parts(
        sections["router"],
        sections["prompts"],
        menu_item,
        options,
        topics,
        hours,
        agents or [],
        lines,
        sections["callback"],
    )


def _table(
    model: type[BaseModel], raw: Any, name: str, problems: list[str], names: str = ".*"
) -> dict[str, Item] | None:
    """``[topics.x]``-style tables, each named as ``names`` says; None when the section is
    no table (its names unknown)."""
    if not _shaped(TABLE, raw, (name,), problems):
        return None
    problems.extend(f"{name}.{key!r}: not a name ({names})" for key in raw if not re.fullmatch(names, key))
    return {key: table_item(model, value, (name, key), problems) for key, value in raw.items()}


def _list(model: type[BaseModel], raw: Any, name: str, problems: list[str]) -> list[Item] | None:
    """``[[lines]]``-style arrays of tables; None when the section is no array."""
    if not _shaped(LIST, raw, (name,), problems):
        return None
    return [table_item(model, value, (name, i), problems) for i, value in enumerate(raw)]


def _options(raw: Any, loc: tuple[str, ...], problems: list[str]) -> list[Item]:
    """Every option of a menu, submenus' options too, each with its key and its submenu."""
    if not _shaped(TABLE, raw, loc, problems):
        return []
    found: list[Item] = []
    for key, option in raw.items():
        submenu = option.get("options") if isinstance(option, dict) else None
        item = table_item(MenuOptionConfig, _without_options(option), (*loc, key), problems)
        values = {**item.values, "key": key, "options": submenu}
        if submenu is not None:
            children = _options(submenu, (*loc, key, "options"), problems)
            if not isinstance(submenu, dict):
                del values["options"]
            found.extend(children)
        found.append(Item(item.path, values))
    return found


def _without_options(table: Any) -> Any:
    """A menu's table without its options, which ``_options`` checks one by one."""
    return {k: v for k, v in table.items() if k != "options"} if isinstance(table, dict) else table


def _shaped(shape: TypeAdapter[Any], raw: Any, loc: tuple[str, ...], problems: list[str]) -> bool:
    try:
        shape.validate_python(raw)
    except ValidationError as exc:
        problems.extend(field_problems(exc, loc))
        return False
    return True


def table_item(model: type[BaseModel], raw: Any, loc: tuple[str | int, ...], problems: list[str]) -> Item:
    """One table validated: all its values, or, when some keys are bad, the good ones as written."""
    try:
        valid = model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(field_problems(exc, loc))
        if not isinstance(raw, dict):
            return Item(error_path(loc), {})
        bad = {err["loc"][0] for err in exc.errors() if err["loc"]}
        good = {
            name: raw[name] if name in raw else field.get_default(call_default_factory=True)
            for name, field in model.model_fields.items()
            if name not in bad and (name in raw or not field.is_required())
        }
        return Item(error_path(loc), good)
    return Item(error_path(loc), {name: getattr(valid, name) for name in model.model_fields})


def field_problems(exc: ValidationError, loc: tuple[str | int, ...]) -> list[str]:
    problems = []
    for err in named_errors(exc):
        path = (*loc, *err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{error_path(path)}: {message}" if path else message)
    return problems
