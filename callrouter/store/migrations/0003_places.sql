-- The queue's places, one row each, as last changed: a restarted router puts
-- the waiting places of its node back in the queue (after Asterisk says their
-- calls are still there). person is the caller's E.164 number, NULL when withheld.
CREATE TABLE places (
    place_id   text PRIMARY KEY,
    node       text        NOT NULL,
    person     text,
    topic      text        NOT NULL,
    priority   integer     NOT NULL,
    language   text        NOT NULL,
    line       text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    call_id    uuid,
    state      text        NOT NULL CHECK (state IN ('waiting', 'connected', 'left', 'overflowed')),
    updated_at timestamptz NOT NULL
);

-- What a router reads at start: the waiting places of its node.
CREATE INDEX places_waiting_node ON places (node, joined_at) WHERE state = 'waiting';
