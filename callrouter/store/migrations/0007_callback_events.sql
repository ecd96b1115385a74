-- A callback's steps have a timeline of their own: callback_id names the callback,
-- call_id the call that asked for it. A follow-up made by hand (the admin API) was
-- asked for by no call, so its steps have no call_id; one of the two is always set.
ALTER TABLE call_events
    ALTER COLUMN call_id DROP NOT NULL,
    ADD COLUMN callback_id uuid,
    ADD CONSTRAINT call_events_call_or_callback CHECK (call_id IS NOT NULL OR callback_id IS NOT NULL);

-- The same step written twice (a replayed spool) is one row: the UNIQUE on
-- (call_id, at, kind, detail) never matches a NULL call_id, so a callback's own steps need this.
CREATE UNIQUE INDEX call_events_callback_step ON call_events (callback_id, at, kind, detail)
    WHERE call_id IS NULL;
-- A callback's timeline, as a call's is read (call_events_call).
CREATE INDEX call_events_callback ON call_events (callback_id, at) WHERE callback_id IS NOT NULL;
