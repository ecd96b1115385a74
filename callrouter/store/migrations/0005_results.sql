-- Results calls: lab results phoned to patients (issue 15). A notification is one
-- result to tell one patient, put in by the admin API or `callrouter results
-- import`; the router dials it inside its line's calling window, checks the
-- callee's secret, and only then tells the result. A router takes a
-- notification's lease (leased_by, lease_until; never the record writer's)
-- before dialling it. The secret is kept only as an argon2 hash (PHC string).
CREATE TABLE notifications (
    notification_id uuid PRIMARY KEY,
    external_id     text        NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 128),
    number          text        NOT NULL CHECK (number ~ '^\+[1-9][0-9]{3,14}$'),
    secret_hash     text        NOT NULL CHECK (secret_hash LIKE '$argon2%'),
    test_type       text        NOT NULL CHECK (length(test_type) BETWEEN 1 AND 64),
    result          text        NOT NULL CHECK (result IN ('negative', 'positive', 'inconclusive')),
    language        text        NOT NULL,
    line            text        NOT NULL,
    -- sha256 of what the result says (external id, number, test, result, language, line):
    -- the same result put in again is a duplicate, a changed one is refused.
    fingerprint     text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    received_at     timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    state           text        NOT NULL CHECK (state IN ('pending', 'dialling', 'delivered', 'transferred',
                                                          'verification_failed', 'unreachable', 'cancelled',
                                                          'expired')),
    -- [{"at", "outcome", "call_id"}, ...], oldest first
    attempts        jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(attempts) = 'array'),
    reason          text        NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL,
    leased_by       text,
    lease_until     timestamptz,
    -- The results call that told it during the attempt now being made (set with its
    -- audit row, cleared when a router takes it): a router that stopped mid-call is
    -- followed by one that knows it was told, and never tells it twice.
    disclosed_in    uuid,
    CHECK ((leased_by IS NULL) = (lease_until IS NULL))
);
-- What a router takes next: the due ones, oldest first.
CREATE INDEX notifications_due ON notifications (due_at) WHERE state = 'pending';
CREATE INDEX notifications_dialling ON notifications (lease_until) WHERE state = 'dialling';
-- The admin API's lists: by state, line and date.
CREATE INDEX notifications_state_received ON notifications (state, received_at);
CREATE INDEX notifications_line_received ON notifications (line, received_at);

-- One row per disclosure, committed before the result is played: which
-- notification, when, on which call, how the callee proved who they are, what was played.
CREATE TABLE notification_audit (
    id              bigserial PRIMARY KEY,
    notification_id uuid        NOT NULL REFERENCES notifications (notification_id),
    at              timestamptz NOT NULL,
    node            text        NOT NULL,
    call_id         uuid        NOT NULL,
    verified_by     text        NOT NULL,
    played          text        NOT NULL,
    UNIQUE (notification_id, call_id, at)
);
CREATE INDEX notification_audit_notification ON notification_audit (notification_id, at);

-- A results call is a call too (its timeline in call_events); inbound figures leave it out.
ALTER TABLE calls ADD COLUMN direction text NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'results'));
