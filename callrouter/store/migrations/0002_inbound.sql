-- The inbound flow: what the caller chose, the queue, the agent; the call's
-- timeline; agents' state changes. Durations stay derived (call_durations).
ALTER TABLE calls
    ADD COLUMN language          text,
    ADD COLUMN menu_path         text,
    ADD COLUMN topic             text,
    ADD COLUMN priority          integer,
    ADD COLUMN queued_at         timestamptz,
    ADD COLUMN agent             text,
    ADD COLUMN agent_answered_at timestamptz;

CREATE INDEX calls_outcome_started_at ON calls (outcome, started_at);

CREATE TABLE call_events (
    id       bigserial PRIMARY KEY,
    call_id  uuid        NOT NULL,
    node     text        NOT NULL,
    at       timestamptz NOT NULL,
    kind     text        NOT NULL,
    detail   text        NOT NULL DEFAULT '',
    UNIQUE (call_id, at, kind, detail)
);
CREATE INDEX call_events_call ON call_events (call_id, at);

CREATE TABLE agent_states (
    id      bigserial PRIMARY KEY,
    agent   text        NOT NULL,
    at      timestamptz NOT NULL,
    state   text        NOT NULL,
    reason  text        NOT NULL DEFAULT '',
    call_id uuid,
    UNIQUE (agent, at, state)
);
CREATE INDEX agent_states_agent_at ON agent_states (agent, at);

DROP VIEW call_durations;
CREATE VIEW call_durations AS
SELECT call_id,
       line,
       topic,
       agent,
       outcome,
       started_at,
       EXTRACT(EPOCH FROM (answered_at - started_at))        AS answer_seconds,
       EXTRACT(EPOCH FROM (agent_answered_at - queued_at))   AS wait_seconds,
       EXTRACT(EPOCH FROM (ended_at - agent_answered_at))    AS talk_seconds,
       EXTRACT(EPOCH FROM (ended_at - queued_at))            AS queued_seconds,
       EXTRACT(EPOCH FROM (ended_at - started_at))           AS duration_seconds
FROM calls;
