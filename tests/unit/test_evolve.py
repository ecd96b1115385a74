"""``quick_init`` makes the same objects as ``dataclass``'s own ``__init__``, and
``evolve`` the same copies as ``dataclasses.replace``; both refuse what those refuse."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core.board_commands import Write
from callrouter.core.evolve import evolve, quick_init
from callrouter.core.records import CallEventRecord


def _pair(slots: bool) -> tuple[Any, Any]:
    """The same frozen dataclass twice: as ``dataclass`` writes it, and with ``quick_init``."""

    def make() -> Any:
        class Sample:
            name: str
            count: int = 0
            tags: tuple[str, ...] = ()
            seen: list[int] = field(default_factory=list)
            note: str | None = None

        return dataclass(frozen=True, slots=slots)(Sample)

    return make(), quick_init(make())


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


calls = st.tuples(
    st.text(max_size=3),
    st.fixed_dictionaries(
        {},
        optional={
            "count": st.integers(),
            "tags": st.tuples(st.text(max_size=2)),
            "seen": st.lists(st.integers(), max_size=2),
            "note": st.none() | st.text(max_size=2),
        },
    ),
    st.booleans(),  # the name given by keyword
)


@pytest.mark.parametrize("slots", [False, True])
@given(call=calls)
def test_quick_init_makes_what_the_dataclasss_own_init_makes(
    slots: bool, call: tuple[str, dict[str, Any], bool]
) -> None:
    plain, quick = _pair(slots)
    name, rest, by_keyword = call
    args, kwargs = ((), {"name": name, **rest}) if by_keyword else ((name,), rest)
    made, expected = quick(*args, **kwargs), plain(*args, **kwargs)
    assert _fields(made) == _fields(expected)
    assert made == quick(*args, **kwargs) and made != plain(*args, **kwargs)  # another class
    assert repr(made).split("(", 1)[1] == repr(expected).split("(", 1)[1]


@pytest.mark.parametrize("slots", [False, True])
def test_each_object_gets_its_own_default_from_a_factory_and_stays_frozen(slots: bool) -> None:
    _, quick = _pair(slots)
    first, second = quick("a"), quick("b")
    assert first.seen == [] and first.seen is not second.seen
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.count = 1
    assert hasattr(first, "__dict__") is not slots


@pytest.mark.parametrize("slots", [False, True])
def test_wrong_arguments_are_refused_as_the_dataclass_refuses_them(slots: bool) -> None:
    plain, quick = _pair(slots)
    wrong: list[tuple[tuple[object, ...], dict[str, Any]]] = [
        ((), {}),
        (("a", 1, (), [], None, "extra"), {}),
        (("a",), {"name": "b"}),
        (("a",), {"colour": 1}),
    ]
    for args, kwargs in wrong:
        with pytest.raises(TypeError):
            plain(*args, **kwargs)
        with pytest.raises(TypeError):
            quick(*args, **kwargs)
    assert list(inspect.signature(quick).parameters) == list(inspect.signature(plain).parameters)


def test_classes_it_cannot_serve_are_refused_when_defined() -> None:
    class NotADataclass:
        pass

    @dataclass
    class NotFrozen:
        a: int

    @dataclass(frozen=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class InitOnly:
        a: int
        b: InitVar[int]

    @dataclass(frozen=True)
    class Computed:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True, kw_only=True)
    class KeywordOnly:
        a: int

    for cls in (NotADataclass, NotFrozen, PostInit, InitOnly, Computed, KeywordOnly):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)

    @quick_init
    @dataclass(frozen=True)
    class WithClassVariable:
        a: int
        LIMIT: ClassVar[int] = 3

    assert WithClassVariable(1).a == 1 and WithClassVariable.LIMIT == 3


def test_the_cores_commands_and_records_are_made_by_it() -> None:
    record = CallEventRecord("call", "node", datetime(2026, 12, 2, tzinfo=UTC), "kind")
    write = Write(record)
    assert (write.record, write.urgent) == (record, False)
    assert Write.__init__.__qualname__ == "Write.__init__"
    assert "_set" in Write.__init__.__globals__


def test_evolve_copies_as_replace_does_and_refuses_an_unknown_field() -> None:
    _, quick = _pair(False)
    made = quick("a", 2, seen=[1])
    copy = evolve(made, count=3)
    assert copy == dataclasses.replace(made, count=3) and made.count == 2
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolve(made, colour=1)
