-- A results secret hashed under a pepper (CALLROUTER_RESULTS_PEPPER) is stored as
-- $callrouter-pepper$<8 hex digits naming the pepper> before its argon2 PHC string;
-- one hashed before a pepper was configured keeps its plain PHC string.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_secret_hash_check,
    ADD CONSTRAINT notifications_secret_hash_check
        CHECK (secret_hash LIKE '$argon2%' OR secret_hash ~ '^\$callrouter-pepper\$[0-9a-f]{8}\$argon2');
