"""The core's frozen dataclasses made and copied at a fraction of ``dataclasses``'
cost: ``quick_init`` (a class decorator) and ``evolve(obj, **changes)``.

Every step of every call makes about a hundred commands, events and records and
a few changed copies of a call, an agent or a queue entry.

``evolve`` is ``dataclasses.replace`` without it: ``replace`` re-runs
``__init__`` with every field for each copy (about 5 µs for a call). These
dataclasses have no init-only fields, and no ``__post_init__`` but one that
builds indexes (``Centre``'s, which its one changing method keeps itself), so a
copy of the instance's fields with the changes laid over is the same object,
made without ``__init__``. A name that is not a field is refused, as ``replace``
refuses it.

``quick_init`` gives a frozen dataclass an ``__init__`` with the same signature
and result as the one ``dataclass`` wrote, which sets each field through
``object.__setattr__`` looked up anew for every field (frozen's price: about
twice the cost of a plain class's). Instead, a class with ``__slots__`` has each
slot set by its own descriptor, found once; any other has its ``__dict__`` set
whole. Put above ``@dataclass(frozen=True)``; a class it cannot serve (not a
frozen dataclass, a ``__post_init__``, an init-only or keyword-only field) is
refused when it is defined (a class variable is no field, and welcome).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar, cast

T = TypeVar("T")
_new = object.__new__
_set = object.__setattr__  # past a frozen dataclass's own __setattr__


def evolve(obj: T, /, **changes: object) -> T:
    fields = obj.__dict__
    held = fields.copy()  # then updated: a third cheaper than {**fields, **changes}
    held.update(changes)
    if len(held) != len(fields):  # a name that is not a field added a key
        wrong = next(name for name in changes if name not in fields)
        raise TypeError(f"{type(obj).__name__} has no field {wrong!r}")
    new = _new(type(obj))
    _set(new, "__dict__", held)
    return new


class _Made:
    """The default of a field made by its ``default_factory`` (one a caller never passes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<made by its factory>"


_MADE = _Made()
_BY_POSITION_OR_NAME = inspect.Parameter.POSITIONAL_OR_KEYWORD


def quick_init(cls: type[T]) -> type[T]:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not params.init:
        raise TypeError(f"quick_init: {cls.__name__} is not a frozen dataclass with an __init__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init: {cls.__name__} has a __post_init__")
    fields = dataclasses.fields(cast(Any, cls))
    # Its own __init__ takes every field, in order, each by position or name, and nothing else.
    taken = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if [(p.name, p.kind) for p in taken] != [(f.name, _BY_POSITION_OR_NAME) for f in fields]:
        raise TypeError(f"quick_init: {cls.__name__} has an init-only, keyword-only or uninitialised field")
    names: dict[str, Any] = {"_set": _set, "_MADE": _MADE}
    params_text: list[str] = []
    values: list[tuple[str, str]] = []
    for i, f in enumerate(fields):
        value = f.name
        if f.default is not dataclasses.MISSING:
            names[f"_d{i}"] = f.default
            params_text.append(f"{f.name}=_d{i}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_f{i}"] = f.default_factory
            params_text.append(f"{f.name}=_MADE")
            value = f"_f{i}() if {f.name} is _MADE else {f.name}"
        else:
            params_text.append(f.name)
        values.append((f.name, value))
    if "__slots__" in cls.__dict__:
        for i, (name, _) in enumerate(values):
            names[f"_s{i}"] = cls.__dict__[name].__set__
        body = [f"_s{i}(self, {value})" for i, (_, value) in enumerate(values)] or ["pass"]
    else:
        body = ["_set(self, '__dict__', {" + ", ".join(f"{name!r}: {value}" for name, value in values) + "})"]
    source = f"def __init__(self, {', '.join(params_text)}):\n" + "".join(f"    {line}\n" for line in body)
    exec(source, names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    init.__doc__ = cls.__init__.__doc__
    type.__setattr__(cls, "__init__", init)
    return cls
