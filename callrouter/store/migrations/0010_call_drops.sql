-- An agent's phone that drops the call as it answers sends the caller back to their
-- place (core.board_centre._dropped): the call's agent, their answer and the outcome
-- are cleared then. A snapshot's facts are otherwise only added (postgres.UPSERT_CALL
-- keeps the first answer): a snapshot with more drops than the row replaces them.
ALTER TABLE calls ADD COLUMN drops integer NOT NULL DEFAULT 0;
