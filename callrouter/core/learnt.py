"""Results of the core's pure functions worked out ahead of time, by another process.

A call's arrival works out three things from its channel and its caller's number
alone: the number in E.164 (``numbers.normalise``), the person behind it (a keyed
hash, ``RepeatRules.key_of``) and the call's id (``call_ids.call_id_for``). Each is a
pure function of its arguments, so one worked out elsewhere is the one it would
work out again. ``simulate`` knows a day's callers before the day starts and has
a second process work these out while the day runs (``simulate.ahead``); the
function looks here first. Nothing is kept here by the functions themselves: a
router that learns nothing (every router) finds nothing and works each out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MOST = 200_000  # entries a table keeps: one that would go past it forgets all it had first


class Learnt(Generic[K, V]):
    """One function's results by its arguments."""

    __slots__ = ("known", "most")

    def __init__(self, most: int = MOST) -> None:
        self.known: dict[K, V] = {}
        self.most = most

    def get(self, key: K) -> V | None:
        return self.known.get(key)

    def learn(self, found: Iterable[tuple[K, V]]) -> None:
        batch = dict(found)
        if len(self.known) + len(batch) > self.most:  # the newest kept, the rest forgotten at once
            self.known.clear()
        self.known.update(batch)

    def forget(self) -> None:
        self.known.clear()
