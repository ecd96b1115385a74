-- One row per call that reached the router. Durations are derived (see the
-- call_durations view), never stored twice. caller_number is E.164 or NULL
-- when the caller withheld it (caller_presentation says which).
CREATE TABLE calls (
    call_id             uuid PRIMARY KEY,
    node                text        NOT NULL,
    channel_id          text        NOT NULL,
    did                 text        NOT NULL,
    line                text,
    caller_number       text CHECK (caller_number ~ '^\+[1-9][0-9]{3,14}$'),
    caller_presentation text        NOT NULL CHECK (caller_presentation IN ('number', 'withheld', 'unparseable')),
    started_at          timestamptz NOT NULL,
    answered_at         timestamptz,
    ended_at            timestamptz,
    outcome             text,
    end_reason          text,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (node, channel_id)
);

CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_line_started_at ON calls (line, started_at);

CREATE VIEW call_durations AS
SELECT call_id,
       line,
       outcome,
       started_at,
       EXTRACT(EPOCH FROM (answered_at - started_at)) AS answer_seconds,
       EXTRACT(EPOCH FROM (ended_at - started_at))    AS duration_seconds
FROM calls;
