-- Repeat callers and callbacks. A call says which earlier call of the same
-- person it follows up, and how it was recognised. people holds what the
-- switchboard remembers of each person (a whole snapshot, the latest wins);
-- callbacks, each callback as last changed, plus a lease a router takes before
-- dialling it (the record writer never touches the lease). A person is known
-- by a keyed hash of their number, here and from now on in places.person too.
ALTER TABLE calls
    ADD COLUMN repeat_of   uuid,
    ADD COLUMN repeat_kind text CHECK (repeat_kind IN ('already_waiting', 'resumed', 'recent_contact',
                                                       'callback_pending'));

-- The abandoned-callers list leaves out a call that a later one followed up.
CREATE INDEX calls_repeat_of ON calls (repeat_of) WHERE repeat_of IS NOT NULL;

CREATE OR REPLACE VIEW call_durations AS
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
       EXTRACT(EPOCH FROM (ended_at - started_at))           AS duration_seconds,
       repeat_kind
FROM calls;

-- person is a keyed hash of the E.164 number (never the number: STYLE, Records).
-- A place given up by hanging up while waiting
-- (left_at ... left_call_id), and the last answered call (contact_*).
CREATE TABLE people (
    person          text PRIMARY KEY CHECK (person ~ '^[0-9a-f]{32}$'),
    updated_at      timestamptz NOT NULL,
    left_at         timestamptz,
    joined_at       timestamptz,
    topic           text,
    priority        integer,
    language        text,
    line            text,
    left_call_id    uuid,
    contact_at      timestamptz,
    contact_agent   text,
    contact_call_id uuid
);
-- What a router reads at start: the people still inside either window.
CREATE INDEX people_left_at ON people (left_at) WHERE left_at IS NOT NULL;
CREATE INDEX people_contact_at ON people (contact_at) WHERE contact_at IS NOT NULL;

-- number is the E.164 number to dial (needed to dial it); person the requesting
-- caller's keyed hash, if known. attempts: [{"at", "agent", "outcome"}, ...], oldest first.
CREATE TABLE callbacks (
    callback_id  uuid PRIMARY KEY,
    number       text        NOT NULL CHECK (number ~ '^\+[1-9][0-9]{3,14}$'),
    person       text CHECK (person ~ '^[0-9a-f]{32}$'),
    requested_at timestamptz NOT NULL,
    joined_at    timestamptz NOT NULL,
    topic        text        NOT NULL,
    line         text        NOT NULL,
    language     text        NOT NULL,
    priority     integer     NOT NULL,
    call_id      uuid,
    state        text        NOT NULL CHECK (state IN ('pending', 'dialling', 'completed', 'failed',
                                                       'cancelled')),
    attempts     jsonb       NOT NULL CHECK (jsonb_typeof(attempts) = 'array'),
    reason       text        NOT NULL,
    updated_at   timestamptz NOT NULL,
    leased_by    text,
    lease_until  timestamptz,
    CHECK ((leased_by IS NULL) = (lease_until IS NULL))
);

-- One open callback per number: a second is refused, however many routers run.
CREATE UNIQUE INDEX callbacks_one_open_per_number ON callbacks (number)
    WHERE state IN ('pending', 'dialling');
-- The due ones, in queue order (a standby router takes them by lease).
CREATE INDEX callbacks_pending_joined_at ON callbacks (joined_at) WHERE state = 'pending';
-- A number's last callback (the abandoned-callers list shows the failed ones).
CREATE INDEX callbacks_number_requested_at ON callbacks (number, requested_at);
-- The admin API's list, by state, latest change first.
CREATE INDEX callbacks_state_updated_at ON callbacks (state, updated_at);
