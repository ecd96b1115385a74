"""The shell's side of a callback's lease (calls.outbound): what the database
answered, told to the switchboard as one of taken, wait, or never (absent or
ended), a row not written yet never taken for a missing one."""

from __future__ import annotations

from callrouter.ari.client import AriClient
from callrouter.ari.fake import FakeAriClient
from callrouter.calls.outbound import Outbound, Route
from callrouter.core import switchboard as sb
from callrouter.store.leases import LeaseAnswer


class Leases:
    def __init__(self, answer: LeaseAnswer | Exception) -> None:
        self.answer = answer

    async def try_take(self, callback_id: str, holder: str, seconds: float) -> LeaseAnswer:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def told(answer: LeaseAnswer | Exception, unwritten: int = 0) -> sb.CallbackLeased:
    events: list[sb.Event] = []
    ari: AriClient = FakeAriClient()  # never used: no dialling here
    outbound = Outbound(
        ari, "callrouter", "router-a", Route(), Leases(answer), events.append, lambda: unwritten
    )
    await outbound.lease("cb-1")
    (event,) = events
    assert isinstance(event, sb.CallbackLeased)
    return event


async def test_each_answer_of_the_database_is_told_apart() -> None:
    assert await told(LeaseAnswer.TAKEN) == sb.CallbackLeased("cb-1", sb.Lease.TAKEN)
    assert await told(LeaseAnswer.HELD) == sb.CallbackLeased("cb-1", sb.Lease.WAIT)
    assert await told(OSError("connection refused")) == sb.CallbackLeased("cb-1", sb.Lease.WAIT)
    assert await told(LeaseAnswer.ABSENT) == sb.CallbackLeased("cb-1", sb.Lease.ABSENT)
    assert await told(LeaseAnswer.CLOSED) == sb.CallbackLeased("cb-1", sb.Lease.CLOSED)


async def test_a_missing_or_ended_row_is_no_verdict_while_records_wait_to_be_written() -> None:
    for answer in (LeaseAnswer.ABSENT, LeaseAnswer.CLOSED):
        assert await told(answer, unwritten=3) == sb.CallbackLeased("cb-1", sb.Lease.WAIT)


async def test_a_new_callbacks_row_on_its_way_is_waited_for_and_the_lease_asked_again() -> None:
    """POST /callbacks with an agent idle: the lease is asked before the writer has put
    the row in. Once written, it is asked again and taken (it was postponed 15 s)."""
    answers = [LeaseAnswer.ABSENT, LeaseAnswer.TAKEN]
    backlog = [1]

    class Writing:
        async def try_take(self, callback_id: str, holder: str, seconds: float) -> LeaseAnswer:
            answer = answers.pop(0)
            backlog[0] = 0  # the writer puts the row in meanwhile
            return answer

    events: list[sb.Event] = []
    outbound = Outbound(
        FakeAriClient(), "callrouter", "router-a", Route(), Writing(), events.append, lambda: backlog[0]
    )
    await outbound.lease("cb-1")
    assert events == [sb.CallbackLeased("cb-1", sb.Lease.TAKEN)] and answers == []
