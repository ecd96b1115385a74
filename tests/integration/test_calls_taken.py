"""The calls each agent took since their log-in, as a restarted router reads them from
the real PostgreSQL (``Queries.calls_taken``, then the spool's later rows): answers
after the agent's last log-out, less the answers their phone dropped at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callrouter.core.records import ANSWERED, DROPPED_ROW, AgentStateRecord, Record
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import Queries
from callrouter.store.restore import calls_taken
from tests.integration.conftest import Cluster
from tests.integration.test_record_store import migrated

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def row(agent: str, minute: int, state: str, reason: str) -> AgentStateRecord:
    return AgentStateRecord(agent, T0 + timedelta(minutes=minute), state, reason)


def shift(agent: str, start: int, answers: int) -> list[AgentStateRecord]:
    """A log-in, then ``answers`` calls answered and wrapped up."""
    rows = [row(agent, start, "idle", "login")]
    for n in range(answers):
        at = start + 1 + 3 * n
        rows += [row(agent, at, "ringing", "offered"), row(agent, at + 1, "on_call", ANSWERED)]
        rows += [row(agent, at + 2, "wrap_up", "call ended")]
    return rows


async def test_calls_taken_since_each_agents_log_in(empty_db: str, cluster: Cluster) -> None:
    await (await migrated(empty_db, cluster)).close()
    yesterday = [*shift("agent1", -1000, 4), row("agent1", -900, "logged_out", "logout")]
    today = shift("agent1", 0, 3)
    dropped = [*shift("agent2", 0, 2), row("agent2", 20, "ringing", "offered")]
    dropped += [row("agent2", 21, "on_call", ANSWERED), row("agent2", 21, "paused", DROPPED_ROW)]
    # then their phone goes and comes back while paused: the pause's reason said again, twice
    dropped += [row("agent2", 22, "paused", DROPPED_ROW), row("agent2", 23, "paused", DROPPED_ROW)]
    resumed = [*shift("agent3", 0, 1), row("agent3", 30, "on_call", "resumed after a restart")]
    gone = [*shift("agent4", 0, 2), row("agent4", 40, "logged_out", "logout")]
    records: list[Record] = [*yesterday, *today, *dropped, *resumed, *gone]
    store = PgRecordStore(empty_db, cluster.password)
    assert await store.write(records) == []
    await store.close()
    queries = Queries(empty_db, cluster.password)
    try:
        agents = ["agent1", "agent2", "agent3", "agent4", "agent5"]  # agent5: no row
        counts = await queries.calls_taken(agents)
        # The spool holds what the last process could not write: agent3 answered once more.
        spooled: list[Record] = [resumed[-1], row("agent3", 35, "on_call", ANSWERED)]
        merged = await calls_taken(queries, spooled, agents)
        asked = await queries.calls_taken(["agent1"])
    finally:
        await queries.close()
    assert counts["agent1"] == (3, today[-1].at), "today's shift, not yesterday's"
    assert counts["agent2"][0] == 2, "the answer dropped at once is not counted"
    assert counts["agent3"][0] == 1, "a call resumed after a restart is no new call"
    assert counts["agent4"][0] == 0, "logged out"
    assert "agent5" not in counts, "no row: nothing to count from"
    assert asked == {"agent1": counts["agent1"]}, "only the agents asked"
    assert merged is not None
    assert merged["agent3"] == 2, "the spool's later answer counted once, its row already stored not again"
    assert merged["agent1"] == 3


async def test_each_agents_last_state_is_its_newest_row_of_the_agents_asked(
    empty_db: str, cluster: Cluster
) -> None:
    """By the (agent, at) index from each agent's newest end; two rows at one instant: the later
    written. An agent not asked (gone from the config) is not read."""
    await (await migrated(empty_db, cluster)).close()
    records: list[Record] = [
        *shift("agent1", 0, 2), row("agent1", 10, "paused", "lunch"),
        row("agent2", 0, "idle", "login"), row("agent2", 5, "on_call", ANSWERED),
        row("agent2", 5, "wrap_up", "call ended"),
        *shift("agent9", 0, 1),
    ]  # fmt: skip
    store = PgRecordStore(empty_db, cluster.password)
    assert await store.write(records) == []
    await store.close()
    queries = Queries(empty_db, cluster.password)
    try:
        last = await queries.last_agent_states(["agent1", "agent2", "agent3"])
    finally:
        await queries.close()
    assert {a: (r.state, r.reason, r.at) for a, r in last.items()} == {
        "agent1": ("paused", "lunch", T0 + timedelta(minutes=10)),
        "agent2": ("wrap_up", "call ended", T0 + timedelta(minutes=5)),
    }
